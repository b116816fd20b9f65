// Sampler: turning one row of logits into a token. Greedy, temperature, top-k, top-p and min-p,
// applied in transformers' order (temperature, top-k, top-p, min-p: `LogitsProcessorList` of
// `GenerationMixin`), drawn with the row's own seeded generator, returning the token's log-prob
// under the unmodified model distribution (temperature 1, no truncation) and under the
// distribution actually sampled from. Each row's generator is seeded from (run seed, prompt index,
// sample index) alone, so its draws never depend on the batch. It is not a logits processor
// chain (no repetition penalties or grammars).
import Foundation
import VerityTensor

// MARK: - Parameters

/// How tokens are drawn from the logits.
public struct SamplingParams: Sendable, Equatable {
    /// Softmax temperature; 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens (0: off).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose mass reaches p (1: off).
    public var topP: Float
    /// Drop tokens whose probability is below minP × the top probability (0: off).
    public var minP: Float

    /// Parameters; the defaults sample the full distribution at temperature 1.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
    }

    /// Greedy decoding (argmax; the sampling log-prob of each token is 0).
    public static let greedy = SamplingParams(temperature: 0)

    /// Checks the ranges; the error names the offending parameter and value.
    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else {
            throw SamplingError.badParameter(name: "temperature", value: "\(temperature)", detail: "must be ≥ 0")
        }
        guard topK >= 0 else {
            throw SamplingError.badParameter(name: "top_k", value: "\(topK)", detail: "must be ≥ 0 (0 = off)")
        }
        guard topP > 0, topP <= 1 else {
            throw SamplingError.badParameter(name: "top_p", value: "\(topP)", detail: "must be in (0, 1]")
        }
        guard minP >= 0, minP <= 1 else {
            throw SamplingError.badParameter(name: "min_p", value: "\(minP)", detail: "must be in [0, 1]")
        }
    }

    /// Whether this draws the argmax.
    public var isGreedy: Bool { temperature == 0 || topK == 1 }
}

// MARK: - Per-row generators

/// The SplitMix64 mix (Steele, Lea, Flood 2014), used to derive independent seeds.
@inline(__always) func mix64(_ x: UInt64) -> UInt64 { SeededGenerator.mix(x) }

/// The generator of sample `sample` of prompt `prompt` in a run seeded `seed` (independent of batch and threads).
public func rowGenerator(seed: UInt64, prompt: Int, sample: Int) -> SeededGenerator {
    SeededGenerator(seed: mix64(mix64(mix64(seed) ^ UInt64(prompt)) ^ UInt64(sample)))
}

// MARK: - Drawing

/// A drawn token with its two log-probabilities.
public struct DrawnToken: Sendable, Equatable {
    /// The token id.
    public var token: Int32
    /// log p(token) under the model (temperature 1, no truncation).
    public var logprob: Float
    /// log q(token) under the distribution sampled from (0 for greedy).
    public var samplingLogprob: Float
}

