// Parity with transformers on the tiny-qwen3 fixture (Tests/Fixtures/tiny-qwen3, made by its
// make_fixture.py): logits, next-token log-probs, recorded intermediates and every parameter
// gradient of Qwen3ForCausalLM (per-head q/k RMSNorm, no q/k/v bias, explicit head_dim 32 ≠ C/H,
// rms_norm_eps 1e-5, rope_theta 1e6), and the parameter counts of the real Qwen3-0.6B/1.7B configs.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

/// The parts of tiny-qwen3/reference.json these tests use.
struct Qwen3Reference: Decodable {
    struct Forward: Decodable {
        let length: Int
        let input_ids: [Int32]
        let logits_position_0: [Float]
        let logits_last_position: [Float]
        let next_token_logprobs: [Float]
    }
    struct Gradients: Decodable {
        let input_ids: [Int32]
        let loss: Float
        let grad_global_l2_norm: Double
    }
    let forward: [Forward]
    let gradients: Gradients
    let parameter_count: Int
    let real_config_parameter_counts: [String: Int]

    static func load() throws -> Qwen3Reference {
        try JSONDecoder().decode(Qwen3Reference.self, from: Fixtures.data("tiny-qwen3/reference.json"))
    }
}

final class Qwen3ParityTests: XCTestCase {
    let dir = Fixtures.url("tiny-qwen3")

    func testConfigAndParameterCounts() throws {
        let model = try TransformerModel.load(directory: dir)
        let c = model.config
        XCTAssertEqual(c.modelType, "qwen3")
        XCTAssertTrue(c.architecture == Qwen3Architecture.self)
        XCTAssertEqual(c.headDim, 32)
        XCTAssertEqual(c.rmsNormEps, 1e-5)
        XCTAssertEqual(c.ropeTheta, 1e6)
        XCTAssertFalse(c.attentionBias)
        XCTAssertNotNil(model.layers[0].qNorm)
        XCTAssertNil(model.layers[0].qBias)
        let ref = try Qwen3Reference.load()
        XCTAssertEqual(model.parameterCount, ref.parameter_count)
        XCTAssertEqual(ref.real_config_parameter_counts.count, 2)
        for (name, count) in ref.real_config_parameter_counts {
            let real = try ModelConfig.load(from: Fixtures.url("configs/\(name)/config.json"))
            XCTAssertEqual(real.parameterCount, count, name)
        }
    }

    func testForwardMatchesTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        let ref = try Qwen3Reference.load()
        var worstLogit: Float = 0, worstLP: Float = 0
        let v = model.config.vocabSize, c = model.config.hiddenSize
        for f in ref.forward {
            let h = try model.hiddenStates(ids: f.input_ids, batch: 1, trainable: false)
            let all = model.logits(hidden: h.value).values
            worstLogit = max(
                worstLogit, maxAbs(Array(all[0..<v]), f.logits_position_0),
                maxAbs(Array(all[(f.length - 1) * v..<(f.length * v)]), f.logits_last_position))
            if f.length > 1 {
                let rows = Tensor(shape: [f.length - 1, c], values: Array(h.value.values[0..<((f.length - 1) * c)]))
                let (lp, _) = model.tokenLogProbs(
                    hidden: Variable(rows), targets: Array(f.input_ids.dropFirst()), trainable: false)
                worstLP = max(worstLP, maxAbs(lp.value.values, f.next_token_logprobs))
            }
        }
        XCTAssertLessThanOrEqual(worstLogit, 1e-4)
        XCTAssertLessThanOrEqual(worstLP, 1e-4)
        print("PARITY qwen3: logits max abs err \(worstLogit), logprobs max abs err \(worstLP)")
    }

    func testActivationsMatchTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        let acts = try SafeTensorsFile(url: dir.appendingPathComponent("activations.safetensors"))
        let ids = (acts.metadata["input_ids"] ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(
            separator: ","
        )
        .compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        XCTAssertEqual(ids.count, 7)
        var got: [String: Tensor] = [:]
        let h = try model.hiddenStates(ids: ids, batch: 1, trainable: false) { name, t in got[name] = t.copy() }
        got["logits"] = model.logits(hidden: h.value)
        XCTAssertEqual(acts.entries.count, 3 + 3 * model.config.numHiddenLayers)
        var worst: Float = 0
        for name in acts.entries.keys.sorted() {
            guard let mine = got[name] else { XCTFail("no intermediate named \(name)"); continue }
            let err = mine.maxAbsDifference(try acts.tensor(name))
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, 1e-4, "activation \(name)")
        }
        print("PARITY qwen3 activations: max abs err \(worst) over \(acts.entries.count) tensors")
    }

    func testGradientsMatchTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        let grads = try SafeTensorsFile(url: dir.appendingPathComponent("grads.safetensors"))
        let ref = try Qwen3Reference.load()
        let loss = try lossAndBackward(model, ids: ref.gradients.input_ids)
        XCTAssertEqual(loss, ref.gradients.loss, accuracy: 1e-4)
        XCTAssertEqual(
            model.store.gradientNorm(), ref.gradients.grad_global_l2_norm,
            accuracy: 1e-4 * ref.gradients.grad_global_l2_norm)
        let worst = try assertGradients(model, match: grads, tol: 1e-4, label: "qwen3")
        print("PARITY qwen3 gradients: loss \(loss) vs \(ref.gradients.loss); worst max-abs-err/norm \(worst)")
    }
}
