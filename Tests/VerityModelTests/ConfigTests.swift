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
        let expected: [(Int, Float)] = [
            (0, 1.0), (10, 0.12868738174438477), (20, 0.016560440883040428), (30, 0.0012905480107292533),
            (40, 8.570255886297673e-06), (45, 3.0744097330170916e-06), (50, 1.1028836297555245e-06),
            (63, 7.672314694673332e-08),
        ]
        for (i, v) in expected { XCTAssertEqual(f[i], v, accuracy: v * 2e-6, "inv_freq[\(i)]") }
    }

    func testOtherRopeScalingIsAClearError() {
        let json = Self.llama32.replacingOccurrences(of: "\"rope_type\":\"llama3\"", with: "\"rope_type\":\"yarn\"")
        XCTAssertThrowsError(try ModelConfig.decode(Data(json.utf8), file: "llama.json")) { e in
            XCTAssertEqual(
                e as? ModelError,
                .badConfig(
                    file: "llama.json", key: "rope_scaling", detail: "rope_type 'yarn' is not supported (only llama3)"))
        }
    }

    func testTransformers5RopeParametersLayout() throws {
        let json =
            #"{"model_type":"qwen2","hidden_size":64,"intermediate_size":176,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":1024,"rope_parameters":{"rope_theta":5000.0,"rope_type":"default"},"dtype":"float32"}"#
        let c = try ModelConfig.decode(Data(json.utf8), file: "c.json")
        XCTAssertEqual(c.ropeTheta, 5000)
        XCTAssertNil(c.ropeScaling)
        XCTAssertEqual(c.torchDtype, "float32")
    }
}

// MARK: - Every parsed field

/// Each field ModelConfig parses, pinned per fixture config, so that a loader ignoring a key (and falling back to its
/// default) fails. `qwen2-nondefault` sets every key away from its default; the pinned values are the files' own text.
final class ConfigFieldTests: XCTestCase {
    struct Expected {
        var modelType: String, hidden: Int, intermediate: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int,
            vocab: Int
        var eps: Double, theta: Double, tied: Bool, maxPositions: Int, attentionBias: Bool, outputBias: Bool,
            mlpBias: Bool
        var scaling: Llama3RopeScaling?, dtype: String?, bos: Int?, eos: [Int], parameters: Int
    }

    static let expected: [String: Expected] = [
        "configs/qwen2.5-0.5b/config.json": Expected(
            modelType: "qwen2", hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, headDim: 64,
            vocab: 151_936,
            eps: 1e-6, theta: 1_000_000, tied: true, maxPositions: 32768, attentionBias: true, outputBias: false,
            mlpBias: false,
            scaling: nil, dtype: "bfloat16", bos: 151_643, eos: [151_643], parameters: 494_032_768),
        "configs/qwen2.5-math-1.5b/config.json": Expected(
            modelType: "qwen2", hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, headDim: 128,
            vocab: 151_936,
            eps: 1e-6, theta: 10000, tied: true, maxPositions: 4096, attentionBias: true, outputBias: false,
            mlpBias: false,
            scaling: nil, dtype: "bfloat16", bos: 151_643, eos: [151_643], parameters: 1_543_714_304),
        "tiny-qwen2/config.json": Expected(
            modelType: "qwen2", hidden: 64, intermediate: 176, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
            vocab: 1024,
            eps: 1e-6, theta: 10000, tied: true, maxPositions: 512, attentionBias: true, outputBias: false,
            mlpBias: false,
            // embed 1024·64 + 2 layers × (q 64·64+64, k 32·64+32, v 32·64+32, o 64·64, mlp 3·176·64, norms 2·64) + final norm 64
            scaling: nil, dtype: "float32", bos: 1021, eos: [1021],
            parameters: 65536 + 2 * (4160 + 2080 + 2080 + 4096 + 33792 + 128) + 64),
        "configs/llama-3.2-3b-instruct/config.json": Expected(
            modelType: "llama", hidden: 3072, intermediate: 8192, layers: 28, heads: 24, kvHeads: 8, headDim: 128,
            vocab: 128_256,
            eps: 1e-5, theta: 500_000, tied: true, maxPositions: 131_072, attentionBias: false, outputBias: false,
            mlpBias: false,
            scaling: Llama3RopeScaling(
                factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192),
            dtype: "bfloat16", bos: 128_000, eos: [128_001, 128_008, 128_009], parameters: 3_212_749_824),
        "configs/qwen2-nondefault/config.json": Expected(
            modelType: "qwen2", hidden: 96, intermediate: 200, layers: 3, heads: 6, kvHeads: 3, headDim: 24,
            vocab: 1000,
            eps: 3e-5, theta: 12345, tied: false, maxPositions: 777, attentionBias: true, outputBias: false,
            mlpBias: false,
            // embed 1000·96 + 3 × (q 144·96+144, k 72·96+72, v 72·96+72, o 96·144, mlp 3·200·96, norms 2·96) + norm 96 + lm_head 1000·96
            scaling: nil, dtype: "float16", bos: 7, eos: [11, 13],
            parameters: 96000 + 3 * (13968 + 6984 + 6984 + 13824 + 57600 + 192) + 96 + 96000),
    ]

