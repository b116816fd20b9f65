// The sampler reads the model's own weights (issue 23 item 2): the float32 engine keeps no copy, LoRA adapters are a
// low-rank side product, and a base frozen in bfloat16 (item 3) is read in place. Checked against the trainer's
// forward on the tiny-qwen2 fixture: log-probs within 1e-5, tokens independent of the batch; and the bfloat16 base
// computes exactly what a float32 model holding the bfloat16-rounded weights computes (forward and adapter gradients).
import Foundation
import XCTest
import VerityCore
import VerityFixtures
import VerityTensor
import VerityModel
@testable import VeritySampling

final class InPlaceWeightsTests: XCTestCase {
    /// The fixture with its layers' matrices frozen in bfloat16 (or rounded to bfloat16 in float32), and the same LoRA
    /// adapters on q, v and down with B drawn non-zero (so the side product matters).
    func adapted(bf16Base: Bool) throws -> TransformerModel {
        let dir = Fixtures.url("tiny-qwen2")
        let model = try TransformerModel.load(directory: dir, frozenMatricesInBF16: bf16Base)
        if !bf16Base {
            for p in model.layers {
                for i in p.matrices {
                    let v = model.store.variables[i].value
                    for e in 0..<v.count { v.data[e] = roundToBFloat16(v.data[e]) }
                }
            }
            model.store.bumpVersion()
        }
        var g = SeededGenerator(seed: 5)
        let ad = try LoRAAdapters.initialized(
            for: model, settings: LoRASettings(rank: 2, alpha: 4, targets: [.q, .v, .down]), generator: &g)
        for (_, pair) in ad.pairs.sorted(by: { $0.key < $1.key }) {
            let b = ad.store.variables[pair.b].value
            for e in 0..<b.count { b.data[e] = 0.05 * g.normal() }
        }
        model.attach(ad)
        return model
    }

    func testFloat32EngineKeepsNoCopy() throws {
        let engine = try RolloutEngine.load(directory: Fixtures.url("tiny-qwen2"))
        XCTAssertEqual(engine.weightCopyBytes, 0)
        XCTAssertGreaterThan(engine.packedWeightBytes, 0)
        var o = EngineOptions()
        o.weights = .bfloat16
        XCTAssertEqual(
            try RolloutEngine.load(directory: Fixtures.url("tiny-qwen2"), options: o).weightCopyBytes,
            engine.packedWeightBytes / 2)
    }

    func testBFloat16BaseEqualsTheRoundedFloat32Model() throws {
        let half = try adapted(bf16Base: true), full = try adapted(bf16Base: false)
        XCTAssertEqual(half.frozenBF16.count, half.layers.count * 7)
        XCTAssertEqual(half.frozenBF16Bytes, half.layers.flatMap(\.matrices).reduce(0) { $0 + half.store.variables[$1].value.count * 2 })
        let ids: [Int32] = [5, 17, 300, 42, 9, 77, 12, 1000, 3, 64]
        let targets = Array(ids.dropFirst()) + [8]
        var grads: [[Float]] = [], values: [[Float]] = []
        for m in [half, full] {
            m.zeroGrad()
            let h = try m.hiddenStates(ids: ids, batch: 1, trainable: true)
            let (lp, _) = m.tokenLogProbs(hidden: h, targets: targets, trainable: true)
            Ops.sum(lp).backward()
            values.append(lp.value.values)
            m.trainableStore.finalizeGradients()
            grads.append(m.trainableStore.gradients.values)
        }
        // The same float32 values through the same products: the same bits.
        XCTAssertEqual(values[0], values[1])
        XCTAssertEqual(grads[0], grads[1])
        XCTAssertTrue(grads[0].contains { $0 != 0 })
    }

    /// A bfloat16 reference (full fine-tuning, `reference.dtype = "bf16"`) against the float32 policy it was made from:
    /// log-probs move by the weights' rounding only, and the KL term at step 1 is of the order of their squared gap.
    func testBFloat16ReferenceMovesLogProbsByTheRoundingOnly() throws {
        let dir = Fixtures.url("tiny-qwen2")
        let policy = try TransformerModel.load(directory: dir)
        let loaded = try TransformerModel.load(directory: dir, frozenMatricesInBF16: true)
        let copied = try policy.frozenBF16Copy()
        XCTAssertEqual(copied.frozenBF16.count, policy.layers.count * 7)
        let ids: [Int32] = [5, 17, 300, 42, 9, 77, 12, 1000, 3, 64, 640, 2, 99, 401, 7, 33]
        let targets = Array(ids.dropFirst()) + [8]
        func logprobs(_ m: TransformerModel) throws -> [Float] {
            let h = try m.hiddenStates(ids: ids, batch: 1, trainable: false)
            return m.tokenLogProbs(hidden: h, targets: targets, trainable: false).logprobs.value.values
        }
        let p = try logprobs(policy), q = try logprobs(loaded)
        XCTAssertEqual(q, try logprobs(copied), "loading in bfloat16 and copying to bfloat16 agree")
        let gap = maxAbs(p, q)
        // low_var_kl = e^(q−p) − (q−p) − 1 ≈ (q−p)²/2 per token.
        let kl = zip(p, q).map { Double(exp($1 - $0) - ($1 - $0) - 1) }.reduce(0, +) / Double(p.count)
        print("bf16 reference vs float32 policy: max |Δ log-prob| \(gap), mean low_var_kl \(kl)")
        XCTAssertGreaterThan(gap, 1e-5, "the reference's matrices are rounded")
        XCTAssertLessThan(gap, 0.05)
        XCTAssertLessThan(kl, 1e-3)
    }

    func testSamplerWithAdaptersOnABFloat16BaseEqualsTheTrainer() throws {
        let model = try adapted(bf16Base: true)
        let prompts: [[Int32]] = [[5, 17, 300, 42], [9, 77, 12], [5, 17, 300, 42, 1000, 3]]
        let req = GenerationRequest(
            prompts: prompts, samplesPerPrompt: 4, maxNewTokens: 16, sampling: SamplingParams(temperature: 1), seed: 11)
        var outs: [[GeneratedSample]] = []
        for batch in [1, 5, 64] {
            var o = EngineOptions()
            o.maxBatch = batch
            o.threads = 2
            let engine = RolloutEngine(model: model, options: o)
            XCTAssertEqual(engine.weightCopyBytes, 0)
            outs.append(try engine.generate(req).samples)
        }
        // Tokens and log-probs do not depend on the batch.
        for o in outs.dropFirst() { XCTAssertEqual(o, outs[0]) }
        var worst: Float = 0
        for s in outs[0] {
            let seq = prompts[s.promptIndex] + s.tokens
            let h = try model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false)
            let (lp, _) = model.tokenLogProbs(hidden: h, targets: Array(seq.dropFirst()), trainable: false)
            worst = max(worst, maxAbs(s.logprobs, Array(lp.value.values.suffix(s.tokens.count))))
        }
        XCTAssertLessThan(worst, 1e-5, "sampler vs trainer log-probs with adapters on a bfloat16 base")
        // The adapters matter: switching them off changes the trainer's log-probs.
        let seq = prompts[0] + outs[0][0].tokens
        let on = try model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false)
        let off = try model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false, adapters: false)
        XCTAssertGreaterThan(maxAbs(on.value.values, off.value.values), 1e-4)
    }
}
