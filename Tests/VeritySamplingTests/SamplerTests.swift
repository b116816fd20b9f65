// Sampler tests on small hand-made logits: the kept set and the sampling log-prob of temperature,
// top-k, top-p and min-p against a direct Double computation of transformers' warpers, draw
// frequencies against the target distribution, greedy ties, per-row generators, and the skinny
// product kernel against sgemm (and independent of the batch).
import Foundation
import XCTest
import VerityTensor
@testable import VeritySampling

final class SamplerTests: XCTestCase {
    let logits: [Float] = [2.0, 1.5, 0.3, -1.0, 1.5, 0.0, -3.0, 0.7, 2.2, -0.5]

    /// transformers' warpers in Double: temperature, top-k, top-p (drop tokens whose descending mass-before reaches p), min-p.
    func reference(_ p: SamplingParams) -> [Double] {
        let z = logits.map { Double($0) / Double(p.temperature) }
        let mx = z.max() ?? 0
        var w = z.map { Foundation.exp($0 - mx) }
        let order = w.indices.sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
        if p.topK > 0 { for i in order.dropFirst(p.topK) { w[i] = 0 } }
        if p.topP < 1 {
            let total = w.reduce(0, +)
            var acc = 0.0
            for (rank, i) in order.enumerated() {
                if acc >= Double(p.topP) * total && rank > 0 { w[i] = 0 } else { acc += w[i] }
            }
        }
        if p.minP > 0 {
            let top = w.max() ?? 0
            for i in w.indices where w[i] < Double(p.minP) * top { w[i] = 0 }
        }
        let s = w.reduce(0, +)
        return w.map { $0 / s }
    }

