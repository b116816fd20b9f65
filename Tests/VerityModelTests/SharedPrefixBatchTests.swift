// Packed rows whose sequences continue a shared prefix (issue 24, item 2) on the fixture model (2 layers, 4 query
// heads on 2 KV heads): positions go on from the prefix, and each continuation's hidden states and next-token
// log-probs equal those of prefix + continuation computed alone; gradients of a loss over the continuations equal the
// sum over the unshared rows. Bad layouts fail with a message naming the sequence or token.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

final class SharedPrefixBatchTests: XCTestCase {
    let prefix: [Int32] = [5, 17, 300, 41, 9, 77, 2]
    let tails: [[Int32]] = [[11, 12, 13], [400, 8], [3, 3, 3, 3, 90]]
    let alone: [Int32] = [1000, 6, 7]

    func testLayoutPositionsAndRanges() throws {
        let b = try TokenBatch(packedRows: [[prefix] + tails + [alone]], prefixOf: [[nil, 0, 0, 0, nil]])
        let p = prefix.count
        XCTAssertEqual(b.length, p + 3 + 2 + 5 + 3)
        XCTAssertEqual(Array(b.positions[p..<(p + 3)]), [7, 8, 9], "a continuation's positions go on from the prefix")
        XCTAssertEqual(Array(b.positions[(p + 3)..<(p + 5)]), [7, 8])
        XCTAssertEqual(Array(b.positions.suffix(3)), [0, 1, 2], "an unshared sequence starts at 0")
        let shared = try XCTUnwrap(b.sharedPrefix)
        XCTAssertEqual(shared.start[p + 4], 0)
        XCTAssertEqual(shared.end[p + 4], Int32(p), "a continuation sees the prefix")
        XCTAssertEqual(shared.end[0], 0, "the prefix continues nothing")
        XCTAssertEqual(shared.end[b.length - 1], 0, "nor does an unshared sequence")
        XCTAssertEqual(b.segmentStart?[p + 4], Int32(p + 3))
        // Without a continuation the layout is the plain packed one.
        XCTAssertNil(try TokenBatch(packedRows: [[prefix, alone]], prefixOf: [[nil, nil]]).sharedPrefix)
    }

    func testContinuationsEqualEachSequenceAlone() throws {
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let packed = try TokenBatch(packedRows: [[prefix] + tails + [alone]], prefixOf: [[nil, 0, 0, 0, nil]])
        let seqs = tails.map { prefix + $0 } + [alone]
        let padded = try TokenBatch(sequences: seqs)
        let c = model.config.hiddenSize
        // A loss Σ w·h over the continuations' tokens and the unshared sequence (the prefix's own positions weigh 0),
        // with the same w at the same (sequence, token) in both layouts.
        let weights = (0..<seqs.count).map { s in
            (0..<(seqs[s].count * c)).map { i in Float(sin(Double(i) * 0.37 + Double(s))) }
        }
        func run(_ batch: TokenBatch, place: (Int, Int) -> Int?) throws -> (h: [Float], grads: [Float]) {
            model.zeroGrad()
            let h = try model.hiddenStates(batch, trainable: true)
            let seed = Tensor(zeros: h.shape)
            for (s, seq) in seqs.enumerated() {
                for t in 0..<seq.count {
                    guard let row = place(s, t) else { continue }
                    let own = s == tails.count || t >= prefix.count
                    guard own else { continue }
                    for e in 0..<c { seed.data[row * c + e] = weights[s][t * c + e] }
                }
            }
            h.backward(seed: seed)
            model.store.finalizeGradients()
            return (h.value.values, model.store.gradients.values)
        }
        // Where token t of sequence s sits: padded rows, or the packed row (a continuation's prompt tokens are the
        // prefix's).
        var starts: [Int] = [], at = prefix.count
        for tail in tails { starts.append(at); at += tail.count }
        starts.append(at)
        let packedPlace: (Int, Int) -> Int? = { s, t in
            if s == self.tails.count { return starts[s] + t }
            return t < self.prefix.count ? t : starts[s] + t - self.prefix.count
        }
        let mine = try run(packed, place: packedPlace)
        let theirs = try run(padded, place: { s, t in padded.flatIndex(row: s, token: t) })
        var worst: Float = 0
        for (s, seq) in seqs.enumerated() {
            for t in 0..<seq.count {
                let a = packedPlace(s, t)!, b = padded.flatIndex(row: s, token: t)
                for e in 0..<c { worst = max(worst, abs(mine.h[a * c + e] - theirs.h[b * c + e])) }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "hidden states")
        let scale = theirs.grads.map { abs($0) }.max() ?? 0
        let err = zip(mine.grads, theirs.grads).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThanOrEqual(err / scale, 1e-5, "gradients: the prefix's summed over its continuations")
    }

    func testBadLayoutsAreNamed() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(
            message { _ = try TokenBatch(packedRows: [[self.prefix, self.alone]], prefixOf: [[1, nil]]) }
                .contains("sequence 0 continues 1"))
        XCTAssertTrue(
            message { _ = try TokenBatch(packedRows: [[self.prefix, self.alone, self.alone]], prefixOf: [[nil, 0, 1]]) }
                .contains("sequence 2 continues 1"), "a chain of prefixes")
        XCTAssertTrue(
            message { _ = try TokenBatch(packedRows: [[self.prefix, self.alone]], prefixOf: [[nil]]) }
                .contains("prefixOf"))
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let ids: [Int32] = [5, 6, 7, 8]
        // Token 3 claims a prefix that ends after its own segment starts.
        let bad = SharedPrefix(start: [0, 0, 0, 0], end: [0, 0, 0, 3])
        XCTAssertTrue(
            message {
                _ = try model.hiddenStates(
                    ids: ids, batch: 1, segmentStart: [0, 0, 2, 2], prefix: bad, trainable: false)
            }.contains("row 0, token 3"))
        XCTAssertTrue(
            message { _ = try model.hiddenStates(ids: ids, batch: 1, prefix: bad, trainable: false) }
                .contains("segment starts"))
    }
}