extension SamplingParams {
    /// Draws one token from logits z [V] with `generator` (one uniform per non-greedy draw).
    public func draw(logits z: UnsafePointer<Float>, vocab v: Int, generator: inout SeededGenerator) -> DrawnToken {
        let lse = DecodeKernels.logSumExp(z, v)
        if isGreedy {
            let best = DecodeKernels.argmax(z, v)
            return DrawnToken(token: Int32(best), logprob: z[best] - lse, samplingLogprob: 0)
        }
        let invT = 1 / temperature
        var mx = -Float.infinity
        for j in 0..<v { mx = max(mx, z[j]) }
        let u = Double(generator.next() >> 11) * 0x1p-53
        // Unnormalised probabilities of the temperature-scaled logits: e_j = exp((z_j − max)/T).
        let truncated = (topK > 0 && topK < v) || topP < 1 || minP > 0
        if !truncated {
            var total = 0.0
            forEachScaledExp(z, v, max: mx, invT: invT) { _, e in
                total += Double(e); return true
            }
            let target = u * total
            var acc = 0.0, pick = v - 1
            forEachScaledExp(z, v, max: mx, invT: invT) { j, e in
                acc += Double(e)
                if acc > target { pick = j; return false }
                return true
            }
            let lq = Float(Double((z[pick] - mx) * invT) - Foundation.log(total))
            return DrawnToken(token: Int32(pick), logprob: z[pick] - lse, samplingLogprob: lq)
        }
        // Candidates: all tokens whose scaled weight could survive, sorted by weight (ties: lower id first).
        var total = 0.0
        forEachScaledExp(z, v, max: mx, invT: invT) { _, e in
            total += Double(e); return true
        }
        var cand: [(w: Double, id: Int)] = []
        if topK > 0 && topK < v {
            cand = topKIndices(z, v, topK).map { (Double(Kernels.exp1((z[$0] - mx) * invT)), $0) }
        } else {
            // Tokens below ε = (1 − topP)·total/(2V) hold under half of the mass top-p removes, so the cut lies above them;
            // min-p alone keeps only weights ≥ minP (the top weight is 1).
            var eps = topP < 1 ? (1 - Double(topP)) * total / Double(2 * v) : 0
            if minP > 0 { eps = max(eps, Double(minP) * 0.999_999) }
            forEachScaledExp(z, v, max: mx, invT: invT) { j, e in
                if Double(e) >= eps { cand.append((Double(e), j)) }
                return true
            }
        }
        cand.sort { $0.w != $1.w ? $0.w > $1.w : $0.id < $1.id }
        var kept = cand.count
        if topP < 1 {
            // transformers' TopPLogitsWarper: drop tokens whose mass-before (in descending order) already reaches topP.
            // The mass is the whole distribution's, or the top-k set's when top-k ran first (transformers renormalises after it).
            let mass = (topK > 0 && topK < v) ? cand.reduce(0.0) { $0 + $1.w } : total
            let limit = Double(topP) * mass
            var acc = 0.0
            for (i, c) in cand.enumerated() {
                if acc >= limit && i > 0 { kept = i; break }
                acc += c.w
            }
        }
        if minP > 0, let top = cand.first?.w {
            let floor = Double(minP) * top
            var i = 0
            while i < kept && cand[i].w >= floor { i += 1 }
            kept = max(1, i)
        }
        let keptMass = cand[0..<kept].reduce(0.0) { $0 + $1.w }
        let target = u * keptMass
        var acc = 0.0, pick = cand[kept - 1]
        for c in cand[0..<kept] {
            acc += c.w
            if acc > target { pick = c; break }
        }
        let lq = Float(Foundation.log(pick.w / keptMass))
        return DrawnToken(token: Int32(pick.id), logprob: z[pick.id] - lse, samplingLogprob: lq)
    }

    /// Calls `body(j, e_j)` for j = 0, 1, … in order with e_j = exp((z_j − max)·invT) until it returns false. The
    /// exponentials are taken eight at a time; `exp8` works lane by lane, so each e_j is the same float `exp1` gives and
    /// every sum over them (kept in order, in Double) is unchanged.
    @inline(__always)
    func forEachScaledExp(_ z: UnsafePointer<Float>, _ v: Int, max mx: Float, invT: Float, _ body: (Int, Float) -> Bool)
    {
        let m8 = V8(repeating: mx), t8 = V8(repeating: invT)
        var j = 0
        while j + 8 <= v {
            let e = Kernels.exp8((ld8(z + j) - m8) * t8)
            for l in 0..<8 { if !body(j + l, e[l]) { return } }
            j += 8
        }
        while j < v {
            if !body(j, Kernels.exp1((z[j] - mx) * invT)) { return }
            j += 1
        }
    }

    /// The indices of the k largest logits (ties: lower id first), via a bounded min-heap.
    func topKIndices(_ z: UnsafePointer<Float>, _ v: Int, _ k: Int) -> [Int] {
        // heap[0] is the worst kept element; "worse" = smaller logit, or equal logit with larger id.
        var heap: [Int] = []
        heap.reserveCapacity(k)
        @inline(__always) func worse(_ a: Int, _ b: Int) -> Bool { z[a] != z[b] ? z[a] < z[b] : a > b }
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for j in 0..<v {
            if heap.count < k {
                heap.append(j)
                var i = heap.count - 1
                while i > 0 {
                    let p = (i - 1) / 2
                    if worse(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break }
                }
            } else if worse(heap[0], j) {
                heap[0] = j
                siftDown(0)
            }
        }
        return heap
    }
}
