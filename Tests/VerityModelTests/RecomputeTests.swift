// Activation recompute per layer (issue 23, item 5) on the fixture model: the loss's gradients with each layer
// recomputed in the backward equal those of the kept activations within float32 rounding, for full fine-tuning
// (every parameter) and under LoRA (the adapters; the frozen embedding makes layer 0's input untracked, so the
// recomputed layer must still reach the adapters), on packed rows with a shared prefix. Contract 3.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

final class RecomputeTests: XCTestCase {
    let prefix: [Int32] = [5, 17, 300, 41, 9, 77, 2]
    let tails: [[Int32]] = [[11, 12, 13], [400, 8], [3, 3, 3, 3, 90]]

    /// Gradients of Σ log p(next token) over a packed row (the prefix shared by three continuations).
    func gradients(_ m: TransformerModel, recompute: Bool) throws -> (logprobs: [Float], grads: [Float]) {
        let batch = try TokenBatch(packedRows: [[prefix] + tails], prefixOf: [[nil, 0, 0, 0]])
        m.recompute = recompute
        m.zeroGrad()
        let h = try m.hiddenStates(batch, trainable: true)
        let lp = m.tokenLogProbs(hidden: h, targets: batch.nextTokenTargets, trainable: true).logprobs
        Ops.sum(lp).backward()
        let store = m.trainableStore
        store.finalizeGradients()
        return (lp.value.values, store.gradients.values)
    }

    func assertSame(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = a.map { abs($0) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-6 * scale, "\(what): worst \(worst) against max \(scale)", file: file, line: line)
    }

    func testFullFineTuningGradientsEqualKeptActivations() throws {
        let m = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let kept = try gradients(m, recompute: false), again = try gradients(m, recompute: true)
        XCTAssertEqual(kept.logprobs, again.logprobs, "the forward is the same computation")
        assertSame(kept.grads, again.grads, "every parameter's gradient")
    }

    func testLoRAGradientsEqualKeptActivations() throws {
        let m = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        var g = SeededGenerator(seed: 9)
        let a = try LoRAAdapters.initialized(
            for: m, settings: LoRASettings(rank: 4, alpha: 8, targets: [.q, .v, .down]), generator: &g)
        for (_, pair) in a.pairs {
            let b = a.store.variables[pair.b].value
            for e in 0..<b.count { b.data[e] = 0.05 * g.normal() }
        }
        m.attach(a)
        let kept = try gradients(m, recompute: false), again = try gradients(m, recompute: true)
        XCTAssertEqual(kept.logprobs, again.logprobs)
        assertSame(kept.grads, again.grads, "the adapters' gradients")
        XCTAssertTrue(m.store.variables.allSatisfy { $0.grad == nil }, "the base stays without gradients")
    }
}
