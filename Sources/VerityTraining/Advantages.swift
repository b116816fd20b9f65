// Advantages: the estimators of the trainers, on [B, T] response matrices with a 0/1 response mask
// (verl's core_algos conventions; numbers checked against Tests/Fixtures/rl-losses). Outcome
// estimators (GRPO, Dr.GRPO, RLOO) turn one score per sequence into a per-token advantage broadcast
// over the response, within groups given by an index per sequence; REINFORCE++ uses discounted
// returns, whitened over the batch; GAE uses a critic's values. Arrays are row-major [B·T], computed
// in Double. Not here: the loss terms (LossTerms.swift).
import Foundation

/// A [B, T] matrix of per-token values, row-major.
public struct TokenMatrix: Sendable, Equatable {
    /// Rows (sequences) B.
    public var rows: Int
    /// Columns (response positions) T.
    public var columns: Int
    /// Values [B·T].
    public var values: [Double]

    /// A matrix of `rows` × `columns` values.
    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "\(values.count) values for \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: value, count: rows * columns))
    }

    /// Element (b, t).
    public subscript(b: Int, t: Int) -> Double {
        get { values[b * columns + t] }
        set { values[b * columns + t] = newValue }
    }

    /// Row b as an array.
    public func row(_ b: Int) -> [Double] { Array(values[(b * columns)..<((b + 1) * columns)]) }
}

/// The outcome advantage estimators.
public enum OutcomeEstimator: String, Sendable, CaseIterable {
    /// (s − mean_G) / (std_G + ε), ε = 1e-6 by default, std unbiased (Shao et al. 2024; verl `grpo`).
    case grpo
    /// s − mean_G (Liu et al. 2025, Dr. GRPO: no division by the std).
    case drGRPO = "dr_grpo"
    /// s − mean of the other members of the group (Ahmadian et al. 2024, RLOO).
    case rloo
}

/// Advantage estimators.
public enum Advantages {
    /// Per-sequence outcome advantages: `scores[b]` in groups `group[b]` (sequences sharing a group id), broadcast over
    /// each row's response mask. A singleton group gets mean 0 and std 1 (GRPO), mean 0 (Dr.GRPO), itself (RLOO).
    public static func outcome(
        _ estimator: OutcomeEstimator, scores: [Double], group: [Int], mask: TokenMatrix,
        epsilon: Double = 1e-6
    ) -> TokenMatrix {
        precondition(scores.count == mask.rows && group.count == mask.rows, "one score and one group id per row")
        var members: [Int: [Int]] = [:]
        for (b, g) in group.enumerated() { members[g, default: []].append(b) }
        var a = [Double](repeating: 0, count: scores.count)
        for (_, idx) in members {
            let n = idx.count
            let s = idx.map { scores[$0] }
            let mean = n > 1 ? s.reduce(0, +) / Double(n) : 0
            switch estimator {
            case .grpo:
                let std = n > 1 ? (s.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot() : 1
                for b in idx { a[b] = (scores[b] - mean) / (std + epsilon) }
            case .drGRPO:
                for b in idx { a[b] = scores[b] - mean }
            case .rloo:
                for b in idx { a[b] = n > 1 ? Double(n) / Double(n - 1) * (scores[b] - mean) : scores[b] }
            }
        }
        var out = TokenMatrix(rows: mask.rows, columns: mask.columns)
        for b in 0..<mask.rows { for t in 0..<mask.columns { out[b, t] = a[b] * mask[b, t] } }
        return out
    }

    /// REINFORCE++ (Hu 2025; verl): returns G_t = r_t + γ·G_{t+1} accumulated within each response, whitened over the batch's
    /// real tokens, zero on padding.
    public static func reinforcePlusPlus(rewards: TokenMatrix, mask: TokenMatrix, gamma: Double) -> TokenMatrix {
        var returns = TokenMatrix(rows: rewards.rows, columns: rewards.columns)
        for b in 0..<rewards.rows {
            var running = 0.0
            for t in stride(from: rewards.columns - 1, through: 0, by: -1) {
                running = rewards[b, t] + gamma * running
                returns[b, t] = running
                running *= mask[b, t]
            }
        }
        var w = whiten(returns, mask: mask)
        for i in w.values.indices { w.values[i] *= mask.values[i] }
        return w
    }

    /// Generalised advantage estimation (Schulman et al. 2016; verl's masked scan): δ_t = r_t + γ·V_next − V_t,
    /// A_t = δ_t + γλ·A_next, carrying V_next and A_next across padding. Returns (whitened advantages, unwhitened, returns).
    public static func gae(rewards: TokenMatrix, values: TokenMatrix, mask: TokenMatrix, gamma: Double, lambda: Double)
        -> (advantages: TokenMatrix, unwhitened: TokenMatrix, returns: TokenMatrix)
    {
        var adv = TokenMatrix(rows: rewards.rows, columns: rewards.columns)
        for b in 0..<rewards.rows {
            var nextValue = 0.0, lastGAE = 0.0
            for t in stride(from: rewards.columns - 1, through: 0, by: -1) {
                let delta = rewards[b, t] + gamma * nextValue - values[b, t]
                let g = delta + gamma * lambda * lastGAE
                let m = mask[b, t]
                nextValue = m * values[b, t] + (1 - m) * nextValue
                lastGAE = m * g + (1 - m) * lastGAE
                adv[b, t] = lastGAE
            }
        }
        var returns = adv
        for i in returns.values.indices { returns.values[i] += values.values[i] }
        return (whiten(adv, mask: mask), adv, returns)
    }

    /// (x − ⟨x⟩) / sqrt(var + 1e-8) at every position, with the masked mean and the unbiased masked variance (verl masked_whiten).
    public static func whiten(_ x: TokenMatrix, mask: TokenMatrix) -> TokenMatrix {
        let n = mask.values.reduce(0, +)
        let mean = zip(x.values, mask.values).reduce(0) { $0 + $1.0 * $1.1 } / n
        var variance = zip(x.values, mask.values).reduce(0) { $0 + ($1.0 - mean) * ($1.0 - mean) * $1.1 } / n
        if n > 1 { variance *= n / (n - 1) }
        let scale = 1 / (variance + 1e-8).squareRoot()
        var out = x
        for i in out.values.indices { out.values[i] = (x.values[i] - mean) * scale }
        return out
    }
}
