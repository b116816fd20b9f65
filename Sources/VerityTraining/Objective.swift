// Objective: the RL trainers' loss as one sum of per-token terms, Σ_k coef_k · agg(term_k), with the
// coefficients set per step by the recipe's Lua loss mix (`pg`, `entropy`, `kl`, `sft`). Each term is
// a function of a token's current log-prob and entropy (LossTerms.swift) and aggregation is a
// per-token weight, so the whole objective is the closure that `Ops.tokenLoss` fuses with the output
// head (no logits recomputed). Metrics (clip fractions, PPO KL, entropy, KL to the reference, and the
// sampler/trainer mismatch) come from the same per-token functions. Not here: advantages.
import Foundation
import VerityTensor

/// The loss mix's coefficients for one step (a missing term weighs 0).
public struct LossCoefficients: Sendable, Equatable {
    /// Policy surrogate.
    public var pg: Double
    /// Mean entropy (negative to reward exploration, as the paper's −0.001).
    public var entropy: Double
    /// KL to the reference.
    public var kl: Double
    /// SFT negative log-likelihood.
    public var sft: Double

    /// Coefficients (all 0 unless given).
    public init(pg: Double = 0, entropy: Double = 0, kl: Double = 0, sft: Double = 0) {
        self.pg = pg
        self.entropy = entropy
        self.kl = kl
        self.sft = sft
    }
}

/// What the per-token objective needs of a batch of responses, flat over [B·T] rows as the forward lays them out.
public struct ObjectiveBatch: Sendable {
    /// Per-token advantage.
    public var advantages: [Double]
    /// Log-probs under the policy that sampled (the old policy of PPO).
    public var oldLogprobs: [Double]
    /// Log-probs under the reference policy (nil when no KL term is used).
    public var refLogprobs: [Double]?
    /// Aggregation weights (zero on padding and prompt tokens).
    public var weights: [Double]

    /// A batch of per-token inputs of one length.
    public init(advantages: [Double], oldLogprobs: [Double], refLogprobs: [Double]?, weights: [Double]) {
        precondition(
            advantages.count == weights.count && oldLogprobs.count == weights.count
                && (refLogprobs?.count ?? weights.count) == weights.count, "per-token inputs of one length")
        self.advantages = advantages
        self.oldLogprobs = oldLogprobs
        self.refLogprobs = refLogprobs
        self.weights = weights
    }
}

/// The trainers' objective: which surrogate, which KL estimator, how tokens aggregate.
public struct Objective: Sendable {
    /// The clipped surrogate.
    public var policy: PolicyLoss
    /// The KL estimator (used when the `kl` coefficient is non-zero).
    public var kl: KLEstimator
    /// How per-token terms aggregate.
    public var aggregation: Aggregation

    /// An objective.
    public init(policy: PolicyLoss = PolicyLoss(), kl: KLEstimator = .lowVarKL, aggregation: Aggregation = .tokenMean) {
        self.policy = policy
        self.kl = kl
        self.aggregation = aggregation
    }

    /// The per-token term for `Ops.tokenLoss`: row i's weighted Σ_k coef_k·term_k and its derivatives.
    public func tokenTerm(_ batch: ObjectiveBatch, _ c: LossCoefficients) -> Ops.TokenLossTerm {
        let policy = self.policy, kl = self.kl
        return { i, lp, ent in
            let w = batch.weights[i]
            guard w != 0 else { return (0, 0, 0) }
            let logp = Double(lp)
            var loss = 0.0, dlp = 0.0
            if c.pg != 0 {
                let t = policy.token(logp: logp, old: batch.oldLogprobs[i], advantage: batch.advantages[i])
                loss += c.pg * t.loss
                dlp += c.pg * t.dLogprob
            }
            if c.kl != 0, let ref = batch.refLogprobs {
                let k = kl.token(logp: logp, ref: ref[i])
                loss += c.kl * k.value
                dlp += c.kl * k.dLogprob
            }
            if c.sft != 0 {
                loss -= c.sft * logp
                dlp -= c.sft
            }
            loss += c.entropy * Double(ent)
            return (Float(w * loss), Float(w * dlp), Float(w * c.entropy))
        }
    }

    /// Metrics of one forward: the surrogate's clip fractions and PPO KL, mean entropy, KL to the reference, and how far the
    /// trainer's log-probs are from the sampler's (`oldLogprobs` of the first epoch): mean |Δ| and the share of tokens whose
    /// ratio exp(Δ) leaves [0.9, 1.1]. Means are over tokens with non-zero weight.
    public func metrics(_ batch: ObjectiveBatch, logprobs: [Float], entropy: [Float]) -> [String: Double] {
        var n = 0.0, clip = 0.0, clipLower = 0.0, ppoKL = 0.0, ent = 0.0, klSum = 0.0, mismatch = 0.0, outside = 0.0,
            pg = 0.0
        for i in batch.weights.indices where batch.weights[i] != 0 {
            let lp = Double(logprobs[i]), old = batch.oldLogprobs[i]
            let t = policy.token(logp: lp, old: old, advantage: batch.advantages[i])
            n += 1
            pg += t.loss
            if t.clipped { clip += 1 }
            if t.dualClipped { clipLower += 1 }
            ppoKL += old - lp
            ent += Double(entropy[i])
            if let ref = batch.refLogprobs { klSum += kl.token(logp: lp, ref: ref[i]).value }
            mismatch += abs(lp - old)
            let r = Foundation.exp(lp - old)
            if r < 0.9 || r > 1.1 { outside += 1 }
        }
        let d = max(n, 1)
        var m = [
            "pg_clipfrac": clip / d, "pg_clipfrac_lower": clipLower / d, "ppo_kl": ppoKL / d, "entropy": ent / d,
            "logprob_mismatch_mean_abs": mismatch / d, "ratio_outside_0.9_1.1": outside / d, "pg_loss": pg / d,
            "tokens": n,
        ]
        if batch.refLogprobs != nil { m["kl"] = klSum / d }
        return m
    }
}
