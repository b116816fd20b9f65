// The trainers' objective against Tests/Fixtures/rl-losses (float64 values computed after verl's
// core_algos with torch): `LossReport.compute` on the fixture's inputs runs the trainers' own code
// (fused head + per-token objective, advantages, GAE, value loss, AdamW, clipping); every output leaf
// must match within 1e-5 relative where the response mask is 1 (gradients: 1e-4 of their scale).
import Foundation
import XCTest
import VerityFixtures
import VerityJSON
@testable import VerityTraining

final class LossReferenceTests: XCTestCase {
    func load() throws -> (inputs: JSONValue, outputs: JSONValue) {
        let root = try JSONDecoder().decode(JSONValue.self, from: Fixtures.data("rl-losses/reference.json"))
        guard let i = root["inputs"], let o = root["outputs"] else { throw XCTSkip("fixture without inputs/outputs") }
        return (i, o)
    }

    /// Compares `mine` with `ref` leaf by leaf; [B, T] (and [B, T, V]) arrays only where the mask is 1. Returns leaves compared.
    func compare(_ mine: JSONValue?, _ ref: JSONValue, path: String, mask: [[Double]], worst: inout Double) -> Int {
        guard let mine else { XCTFail("\(path): missing from the report"); return 0 }
        switch ref {
        case .object(let o):
            return o.keys.sorted().reduce(0) {
                $0 + compare(mine[$1], o[$1] ?? .null, path: path + "." + $1, mask: mask, worst: &worst)
            }
        case .array(let items):
            guard case .array(let got) = mine, got.count == items.count else {
                XCTFail("\(path): shape differs"); return 0
            }
            var n = 0
            let isBT =
                items.count == mask.count && path.contains("grad_clip") == false && path.contains("adamw") == false
            for (i, (g, r)) in zip(got, items).enumerated() {
                if isBT, case .array(let rowRef) = r, case .array(let rowGot) = g, rowRef.count == mask[i].count {
                    for (t, (gt, rt)) in zip(rowGot, rowRef).enumerated() where mask[i][t] != 0 {
                        n += compare(gt, rt, path: "\(path)[\(i)][\(t)]", mask: mask, worst: &worst)
                    }
                } else {
                    n += compare(g, r, path: "\(path)[\(i)]", mask: mask, worst: &worst)
                }
            }
            return n
        case .string, .bool, .null:
            XCTAssertEqual(mine, ref, path)
            return 1
        default:
            guard let a = mine.doubleValue, let b = ref.doubleValue else { XCTFail("\(path): not a number"); return 0 }
            // KL terms and ppo_kl are differences of two log-probs of magnitude ~1, and the trainer's log-prob is float32
            // (ulp up to 2.4e-7 there): their error is absolute, within 2 ulps (5e-7), however small the difference. Everything else: 1e-5
            // relative; gradients 1e-4 of their scale (≈ 1e-2 here).
            let tol =
                path.contains("grad_logits")
                ? 1e-6 : (path.contains("kl") ? max(5e-7, 1e-5 * abs(b)) : 1e-5 * max(abs(b), 1e-3))
            let err = abs(a - b)
            worst = max(worst, err / max(abs(b), 1e-3))
            XCTAssertLessThanOrEqual(err, tol, "\(path): \(a) vs \(b)")
            return 1
        }
    }

    func testEveryOutputMatchesTheReference() throws {
        let (inputs, outputs) = try load()
        let mine = try LossReport.compute(inputs: inputs)
        guard case .array(let rows)? = inputs["response_mask"] else { return XCTFail("fixture without response_mask") }
        let mask = rows.map { r -> [Double] in
            if case .array(let x) = r { return x.compactMap(\.doubleValue) }; return []
        }
        var worst = 0.0
        let n = compare(mine, outputs, path: "outputs", mask: mask, worst: &worst)
        XCTAssertGreaterThan(n, 700, "leaves compared")
        print("LOSSES: \(n) output values compared with the rl-losses fixture, worst relative error \(worst)")
    }

    func testDualClipAndClipHigherChangeTheSurrogate() {
        // Independent arithmetic: A = −1, ratio e^(0.7) ≈ 2.01: clipped loss max(2.01, 1.2) = 2.01; dual clip 3 keeps it; c = 1.5
        // caps it at 1.5 with zero gradient.
        let logp = 0.7, old = 0.0
        let plain = PolicyLoss(clip: 0.2).token(logp: logp, old: old, advantage: -1)
        XCTAssertEqual(plain.loss, Foundation.exp(0.7), accuracy: 1e-12)
        XCTAssertEqual(plain.dLogprob, Foundation.exp(0.7), accuracy: 1e-12)
        let dual = PolicyLoss(clip: 0.2, dualClip: 1.5).token(logp: logp, old: old, advantage: -1)
        XCTAssertEqual(dual.loss, 1.5)
        XCTAssertEqual(dual.dLogprob, 0)
        XCTAssertTrue(dual.dualClipped)
        // A = +1, ratio 1.25: symmetric 0.2 clips (loss −1.2, no gradient); clip-higher 0.28 does not (loss −1.25).
        let up = Foundation.log(1.25)
        let sym = PolicyLoss(clip: 0.2).token(logp: up, old: 0, advantage: 1)
        XCTAssertEqual(sym.loss, -1.2, accuracy: 1e-12)
        XCTAssertEqual(sym.dLogprob, 0)
        let higher = PolicyLoss(clip: 0.2, clipHigh: 0.28).token(logp: up, old: 0, advantage: 1)
        XCTAssertEqual(higher.loss, -1.25, accuracy: 1e-12)
        XCTAssertEqual(higher.dLogprob, -1.25, accuracy: 1e-12)
    }

    func testReinforcePlusPlusReturnsAreDiscountedWithinEachResponse() {
        // Two rows, T = 3; row 0 has 3 tokens with reward 1 at the end, row 1 has 2 tokens with reward 2 at its end.
        let mask = TokenMatrix(rows: 2, columns: 3, values: [1, 1, 1, 1, 1, 0])
        let rewards = TokenMatrix(rows: 2, columns: 3, values: [0, 0, 1, 0, 2, 0])
        let a = Advantages.reinforcePlusPlus(rewards: rewards, mask: mask, gamma: 0.5)
        // Returns: row 0: 0.25, 0.5, 1; row 1: 1, 2 (padding 0). Whitened over the 5 real tokens, unbiased variance.
        let g = [0.25, 0.5, 1, 1, 2]
        let mean = g.reduce(0, +) / 5
        let sd = (g.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4 + 1e-8).squareRoot()
        let expect = [(0.25 - mean) / sd, (0.5 - mean) / sd, (1 - mean) / sd, (1 - mean) / sd, (2 - mean) / sd, 0]
        for (x, y) in zip(a.values, expect) { XCTAssertEqual(x, y, accuracy: 1e-9) }
    }
}
