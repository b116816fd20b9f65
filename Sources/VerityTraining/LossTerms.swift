// LossTerms: the per-token loss terms of the RL trainers, each a function of one token's current
// log-prob (and entropy) returning its value and derivative, so that the whole objective is one sum
// of per-token terms that `Ops.tokenLoss` fuses with the output head. Terms: the clipped policy
// surrogate with separate low/high clip ranges (DAPO's clip-higher) and optional dual clip, entropy,
// KL to a reference by k1 / abs / mse (k2) / low_var_kl (k3), the clipped value loss, and SFT NLL.
// Aggregation modes turn a masked [B, T] matrix into a scalar as verl's `agg_loss` does; each mode is
// a per-token weight matrix, so aggregation commutes with the fused head. Formulas follow verl's
// core_algos.py (checked against Tests/Fixtures/rl-losses).
import Foundation
@_exported import enum VerityLua.KLEstimator

// MARK: - Aggregation

/// How a masked [B, T] per-token matrix X becomes the scalar loss (verl `loss_agg_mode`).
public enum Aggregation: String, Sendable, CaseIterable {
    /// Σ m·X / Σ m.
    case tokenMean = "token-mean"
    /// (1/B)·Σ_b Σ_t m·X.
    case seqMeanTokenSum = "seq-mean-token-sum"
    /// (1/B)·Σ_b (Σ_t m·X / Σ_t m).
    case seqMeanTokenMean = "seq-mean-token-mean"
    /// Σ m·X / T (T the padded response length; Dr. GRPO's constant normaliser).
    case seqMeanTokenSumNorm = "seq-mean-token-sum-norm"

    /// Weights w with aggregate(X) = Σ w·X for the mask m (zero where m is 0; rows without tokens weigh nothing).
    public func weights(mask: TokenMatrix, normalizer: Double? = nil) -> TokenMatrix {
        var w = TokenMatrix(rows: mask.rows, columns: mask.columns)
        let total = mask.values.reduce(0, +)
        for b in 0..<mask.rows {
            let rowTokens = mask.row(b).reduce(0, +)
            for t in 0..<mask.columns {
                let m = mask[b, t]
                guard m != 0 else { continue }
                switch self {
                case .tokenMean: w[b, t] = total > 0 ? m / total : 0
                case .seqMeanTokenSum: w[b, t] = m / Double(mask.rows)
                case .seqMeanTokenMean: w[b, t] = rowTokens > 0 ? m / (Double(mask.rows) * rowTokens) : 0
                case .seqMeanTokenSumNorm: w[b, t] = m / (normalizer ?? Double(mask.columns))
                }
            }
        }
        return w
    }

    /// Σ w·X for this mode's weights.
    public func aggregate(_ x: TokenMatrix, mask: TokenMatrix) -> Double {
        zip(weights(mask: mask).values, x.values).reduce(0) { $0 + $1.0 * $1.1 }
    }
}

// MARK: - Policy surrogate

/// The clipped policy-gradient surrogate (PPO; verl `compute_policy_loss`).
public struct PolicyLoss: Sendable, Equatable {
    /// Lower clip range ε_low: the ratio is clamped at 1 − ε_low.
    public var clipLow: Double = 0.2
    /// Upper clip range ε_high: the ratio is clamped at 1 + ε_high (DAPO's clip-higher uses ε_high > ε_low).
    public var clipHigh: Double = 0.2
    /// Dual-clip constant c (> 1): for A < 0 the loss is at most −A·c (Ye et al. 2020); nil turns it off.
    public var dualClip: Double? = nil

    /// A surrogate with symmetric clip range `clip` unless `clipHigh` is given.
    public init(clip: Double = 0.2, clipHigh: Double? = nil, dualClip: Double? = nil) {
        clipLow = clip
        self.clipHigh = clipHigh ?? clip
        self.dualClip = dualClip
    }

