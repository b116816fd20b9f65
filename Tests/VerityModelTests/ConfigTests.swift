// config.json decoding: the genuine Qwen2.5 configs (parameter counts), Llama 3.2's llama3 rope
// scaling (frequencies from transformers' _compute_llama3_parameters), and rejection of others.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityModel

final class ConfigTests: XCTestCase {
    func testQwenConfigsDecodeWithParameterCounts() throws {
        let small = try ModelConfig.load(from: Fixtures.url("configs/qwen2.5-0.5b/config.json"))
        XCTAssertEqual(small.modelType, "qwen2")
        XCTAssertEqual(small.headDim, 64)
        XCTAssertTrue(small.tieWordEmbeddings)
        XCTAssertEqual(small.ropeTheta, 1_000_000)
        XCTAssertEqual(small.parameterCount, 494_032_768)  // transformers' num_parameters() for Qwen2.5-0.5B
        let math = try ModelConfig.load(from: Fixtures.url("configs/qwen2.5-math-1.5b/config.json"))
        XCTAssertEqual(math.numHiddenLayers, 28)
        XCTAssertEqual(math.headDim, 128)
        XCTAssertEqual(math.eosTokenIds, [151643])
        XCTAssertEqual(math.parameterCount, 1_543_714_304)  // Qwen2.5-Math-1.5B
        print("PARAMS qwen2.5-0.5b \(small.parameterCount), qwen2.5-math-1.5b \(math.parameterCount)")
    }

    /// Llama-3.2-3B-Instruct's config (values as on the hub).
    static let llama32 = """
    {"architectures":["LlamaForCausalLM"],"attention_bias":false,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
     "head_dim":128,"hidden_act":"silu","hidden_size":3072,"intermediate_size":8192,"max_position_embeddings":131072,
     "mlp_bias":false,"model_type":"llama","num_attention_heads":24,"num_hidden_layers":28,"num_key_value_heads":8,
     "rms_norm_eps":1e-05,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
     "original_max_position_embeddings":8192,"rope_type":"llama3"},"rope_theta":500000.0,"tie_word_embeddings":true,
     "torch_dtype":"bfloat16","vocab_size":128256}
    """

    func testLlama3RopeScaling() throws {
        let c = try ModelConfig.decode(Data(Self.llama32.utf8), file: "llama.json")
        XCTAssertEqual(c.parameterCount, 3_212_749_824)  // transformers LlamaForCausalLM with this config
        XCTAssertFalse(c.attentionBias)
        XCTAssertEqual(c.eosTokenIds, [128001, 128008, 128009])
        let f = c.ropeInverseFrequencies
        // transformers 5.24 ROPE_INIT_FUNCTIONS["llama3"] for this config, indices 0, 10, 20, 30, 40, 45, 50, 63.
        let expected: [(Int, Float)] = [(0, 1.0), (10, 0.12868738174438477), (20, 0.016560440883040428), (30, 0.0012905480107292533),
                                        (40, 8.570255886297673e-06), (45, 3.0744097330170916e-06), (50, 1.1028836297555245e-06),
                                        (63, 7.672314694673332e-08)]
        for (i, v) in expected { XCTAssertEqual(f[i], v, accuracy: v * 2e-6, "inv_freq[\(i)]") }
    }

    func testOtherRopeScalingIsAClearError() {
        let json = Self.llama32.replacingOccurrences(of: "\"rope_type\":\"llama3\"", with: "\"rope_type\":\"yarn\"")
        XCTAssertThrowsError(try ModelConfig.decode(Data(json.utf8), file: "llama.json")) { e in
            XCTAssertEqual(e as? ModelError, .badConfig(file: "llama.json", key: "rope_scaling", detail: "rope_type 'yarn' is not supported (only llama3)"))
        }
    }

    func testTransformers5RopeParametersLayout() throws {
        let json = #"{"model_type":"qwen2","hidden_size":64,"intermediate_size":176,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":1024,"rope_parameters":{"rope_theta":5000.0,"rope_type":"default"},"dtype":"float32"}"#
        let c = try ModelConfig.decode(Data(json.utf8), file: "c.json")
        XCTAssertEqual(c.ropeTheta, 5000)
        XCTAssertNil(c.ropeScaling)
        XCTAssertEqual(c.torchDtype, "float32")
    }
}