    func testEveryParsedFieldOfEveryFixtureConfig() throws {
        XCTAssertEqual(Self.expected.count, 5)
        for (path, e) in Self.expected.sorted(by: { $0.key < $1.key }) {
            let c = try ModelConfig.load(from: Fixtures.url(path))
            XCTAssertEqual(c.modelType, e.modelType, path)
            XCTAssertEqual(c.hiddenSize, e.hidden, path)
            XCTAssertEqual(c.intermediateSize, e.intermediate, path)
            XCTAssertEqual(c.numHiddenLayers, e.layers, path)
            XCTAssertEqual(c.numAttentionHeads, e.heads, path)
            XCTAssertEqual(c.numKeyValueHeads, e.kvHeads, path)
            XCTAssertEqual(c.headDim, e.headDim, path)
            XCTAssertEqual(c.vocabSize, e.vocab, path)
            XCTAssertEqual(c.rmsNormEps, e.eps, path)
            XCTAssertEqual(c.ropeTheta, e.theta, path)
            XCTAssertEqual(c.tieWordEmbeddings, e.tied, path)
            XCTAssertEqual(c.maxPositionEmbeddings, e.maxPositions, path)
            XCTAssertEqual(c.attentionBias, e.attentionBias, path)
            XCTAssertEqual(c.outputBias, e.outputBias, path)
            XCTAssertEqual(c.mlpBias, e.mlpBias, path)
            XCTAssertEqual(c.ropeScaling, e.scaling, path)
            XCTAssertEqual(c.torchDtype, e.dtype, path)
            XCTAssertEqual(c.bosTokenId, e.bos, path)
            XCTAssertEqual(c.eosTokenIds, e.eos, path)
            XCTAssertEqual(c.parameterCount, e.parameters, path)
            XCTAssertEqual(c.parameterShapes.contains { $0.0 == "lm_head.weight" }, !e.tied, path)
        }
    }

    /// RoPE frequencies follow the parsed theta: θ^(−2i/D), computed here in Double.
    func testRopeFrequenciesFollowTheta() throws {
        let c = try ModelConfig.load(from: Fixtures.url("configs/qwen2-nondefault/config.json"))
        let f = c.ropeInverseFrequencies
        XCTAssertEqual(f.count, 12)
        for i in 0..<12 {
            let want = Foundation.pow(12345.0, -2.0 * Double(i) / 24.0)
            XCTAssertEqual(Double(f[i]), want, accuracy: want * 1e-6, "inv_freq[\(i)]")
        }
    }

    /// The model reads eps and theta from config.json: the tiny checkpoint with a changed `rms_norm_eps` or `rope_theta`
    /// gives other logits (a model that used a built-in default would give the same ones).
    func testModelUsesConfigEpsAndTheta() throws {
        let fixture = Fixtures.url("tiny-qwen2")
        let ids: [Int32] = [12, 7, 99, 3, 250, 41]
        let base = try ModelScoring.score(model: TransformerModel.load(directory: fixture), ids: ids).last_logits
        for (key, value) in [("rms_norm_eps", 0.5), ("rope_theta", 3.0)] {
            let dir = try temporaryDirectory(self)
            for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
                try FileManager.default.copyItem(
                    at: fixture.appendingPathComponent(name), to: dir.appendingPathComponent(name))
            }
            var json = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("config.json")))
                    as? [String: Any])
            json[key] = value
            try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
            let changed = try ModelScoring.score(model: TransformerModel.load(directory: dir), ids: ids).last_logits
            XCTAssertEqual(changed.count, base.count)
            let diff = zip(changed, base).map { abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(diff, 1e-2, "\(key) = \(value) left the logits unchanged (max diff \(diff))")
        }
    }

    /// Every RMSNorm of the model (each layer's input norm, the final norm) uses config.json's eps: with eps = 0.5 the
    /// recorded norm outputs equal x·w/√(mean(x²) + 0.5), computed here in Double from the recorded inputs and the
    /// checkpoint's norm weights (read straight from model.safetensors).
    func testEveryNormUsesConfigEps() throws {
        let fixture = Fixtures.url("tiny-qwen2")
        let dir = try temporaryDirectory(self)
        try FileManager.default.copyItem(
            at: fixture.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors")
        )
        var json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("config.json")))
                as? [String: Any])
        let eps = 0.5
        json["rms_norm_eps"] = eps
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        let model = try TransformerModel.load(directory: dir)
        var recorded: [String: [Float]] = [:]
        _ = try model.hiddenStates(ids: [12, 7, 99, 3], batch: 1, trainable: false) { name, t in
            recorded[name] = t.values
        }
        let weights = try SafeTensorsFile(url: fixture.appendingPathComponent("model.safetensors"))
        let c = 64
        let norms: [(input: String, output: String, weight: String)] = [
            ("embed_tokens", "layers.0.input_layernorm_out", "model.layers.0.input_layernorm.weight"),
            ("layers.0.out", "layers.1.input_layernorm_out", "model.layers.1.input_layernorm.weight"),
            ("layers.1.out", "norm_out", "model.norm.weight"),
        ]
        for n in norms {
            let x = try XCTUnwrap(recorded[n.input], n.input), y = try XCTUnwrap(recorded[n.output], n.output)
            let w = try weights.tensor(n.weight).values
            XCTAssertEqual(x.count, 4 * c)
            var worst = 0.0
            for r in 0..<4 {
                let row = x[(r * c)..<((r + 1) * c)].map(Double.init)
                let s = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(c) + eps).squareRoot()
                for j in 0..<c { worst = max(worst, abs(Double(y[r * c + j]) - row[j] * s * Double(w[j]))) }
            }
            XCTAssertLessThan(worst, 1e-5, n.output)
        }
    }
}
