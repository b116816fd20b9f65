// PassAtK: the two per-benchmark scores of the evaluation, computed from (samples, correct) counts per
// item. pass@k is the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained
// on Code", eq. 1, in its numerically stable product form); avg@k is the mean accuracy of the samples,
// which is what Qwen2.5-Eval reports for AIME24/AMC23/AIME25 with 8 samples (data/README.md §5: the
// paper's "pass@8" columns are avg@8). Not here: grading (VerityVerify) or sampling.
import Foundation

// MARK: - Estimators

/// Score estimators over per-item (samples, correct) counts.
public enum PassAtK {
    /// The unbiased pass@k of one item with `n` samples of which `c` are correct: 1 − C(n−c, k)/C(n, k)
    /// (Chen et al. 2021, eq. 1), computed as 1 − ∏_{i=n−c+1}^{n} (1 − k/i); nil when k is not in 1...n or c not in 0...n.
    public static func estimate(n: Int, correct c: Int, k: Int) -> Double? {
        guard n >= 1, k >= 1, k <= n, c >= 0, c <= n else { return nil }
        if n - c < k { return 1 }
        var product = 1.0
        for i in (n - c + 1)..<(n + 1) { product *= 1 - Double(k) / Double(i) }
        return 1 - product
    }

    /// pass@k averaged over items (each item's `n` may differ; items with n < k are skipped); nil when no item qualifies.
    public static func mean(_ counts: [(n: Int, correct: Int)], k: Int) -> Double? {
        let values = counts.compactMap { estimate(n: $0.n, correct: $0.correct, k: k) }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// avg@k: the mean over items of each item's share of correct samples (an unbiased estimate of avg@k for every k ≤ n);
    /// nil for no items.
    public static func average(_ counts: [(n: Int, correct: Int)]) -> Double? {
        let values = counts.filter { $0.n > 0 }.map { Double($0.correct) / Double($0.n) }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// The k reported by default for `n` samples per item: the powers of two below n, and n (1 → [1], 8 → [1, 2, 4, 8]).
    public static func defaultKs(samples n: Int) -> [Int] {
        guard n >= 1 else { return [] }
        var ks: [Int] = []
        var k = 1
        while k < n { ks.append(k); k *= 2 }
        ks.append(n)
        return ks
    }
}
