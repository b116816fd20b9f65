// A shared prefix in packed attention (issue 24, item 2): sequences that continue a prefix held once in their row see
// its keys besides their own. Against the unshared computation (each continuation as prefix + itself in a row of its
// own), outputs must be equal, and gradients too once the copies' gradients are summed into the one prefix: a GRPO
// group's prompt computed once gives the gradient of computing it n times. Also a finite-difference check.
import Foundation
import XCTest
@testable import VerityTensor

final class SharedPrefixAttentionTests: XCTestCase {
    /// One packed row: segments (length, index of the earlier segment it continues) after `pad` padding tokens.
    struct Row {
        var pad = 0
        var segments: [(length: Int, prefix: Int?)]
        var length: Int { pad + segments.reduce(0) { $0 + $1.length } }
    }

    /// Per-query segment starts and shared ranges of `rows` (each `t` long), as TokenBatch lays them out; also, per
    /// sequence as computed alone, the row-local indices it consists of and which of them carry its loss (a prefix's
    /// own queries count once, in its first continuation).
    func layout(_ rows: [Row], t: Int) -> (seg: [Int32], prefix: SharedPrefix, copies: [(row: Int, idx: [Int], own: [Bool])]) {
        var seg: [Int32] = [], ps: [Int32] = [], pe: [Int32] = []
        var copies: [(row: Int, idx: [Int], own: [Bool])] = []
        for (r, row) in rows.enumerated() {
            precondition(row.length == t)
            seg += (0..<row.pad).map { Int32($0) }
            ps += Array(repeating: 0, count: row.pad); pe += Array(repeating: 0, count: row.pad)
            var at = row.pad, starts: [Int] = [], continued = Set<Int>()
            for (i, s) in row.segments.enumerated() {
                starts.append(at)
                seg += Array(repeating: Int32(at), count: s.length)
                if let p = s.prefix {
                    ps += Array(repeating: Int32(starts[p]), count: s.length)
                    pe += Array(repeating: Int32(starts[p] + row.segments[p].length), count: s.length)
                    let prefixIdx = Array(starts[p]..<(starts[p] + row.segments[p].length))
                    let first = continued.insert(p).inserted
                    copies.append(
                        (r, prefixIdx + Array(at..<(at + s.length)),
                         Array(repeating: first, count: prefixIdx.count) + Array(repeating: true, count: s.length)))
                } else {
                    ps += Array(repeating: 0, count: s.length); pe += Array(repeating: 0, count: s.length)
                    if !row.segments.contains(where: { $0.prefix == i }) {
                        copies.append((r, Array(at..<(at + s.length)), Array(repeating: true, count: s.length)))
                    }
                }
                at += s.length
            }
        }
        return (seg, SharedPrefix(start: ps, end: pe), copies)
    }

    func gather(_ x: Tensor, rows: [Int], width: Int) -> Tensor {
        let out = Tensor(uninitialized: [rows.count, width])
        for (i, r) in rows.enumerated() { (out.data + i * width).update(from: x.data + r * width, count: width) }
        return out
    }

    func testSharedPrefixEqualsEachSequenceComputedAlone() {
        // Blocks of 64 queries that cross segment boundaries, a prefix longer than a block, two prefixes in one row, an
        // unshared sequence between them, a left-padded second row, and GQA.
        let rows = [
            Row(segments: [(70, nil), (30, 0), (80, 0), (20, nil), (10, nil), (5, 4), (7, 4)]),
            Row(pad: 22, segments: [(100, nil), (60, 0), (40, 0)]),
        ]
        let (h, g, d) = (4, 2, 8)
        let t = rows[0].length, b = rows.count
        let (seg, prefix, copies) = layout(rows, t: t)
        let sh = AttentionShape(batch: b, queries: t, heads: h, kvHeads: g, headDim: d)
        let q = randomTensor([b * t, h * d], seed: 70), k = randomTensor([b * t, g * d], seed: 71)
        let v = randomTensor([b * t, g * d], seed: 72), w = randomTensor([b * t, h * d], seed: 73)
        let (qv, kv, vv) = (Variable(q, requiresGrad: true), Variable(k, requiresGrad: true), Variable(v, requiresGrad: true))
        let out = Ops.attention(qv, kv, vv, shape: sh, keyStart: rows.map(\.pad), segmentStart: seg, prefix: prefix)
        out.backward(seed: w)

        var refOut = [Float](repeating: .nan, count: b * t * h * d)
        var refGrads = [[Float]](repeating: [], count: 3)
        refGrads[0] = Array(repeating: 0, count: q.count)
        refGrads[1] = Array(repeating: 0, count: k.count)
        refGrads[2] = Array(repeating: 0, count: v.count)
        for c in copies {
            let flat = c.idx.map { c.row * t + $0 }
            let one = AttentionShape(batch: 1, queries: flat.count, heads: h, kvHeads: g, headDim: d)
            let cq = Variable(gather(q, rows: flat, width: h * d), requiresGrad: true)
            let ck = Variable(gather(k, rows: flat, width: g * d), requiresGrad: true)
            let cv = Variable(gather(v, rows: flat, width: g * d), requiresGrad: true)
            let o = Ops.attention(cq, ck, cv, shape: one)
            let seed = gather(w, rows: flat, width: h * d)
            for (i, own) in c.own.enumerated() where !own { (seed.data + i * h * d).update(repeating: 0, count: h * d) }
            o.backward(seed: seed)
            for (i, f) in flat.enumerated() {
                for e in 0..<(h * d) where c.own[i] { refOut[f * h * d + e] = o.value.data[i * h * d + e] }
                for e in 0..<(h * d) { refGrads[0][f * h * d + e] += cq.grad!.data[i * h * d + e] }
                for e in 0..<(g * d) {
                    refGrads[1][f * g * d + e] += ck.grad!.data[i * g * d + e]
                    refGrads[2][f * g * d + e] += cv.grad!.data[i * g * d + e]
                }
            }
        }
        // Padding queries are not compared (they see no key and give 0).
        var worst: Float = 0, compared = 0
        for (i, r) in refOut.enumerated() where !r.isNaN {
            worst = max(worst, abs(out.value.data[i] - r)); compared += 1
        }
        XCTAssertEqual(compared, (b * t - rows.reduce(0) { $0 + $1.pad }) * h * d, "every real query compared")
        XCTAssertLessThanOrEqual(worst, 1e-5, "outputs")
        for (name, mine, theirs) in [("dq", qv.grad!.values, refGrads[0]), ("dk", kv.grad!.values, refGrads[1]), ("dv", vv.grad!.values, refGrads[2])] {
            let scale = theirs.map { abs($0) }.max() ?? 0
            let err = zip(mine, theirs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(scale, 0, name)
            XCTAssertLessThanOrEqual(err / scale, 1e-5, "\(name): the copies' gradients summed into the one prefix")
        }
    }

    func testSharedPrefixGradientsByFiniteDifferences() {
        let rows = [Row(segments: [(5, nil), (3, 0), (4, 0), (2, nil)])]
        let (h, g, d) = (2, 1, 4)
        let t = rows[0].length
        let (seg, prefix, _) = layout(rows, t: t)
        let sh = AttentionShape(batch: 1, queries: t, heads: h, kvHeads: g, headDim: d)
        gradientCheck(
            "attention shared prefix",
            inputs: [randomTensor([t, h * d], seed: 80), randomTensor([t, g * d], seed: 81), randomTensor([t, g * d], seed: 82)],
            samples: 40
        ) {
            Ops.attention($0[0], $0[1], $0[2], shape: sh, segmentStart: seg, prefix: prefix)
        }
    }
}
