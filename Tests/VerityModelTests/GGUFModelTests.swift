// A GGUF model read back as Hugging Face has it (issue 27): Tests/Fixtures/gguf/make_models.py wrote the tiny-qwen2
// fixture as llama.cpp's converter lays it out, once as qwen2 and once as llama (q and k permuted, no biases). The
// mapped names, shapes and values must be the fixture's own, bit for bit, and config.json's fields its config's.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityModel

final class GGUFModelTests: XCTestCase {
    func fixture() throws -> (weights: SafeTensorsCheckpoint, config: [String: Any]) {
        let dir = Fixtures.url("tiny-qwen2")
        let config = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as? [String: Any])
        return (try SafeTensorsCheckpoint(directory: dir), config)
    }

    func testQwen2TensorsAndConfigAreTheFixturesOwn() throws {
        let f = try GGUFFile(url: Fixtures.url("gguf").appendingPathComponent("tiny-qwen2.gguf"))
        let (weights, config) = try fixture()
        let tensors = try GGUFModel.tensors(f)
        XCTAssertEqual(Set(tensors.map(\.name)), Set(weights.names))
        for t in tensors {
            let want = try weights.tensor(t.name)
            XCTAssertEqual(t.shape, want.shape, t.name)
            XCTAssertEqual(t.values, want.values, t.name)
        }
        let c = try GGUFModel.config(f)
        for key in [
            "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "max_position_embeddings", "vocab_size",
        ] {
            XCTAssertEqual(c[key] as? Int, config[key] as? Int, key)
        }
        for key in ["rms_norm_eps", "rope_theta"] {
            XCTAssertEqual(try XCTUnwrap(c[key] as? Double), try XCTUnwrap(config[key] as? Double), accuracy: 1e-12, key)
        }
        XCTAssertEqual(c["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(c["model_type"] as? String, "qwen2")
    }

    func testQwen3HeadDimAndNormsComeBack() throws {
        let dir = Fixtures.url("tiny-qwen3")
        let f = try GGUFFile(url: Fixtures.url("gguf").appendingPathComponent("tiny-qwen3.gguf"))
        let weights = try SafeTensorsCheckpoint(directory: dir)
        let tensors = try GGUFModel.tensors(f)
        XCTAssertEqual(Set(tensors.map(\.name)), Set(weights.names))
        for t in tensors { XCTAssertEqual(t.values, try weights.tensor(t.name).values, t.name) }
        // The config.json it makes reads as the fixture's own: head_dim 32 with hidden 64 and 4 heads.
        let made = try ModelConfig.decode(
            JSONSerialization.data(withJSONObject: try GGUFModel.config(f)), file: "made config.json")
        let want = try ModelConfig.load(from: dir.appendingPathComponent("config.json"))
        XCTAssertEqual(made.modelType, "qwen3")
        XCTAssertEqual(made.headDim, 32)
        XCTAssertEqual(made.parameterShapes.map(\.0), want.parameterShapes.map(\.0))
        XCTAssertEqual(made.parameterShapes.map(\.1), want.parameterShapes.map(\.1))
        XCTAssertEqual(made.ropeTheta, want.ropeTheta)
        XCTAssertEqual(made.rmsNormEps, want.rmsNormEps, accuracy: 1e-12)
        XCTAssertEqual(made.tieWordEmbeddings, want.tieWordEmbeddings)
    }

    func testLlamaQAndKAreUnpermuted() throws {
        let f = try GGUFFile(url: Fixtures.url("gguf").appendingPathComponent("tiny-llama.gguf"))
        let (weights, _) = try fixture()
        let tensors = try GGUFModel.tensors(f)
        XCTAssertEqual(tensors.count, weights.names.count - 6, "the q/k/v biases of 2 layers are not in a llama file")
        var checked = 0
        for t in tensors {
            XCTAssertEqual(t.values, try weights.tensor(t.name).values, t.name)
            if t.name.hasSuffix("q_proj.weight") || t.name.hasSuffix("k_proj.weight") { checked += 1 }
        }
        XCTAssertEqual(checked, 4)
        // Without the un-permutation they differ: the file really holds them permuted.
        let q = try f.info("blk.0.attn_q.weight")
        XCTAssertNotEqual(try f.dequantize(q), try weights.tensor("model.layers.0.self_attn.q_proj.weight").values)
        let c = try GGUFModel.config(f)
        XCTAssertEqual(c["model_type"] as? String, "llama")
        XCTAssertEqual(c["attention_bias"] as? Bool, false)
    }

    func testNamesAndUnsupportedArchitectures() throws {
        XCTAssertEqual(GGUFModel.huggingFaceName("blk.11.ffn_down.weight"), "model.layers.11.mlp.down_proj.weight")
        XCTAssertEqual(GGUFModel.huggingFaceName("blk.0.attn_k_norm.weight"), "model.layers.0.self_attn.k_norm.weight")
        XCTAssertEqual(GGUFModel.huggingFaceName("output.weight"), "lm_head.weight")
        XCTAssertNil(GGUFModel.huggingFaceName("rope_freqs.weight"))
        XCTAssertNil(GGUFModel.huggingFaceName("blk.x.attn_q.weight"))
        // blocks.gguf says llama but has none of llama's keys: the missing one is named.
        let blocks = try GGUFFile(url: Fixtures.url("gguf").appendingPathComponent("blocks.gguf"))
        XCTAssertThrowsError(try GGUFModel.config(blocks)) { e in
            XCTAssertTrue("\(e)".contains("llama.embedding_length is missing"), "\(e)")
        }
    }
}