    func check(_ p: SamplingParams, draws: Int = 20000, file: StaticString = #filePath, line: UInt = #line) {
        let q = reference(p)
        var g = SeededGenerator(seed: 99)
        var counts = [Int](repeating: 0, count: logits.count)
        let lse = Foundation.log(logits.map { Foundation.exp(Double($0)) }.reduce(0, +))
        var worstQ = 0.0, worstP = 0.0
        logits.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for _ in 0..<draws {
                let d = p.draw(logits: base, vocab: logits.count, generator: &g)
                let t = Int(d.token)
                counts[t] += 1
                XCTAssertGreaterThan(q[t], 0, "drew a removed token \(t)", file: file, line: line)
                worstQ = max(worstQ, abs(Double(d.samplingLogprob) - Foundation.log(q[t])))
                worstP = max(worstP, abs(Double(d.logprob) - (Double(logits[t]) - lse)))
            }
        }
        XCTAssertLessThan(worstQ, 1e-5, "sampling log-prob", file: file, line: line)
        XCTAssertLessThan(worstP, 1e-5, "model log-prob", file: file, line: line)
        for i in q.indices {
            let f = Double(counts[i]) / Double(draws)
            XCTAssertEqual(
                f, q[i], accuracy: 4 * (q[i] * (1 - q[i]) / Double(draws)).squareRoot() + 1e-3, "token \(i)",
                file: file, line: line)
        }
    }

    func testTemperature() { check(SamplingParams(temperature: 0.7)) }
    func testTopK() { check(SamplingParams(temperature: 1, topK: 3)) }
    func testTopP() { check(SamplingParams(temperature: 1, topP: 0.8)) }
    func testMinP() { check(SamplingParams(temperature: 1.3, minP: 0.2)) }
    func testAllWarpers() { check(SamplingParams(temperature: 0.8, topK: 6, topP: 0.9, minP: 0.05)) }

    /// top-p at an exact boundary: 4 equal logits, p = 0.5. transformers removes the sorted-ascending tokens whose
    /// cumulative probability is <= 1 − p (0.25 and 0.5 are, exactly), so exactly 2 tokens stay, each with probability 1/2.
    /// Equal weights are exact (exp(0) = 1), so the cut cannot move by rounding.
    func testTopPKeepsExactlyTheBoundaryMass() {
        let flat: [Float] = [0.25, 0.25, 0.25, 0.25]
        for (topP, kept) in [(Float(0.5), 2), (0.25, 1), (0.75, 3), (0.5001, 3), (0.4999, 2)] {
            var g = SeededGenerator(seed: 5)
            var seen = Set<Int32>()
            flat.withUnsafeBufferPointer { buf in
                guard let base = buf.baseAddress else { return XCTFail("no buffer") }
                for _ in 0..<400 {
                    let d = SamplingParams(temperature: 1, topP: topP).draw(logits: base, vocab: 4, generator: &g)
                    seen.insert(d.token)
                    XCTAssertEqual(
                        Double(d.samplingLogprob), -Foundation.log(Double(kept)), accuracy: 1e-6, "top-p \(topP)")
                }
            }
            XCTAssertEqual(seen.count, kept, "top-p \(topP): tokens drawn \(seen.sorted())")
        }
    }

    func testWideVocabularyDrawsEqualTheScalarAlgorithm() throws {
        // A 1,003-token row (eight-wide blocks plus a tail): the draw must pick exactly what the one-exponential-at-a-time
        // algorithm (inverse CDF over exp((z − max)/T) summed in order in Double) picks, with the same sampling log-prob.
        var g = SeededGenerator(seed: 5)
        let z = (0..<1003).map { _ in Float(g.normal()) * 3 }
        let p = SamplingParams(temperature: 0.7)
        try z.withUnsafeBufferPointer { b in
            let base = try XCTUnwrap(b.baseAddress)
            for seed in UInt64(0)..<200 {
                var g1 = SeededGenerator(seed: seed), g2 = SeededGenerator(seed: seed)
                let d = p.draw(logits: base, vocab: z.count, generator: &g1)
                let mx = z.max() ?? 0, invT = 1 / p.temperature
                let u = Double(g2.next() >> 11) * 0x1p-53
                let w = z.map { Double(Kernels.exp1(($0 - mx) * invT)) }
                let total = w.reduce(0, +)
                var acc = 0.0, pick = z.count - 1
                for (j, x) in w.enumerated() { acc += x; if acc > u * total { pick = j; break } }
                XCTAssertEqual(Int(d.token), pick, "seed \(seed)")
                XCTAssertEqual(
                    d.samplingLogprob, Float(Double((z[pick] - mx) * invT) - Foundation.log(total)), "seed \(seed)")
            }
        }
    }

    func testGreedyTakesFirstArgmax() throws {
        var g = SeededGenerator(seed: 1)
        let z: [Float] = [0, 3, 1, 3]
        let d = try z.withUnsafeBufferPointer { b -> DrawnToken in
            let base = try XCTUnwrap(b.baseAddress)
            return SamplingParams.greedy.draw(logits: base, vocab: 4, generator: &g)
        }
        XCTAssertEqual(d.token, 1)
        XCTAssertEqual(d.samplingLogprob, 0)
        XCTAssertEqual(g.state, 1, "greedy draws nothing")
    }

    func testRowGeneratorsAreDistinctAndStable() {
        var a = rowGenerator(seed: 5, prompt: 0, sample: 1), b = rowGenerator(seed: 5, prompt: 1, sample: 0)
        var c = rowGenerator(seed: 6, prompt: 0, sample: 1)
        let a2 = rowGenerator(seed: 5, prompt: 0, sample: 1)
        XCTAssertEqual(a.state, a2.state)
        let x = a.next()
        XCTAssertNotEqual(x, b.next())
        XCTAssertNotEqual(x, c.next())
    }

    /// The specified operation order of the panel product: acc = 0; acc = fma(x[kk], w[kk], acc) for kk in order; + bias.
    static func fmaChain(_ x: UnsafePointer<Float>, _ w: (Int) -> Float, _ k: Int, _ bias: Float?) -> Float {
        var acc: Float = 0
        for kk in 0..<k { acc = acc.addingProduct(x[kk], w(kk)) }
        if let bias { acc = acc + bias }
        return acc
    }

    /// bfloat16 rounding written independently of the C packer: round to nearest, ties to even.
    static func bf16(_ f: Float) -> Float {
        let u = f.bitPattern
        let r = (u &+ 0x7fff &+ ((u >> 16) & 1)) & 0xffff_0000
        return Float(bitPattern: r)
    }

    func checkPanelProduct(format: WeightFormat, portable: Bool) {
        DecodeKernels.forcePortablePath(portable)
        defer { DecodeKernels.forcePortablePath(false) }
        var g = SeededGenerator(seed: 4)
        // k > 256 and not a multiple of it (K slices) nor of 8, n = 2 full panels + a partial one, m up to 70 (row
        // chunks of 64, the last one of 1-6 rows).
        let k = 300, n = 45, mMax = 70
        let x = Tensor.normal([mMax, k], generator: &g), w = Tensor.normal([n, k], generator: &g),
            b = Tensor.normal([n], generator: &g)
        let packed = PackedWeights(w.data, outputs: n, inner: k, format: format, threads: 2)
        XCTAssertEqual(packed.panels, 3)
        let wv = w.values, bv = b.values
        func stored(_ j: Int, _ kk: Int) -> Float { format == .float32 ? wv[j * k + kk] : Self.bf16(wv[j * k + kk]) }
        for j in [0, 17, 44] {
            for kk in [0, 150, 299] { XCTAssertEqual(packed.weight(output: j, inner: kk), stored(j, kk)) }
        }
        // The expected bits of every element, from the specified fma chain.
        var expect = [Float](repeating: 0, count: mMax * n)
        for i in 0..<mMax {
            for j in 0..<n { expect[i * n + j] = Self.fmaChain(x.data + i * k, { stored(j, $0) }, k, bv[j]) }
        }
        // The row-major matrix itself (float32, or its bfloat16 rounding), read in place: panels packed on the fly.
        let half = BF16Matrix(w.data, shape: [n, k])
        let rows =
            format == .float32
            ? WeightOperand(rows: w.data, outputs: n, inner: k)
            : WeightOperand(bf16Rows: half.bits, outputs: n, inner: k)
        for m in [1, 2, 3, 4, 6, 7, 8, 13, 14, 15, 16, 17, 64, 65, 66, 67, 70] {
            let out = Tensor(zeros: [m, n])
            DecodeKernels.matmul(x: x.data, rows: m, weight: packed, bias: b.data, out: out.data, threads: 2)
            XCTAssertEqual(out.values, Array(expect[0..<(m * n)]), "\(format) portable \(portable) m \(m)")
            let inPlace = Tensor(zeros: [m, n])
            DecodeKernels.matmul(x: x.data, rows: m, operand: rows, bias: b.data, out: inPlace.data, threads: 2)
            XCTAssertEqual(inPlace.values, out.values, "\(format) row-major portable \(portable) m \(m)")
            let inPlaceSplit = Tensor(zeros: [m, n])
            for r in [0..<2, 2..<3] {
                DecodeKernels.matmulPanels(
                    x: x.data, rows: m, operand: rows, panels: r, bias: b.data, out: inPlaceSplit.data)
            }
            XCTAssertEqual(inPlaceSplit.values, out.values, "\(format) row-major m \(m) split")
            // Any split over panels gives the same bits.
            let split = Tensor(zeros: [m, n])
            for r in [0..<1, 1..<3] {
                DecodeKernels.matmulPanels(x: x.data, rows: m, weight: packed, panels: r, bias: b.data, out: split.data)
            }
            XCTAssertEqual(split.values, out.values, "\(format) m \(m) split")
        }
        // Without bias: the bare chain.
        let nb = Tensor(zeros: [5, n])
        DecodeKernels.matmul(x: x.data + 3 * k, rows: 5, weight: packed, bias: nil, out: nb.data, threads: 1)
        for i in 0..<5 {
            for j in 0..<n {
                XCTAssertEqual(nb.values[i * n + j], Self.fmaChain(x.data + (3 + i) * k, { stored(j, $0) }, k, nil))
            }
        }
    }

    func testPanelProductFollowsTheFmaChainF32() { checkPanelProduct(format: .float32, portable: false) }
    func testPanelProductFollowsTheFmaChainBF16() { checkPanelProduct(format: .bfloat16, portable: false) }
    func testPortablePathFollowsTheFmaChain() {
        checkPanelProduct(format: .float32, portable: true)
        checkPanelProduct(format: .bfloat16, portable: true)
    }

    func testSwiGLUEqualsTheTrainersBitForBit() {
        var g = SeededGenerator(seed: 12)
        // Ordinary values, large magnitudes (the exp clamp), signed zeros, and a tail past the last 8-wide step.
        let count = 40_003
        let gate = Tensor.normal([count], std: 6, generator: &g), up = Tensor.normal([count], generator: &g)
        for (i, v) in [0, -0, 100, -100, 87.3, -87.3, 88.3, 95, -95, 1e-30].enumerated() { gate.data[i * 7] = Float(v) }
        gate.data[count - 1] = -90
        let expect = Tensor(zeros: [count])
        Kernels.swigluForward(gate: gate.data, up: up.data, out: expect.data, count: count)
        for portable in [false, true] {
            DecodeKernels.forcePortablePath(portable)
            defer { DecodeKernels.forcePortablePath(false) }
            let out = Tensor(zeros: [count])
            DecodeKernels.swiglu(gate: gate.data, up: up.data, out: out.data, count: count, threads: 2)
            XCTAssertEqual(out.values.map(\.bitPattern), expect.values.map(\.bitPattern), "portable \(portable)")
        }
    }

    func testRowLogSumExpAndArgmax() {
        var g = SeededGenerator(seed: 13)
        for n in [1, 7, 8, 9, 1_003, 151_936] {
            let z = Tensor.normal([n], std: 4, generator: &g)
            if n > 900 { z.data[n - 5] = 30; z.data[17] = 30 }  // a tie: the first index wins
            let mx = z.values.max() ?? 0
            let ref = Double(mx) + Foundation.log(z.values.reduce(0.0) { $0 + Foundation.exp(Double($1 - mx)) })
            var bits: [UInt32] = []
            for portable in [false, true] {
                DecodeKernels.forcePortablePath(portable)
                defer { DecodeKernels.forcePortablePath(false) }
                let lse = DecodeKernels.logSumExp(z.data, n)
                XCTAssertEqual(Double(lse), ref, accuracy: 2e-6 * max(1, abs(ref)), "n \(n) portable \(portable)")
                bits.append(lse.bitPattern)
                XCTAssertEqual(
                    DecodeKernels.argmax(z.data, n), z.values.firstIndex(of: mx), "n \(n) portable \(portable)")
            }
            XCTAssertEqual(bits[0], bits[1], "AVX2 and portable logsumexp differ at n \(n)")
        }
        let allMinusInf = [Float](repeating: -.infinity, count: 20)
        XCTAssertEqual(DecodeKernels.logSumExp(allMinusInf, 20), -.infinity)
        XCTAssertTrue(DecodeKernels.logSumExp([1, .nan, 2, 3, 4, 5, 6, 7, 8], 9).isNaN)
    }

    func testGroupedProductEqualsSeparateProducts() {
        var g = SeededGenerator(seed: 6)
        // k > 256 (two K slices of shared packed x); m from the few-row kernel to two row chunks (64 + 6) of packed x.
        let k = 300
        let x = Tensor.normal([70, k], generator: &g)
        let ws = [
            Tensor.normal([50, k], generator: &g), Tensor.normal([16, k], generator: &g),
            Tensor.normal([33, k], generator: &g),
        ]
        for format in WeightFormat.allCases {
            let packed = ws.map { PackedWeights($0.data, outputs: $0.shape[0], inner: k, format: format) }
            let workspace = DecodeWorkspace()
            for m in [3, 14, 70] {
                // Two threads taking one- or two-panel chunks of all three products from a shared counter, x packed once.
                let outs = ws.map { Tensor(zeros: [m, $0.shape[0]]) }
                DecodeKernels.matmulGroup(
                    x: x.data, rows: m, zip(packed, outs).map { .init(weight: $0.0, bias: nil, out: $0.1.data) },
                    threads: 2,
                    minPanelsPerTask: 1, workspace: workspace)
                for i in 0..<3 {
                    // Each product alone on this thread, x packed by the kernel itself.
                    let alone = Tensor(zeros: [m, ws[i].shape[0]])
                    DecodeKernels.matmulPanels(
                        x: x.data, rows: m, weight: packed[i], panels: 0..<packed[i].panels, bias: nil, out: alone.data)
                    XCTAssertEqual(
                        outs[i].values.map(\.bitPattern), alone.values.map(\.bitPattern),
                        "\(format) m \(m) product \(i)")
                    XCTAssertNotEqual(outs[i].values, [Float](repeating: 0, count: outs[i].count))
                }
            }
        }
    }

    func testChunkBoundsCoverThePanelsInShrinkingEvenChunks() {
        for (total, minChunk, tasks) in [(1, 1, 2), (7, 1, 2), (72, 2, 2), (9_496, 2, 2), (56, 2, 1), (100, 8, 4)] {
            let b = DecodeKernels.chunkBounds(total: total, minChunk: minChunk, tasks: tasks)
            XCTAssertEqual(b.first, 0)
            XCTAssertEqual(b.last, total)
            let sizes = zip(b.dropFirst(), b).map { $0 - $1 }
            XCTAssertTrue(sizes.allSatisfy { $0 > 0 && $0 <= 64 }, "\(total): \(sizes)")
            XCTAssertTrue(sizes.dropLast().allSatisfy { $0 % 2 == 0 && $0 >= minChunk }, "\(total): \(sizes)")
            XCTAssertEqual(sizes.dropLast(), sizes.dropLast().sorted(by: >)[...], "\(total): \(sizes)")
            if total >= 64 * 2 * tasks { XCTAssertEqual(sizes.first, 64) }
        }
    }

    /// Query/KV head ratios 4/2, 6/2 and 8/2 (and 2/2, 6/3): a head mapping that is right for one ratio only fails here.
    func testCachedAttentionMatchesReferenceAndIgnoresSpanSplits() {
        for (heads, kvHeads) in [(4, 2), (6, 2), (8, 2), (2, 2), (6, 3)] {
            checkCachedAttention(heads: heads, kvHeads: kvHeads)
        }
    }

    func checkCachedAttention(heads: Int, kvHeads: Int, file: StaticString = #filePath, line: UInt = #line) {
        var g = SeededGenerator(seed: 8)
        let d = 20, n = 13, kvd = kvHeads * d
        let q = Tensor.normal([1, heads * d], generator: &g), keys = Tensor.normal([n, kvd], generator: &g),
            vals = Tensor.normal([n, kvd], generator: &g)
        let label = "\(heads)/\(kvHeads) heads"
        func run(_ cuts: [Int], portable: Bool) -> [Float] {
            DecodeKernels.forcePortablePath(portable)
            defer { DecodeKernels.forcePortablePath(false) }
            let out = Tensor(zeros: [1, heads * d])
            let bounds = [0] + cuts + [n]
            let spans = zip(bounds, bounds.dropFirst()).map {
                DecodeKernels.Span(keys: keys.data + $0 * kvd, values: vals.data + $0 * kvd, count: $1 - $0)
            }
            DecodeKernels.cachedAttention(
                q: q.data, out: out.data, rows: 1, spans: spans, spanStart: [0, spans.count], heads: heads,
                kvHeads: kvHeads, headDim: d, maxKeys: n, threads: 2)
            return out.values
        }
        let whole = run([], portable: false)
        XCTAssertEqual(run([4, 9], portable: false), whole, label, file: file, line: line)
        XCTAssertEqual(run([1], portable: true), whole, label, file: file, line: line)
        // Double-precision softmax attention; query head h reads KV head ⌊h·KV/H⌋ (transformers' repeat_kv).
        var worst = 0.0
        for h in 0..<heads {
            let kvh = h * kvHeads / heads
            let s = (0..<n).map { j in
                (0..<d).reduce(0.0) { $0 + Double(q.values[h * d + $1]) * Double(keys.values[j * kvd + kvh * d + $1]) }
                    / Double(d).squareRoot()
            }
            let mx = s.max() ?? 0, e = s.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
            for c in 0..<d {
                let ref = (0..<n).reduce(0.0) { $0 + e[$1] / z * Double(vals.values[$1 * kvd + kvh * d + c]) }
                worst = max(worst, abs(Double(whole[h * d + c]) - ref))
            }
        }
        XCTAssertLessThan(worst, 1e-5, label, file: file, line: line)
    }

    func testPanelProductMatchesBLAS() {
        var g = SeededGenerator(seed: 5)
        let m = 9, k = 75, n = 45
        let x = Tensor.normal([m, k], generator: &g), w = Tensor.normal([n, k], generator: &g),
            b = Tensor.normal([n], generator: &g)
        let out = Tensor(zeros: [m, n]), ref = Tensor(zeros: [m, n])
        DecodeKernels.matmul(
            x: x.data, rows: m, weight: PackedWeights(w.data, outputs: n, inner: k, format: .float32), bias: b.data,
            out: out.data, threads: 2)
        for r in 0..<m { (ref.data + r * n).update(from: b.data, count: n) }
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: w.data, ldb: k, beta: 1, c: ref.data, ldc: n)
        XCTAssertLessThan(out.maxAbsDifference(ref), 1e-4)
    }

    func testGenerationConfigReadsEOSListOrInt() throws {
        XCTAssertEqual(
            try GenerationConfig.decode(Data(#"{"eos_token_id": [3, 4]}"#.utf8), file: "g").eosTokenIds, [3, 4])
        XCTAssertEqual(
            try GenerationConfig.decode(Data(#"{"eos_token_id": 7, "top_p": 0.8}"#.utf8), file: "g").eosTokenIds, [7])
        XCTAssertThrowsError(try GenerationConfig.decode(Data(#"{"eos_token_id": "x"}"#.utf8), file: "gen.json")) { e in
            XCTAssertTrue("\(e)".contains("gen.json"))
        }
    }
}