    /// One token: loss L and ∂L/∂logp, plus the parts the metrics report.
    public struct Token: Sendable, Equatable {
        /// exp(clamp(logp − old, −20, 20)).
        public var ratio: Double
        /// max(−A·r, −A·clamp(r)).
        public var lossWithoutDualClip: Double
        /// The loss (dual clip applied where active).
        public var loss: Double
        /// ∂loss/∂logp.
        public var dLogprob: Double
        /// Whether the clamped branch is the larger one (verl pg_clipfrac counts it).
        public var clipped: Bool
        /// Whether the dual clip bound is active (A < 0 and −A·c < the clipped loss).
        public var dualClipped: Bool
    }

    /// The surrogate at one token with current log-prob `logp`, rollout log-prob `old` and advantage `a`.
    public func token(logp: Double, old: Double, advantage a: Double) -> Token {
        let d = logp - old
        let inside = d > -20 && d < 20
        let r = Foundation.exp(min(max(d, -20), 20))
        let l1 = -a * r
        let rc = min(max(r, 1 - clipLow), 1 + clipHigh)
        let l2 = -a * rc
        let clipped = l2 > l1
        let lc = max(l1, l2)
        // ∂l1/∂logp = −A·r (0 outside the exp clamp); the clamped branch is constant in logp where the clamp binds.
        var grad = clipped ? (rc == r ? -a * r : 0) : (inside ? -a * r : 0)
        var loss = lc
        var dual = false
        if let c = dualClip, a < 0 {
            let bound = -a * c
            if bound < lc { loss = bound; grad = 0; dual = true }
        }
        return Token(ratio: r, lossWithoutDualClip: lc, loss: loss, dLogprob: grad, clipped: clipped, dualClipped: dual)
    }
}

// MARK: - KL to the reference

extension KLEstimator {
    /// The value and ∂/∂logp at one token (Schulman's k1/k2/k3; verl `kl_penalty`, low_var_kl clamping κ to ±20 and the
    /// value to ±10).
    public func token(logp: Double, ref: Double) -> (value: Double, dLogprob: Double) {
        let d = logp - ref
        switch self {
        case .k1: return (d, 1)
        case .abs: return (Swift.abs(d), d > 0 ? 1 : (d < 0 ? -1 : 0))
        case .mse, .k2: return (0.5 * d * d, d)
        case .lowVarKL, .k3:
            let kappaRaw = ref - logp
            let kappa = min(max(kappaRaw, -20), 20)
            let e = Foundation.exp(kappa)
            let raw = e - kappa - 1
            let v = min(max(raw, -10), 10)
            let inside = kappaRaw > -20 && kappaRaw < 20 && raw > -10 && raw < 10
            // ∂/∂logp of e^κ − κ − 1 with κ = ref − logp: −(e^κ − 1).
            return (v, inside ? -(e - 1) : 0)
        }
    }
}

// MARK: - Value loss

/// The clipped value loss (PPO critic; verl `compute_value_loss`): ½·max((v̂ − R)², (clamp(v̂, v−c, v+c) − R)²).
public struct ValueLoss: Sendable, Equatable {
    /// The clip range c around the rollout value.
    public var clip: Double = 0.5

    /// A value loss with clip range `clip`.
    public init(clip: Double = 0.5) { self.clip = clip }

    /// One token: the max of the two squared errors (before the ½ and the aggregation), ∂/∂v̂ of it, and whether the clipped
    /// error is the larger.
    public func token(prediction p: Double, rolloutValue v: Double, target r: Double) -> (
        loss: Double, dPrediction: Double, clipped: Bool
    ) {
        let pc = min(max(p, v - clip), v + clip)
        let e1 = (p - r) * (p - r), e2 = (pc - r) * (pc - r)
        if e2 > e1 { return (e2, pc == p ? 2 * (p - r) : 0, true) }
        return (e1, 2 * (p - r), false)
    }
}
