// GradientCheck: the central-difference check of an op's backward, public so that an op written in
// any module (a value head, a LoRA adapter) can be checked the way VerityTensor's own ops are. The
// loss is L = Σ wᵢ·outᵢ with fixed random weights; for sampled elements of each tracked input the
// analytic gradient is compared with (L(x+ε) − L(x−ε)) / 2ε, the loss summed in Double. It reports
// errors; asserting on them is the caller's (a test's) business.
import Foundation

/// Central-difference checks of analytic gradients.
public enum GradientCheck {
    /// The outcome for one tracked input.
    public struct Result: Sendable {
        /// The input's index.
        public var input: Int
        /// Whether a gradient reached the input at all.
        public var hasGradient: Bool
        /// The worst |numeric − analytic| over the sampled elements, relative to max(max |analytic|, 1e-3).
        public var worstRelativeError: Double
    }

    /// Checks `build`'s gradients for every tracked input (all by default) at `samples` elements each (all when fewer).
    public static func run(
        inputs: [Tensor], tracked: [Bool]? = nil, eps: Float = 1e-2, samples: Int = 24, seed: UInt64 = 7,
        build: ([Variable]) -> Variable
    ) -> [Result] {
        var g = SeededGenerator(seed: seed)
        let track = tracked ?? inputs.map { _ in true }
        precondition(track.count == inputs.count, "one tracked flag per input")
        let vars = zip(inputs, track).map { Variable($0.0, requiresGrad: $0.1) }
        let out = build(vars)
        let weights = (0..<out.value.count).map { _ in g.normal() }
        Ops.weightedSum(out, weights: weights).backward()
        func evalLoss() -> Double {
            let o = build(inputs.map { Variable($0) })
            var s = 0.0
            for i in 0..<o.value.count { s += Double(o.value.data[i]) * Double(weights[i]) }
            return s
        }
        var results: [Result] = []
        for (k, x) in inputs.enumerated() where track[k] {
            guard let grad = vars[k].grad else {
                results.append(Result(input: k, hasGradient: false, worstRelativeError: .infinity))
                continue
            }
            var gmax: Float = 0
            for i in 0..<grad.count { gmax = max(gmax, abs(grad.data[i])) }
            let scale = max(Double(gmax), 1e-3)
            var worst = 0.0
            for s in 0..<min(samples, x.count) {
                let i = x.count <= samples ? s : Int(g.next() % UInt64(x.count))
                let old = x.data[i]
                x.data[i] = old + eps
                let lp = evalLoss()
                x.data[i] = old - eps
                let lm = evalLoss()
                x.data[i] = old
                let num = (lp - lm) / (2 * Double(eps))
                worst = max(worst, abs(num - Double(grad.data[i])) / scale)
            }
            results.append(Result(input: k, hasGradient: true, worstRelativeError: worst))
        }
        return results
    }
}
