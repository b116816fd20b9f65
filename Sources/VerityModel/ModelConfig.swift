// ModelConfig: the Hugging Face config.json of a Qwen2 or Llama checkpoint, decoded with the HF key
// names (both the transformers 4 layout, rope_theta/torch_dtype at top level, and the 5 layout,
// rope_parameters/dtype). It validates what the model code relies on and derives head_dim, RoPE
// frequencies (including Llama 3's rope_scaling) and the parameter count. It does not load weights.
import Foundation
@_exported import VerityJSON
import VerityTensor

// MARK: - RoPE scaling

/// `rope_scaling` of type "llama3" (Llama 3.1/3.2): long-wavelength frequencies divided by `factor`, smoothly blended between.
public struct Llama3RopeScaling: Sendable, Equatable {
    /// Division factor for low frequencies.
    public var factor: Double
    /// Wavelengths longer than original/lowFreqFactor are scaled.
    public var lowFreqFactor: Double
    /// Wavelengths shorter than original/highFreqFactor are kept.
    public var highFreqFactor: Double
    /// The context length the base frequencies were trained for.
    public var originalMaxPositionEmbeddings: Double
}

// MARK: - Config

/// A decoded and validated config.json for the model types of `Architectures` (qwen2, llama, qwen3).
public struct ModelConfig: Sendable, Equatable {
    /// `model_type`: "qwen2", "llama" or "qwen3".
    public var modelType: String
    /// `hidden_size` (C).
    public var hiddenSize: Int
    /// `intermediate_size` of the MLP.
    public var intermediateSize: Int
    /// `num_hidden_layers`.
    public var numHiddenLayers: Int
    /// `num_attention_heads` (H).
    public var numAttentionHeads: Int
    /// `num_key_value_heads` (KV; defaults to H).
    public var numKeyValueHeads: Int
    /// `head_dim` (defaults to hidden_size / num_attention_heads).
    public var headDim: Int
    /// `vocab_size` (V).
    public var vocabSize: Int
    /// `rms_norm_eps`.
    public var rmsNormEps: Double
    /// `rope_theta` (or `rope_parameters.rope_theta`).
    public var ropeTheta: Double
    /// `tie_word_embeddings`: the output projection is the embedding matrix.
    public var tieWordEmbeddings: Bool
    /// `max_position_embeddings`.
    public var maxPositionEmbeddings: Int
    /// Whether q/k/v projections carry biases (always for qwen2; `attention_bias` for llama).
    public var attentionBias: Bool
    /// Whether o_proj carries a bias (llama `attention_bias`; never for qwen2).
    public var outputBias: Bool
    /// Whether the MLP projections carry biases (llama `mlp_bias`).
    public var mlpBias: Bool
    /// `rope_scaling` of type llama3, if any.
    public var ropeScaling: Llama3RopeScaling?
    /// `torch_dtype` / `dtype` as written (informational).
    public var torchDtype: String?
    /// `bos_token_id`, if any.
    public var bosTokenId: Int?
    /// `eos_token_id` as a list (HF allows an int or a list).
    public var eosTokenIds: [Int]
    /// The whole JSON object as read, kept so a saved checkpoint preserves keys Verity ignores.
    public var raw: [String: JSONValue]

    /// Decodes and validates config.json at `url`; errors name the file and key.
    public static func load(from url: URL) throws -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.fileMissing(file: url.path)
        }
        return try decode(data, file: url.path)
    }

    /// Decodes and validates config.json bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String) throws -> ModelConfig {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ModelError.badConfig(
                file: file, key: "(root)",
                detail: "not valid JSON: \(JSONDiagnostics.syntaxError(in: data) ?? "\(error)")")
        }
        guard case .object(let o) = value else {
            throw ModelError.badConfig(file: file, key: "(root)", detail: "not a JSON object")
        }
        let r = ConfigReader(object: o, file: file)
        let modelType = try r.string("model_type")
        guard Architectures.forModelType(modelType) != nil else {
            throw ModelError.unknownModelType(file: file, value: modelType)
        }
        let hidden = try r.int("hidden_size", positive: true, max: ConfigLimits.hiddenSize)
        let heads = try r.int("num_attention_heads", positive: true, max: ConfigLimits.heads)
        let kvHeads = try r.optionalInt("num_key_value_heads", positive: true, max: ConfigLimits.heads) ?? heads
        guard heads % kvHeads == 0 else {
            throw ModelError.badConfig(
                file: file, key: "num_key_value_heads",
                detail: "\(kvHeads) does not divide num_attention_heads \(heads)")
        }
        let headDim = try r.optionalInt("head_dim", positive: true, max: ConfigLimits.headDim) ?? (hidden / heads)
        guard headDim % 2 == 0, r.has("head_dim") || hidden % heads == 0 else {
            throw ModelError.badConfig(
                file: file, key: "head_dim", detail: "head dimension \(headDim) must be even and divide hidden_size")
        }
        let act = try r.optionalString("hidden_act") ?? "silu"
        guard act == "silu" else {
            throw ModelError.badConfig(file: file, key: "hidden_act", detail: "'\(act)' is not supported (silu)")
        }
        var theta = try r.optionalDouble("rope_theta", positive: true)
        var scalingObject: [String: JSONValue]? = nil
        if case .object(let rp)? = o["rope_parameters"] {
            if theta == nil, let t = rp["rope_theta"]?.doubleValue {
                guard t.isFinite, t > 0 else {
                    throw ModelError.badConfig(
                        file: file, key: "rope_parameters.rope_theta",
                        detail: "must be a positive finite number, found \(t)")
                }
                theta = t
            }
            if let type = rp["rope_type"]?.stringValue, type != "default" { scalingObject = rp }
        }
        if let rs = o["rope_scaling"], rs != .null {
            guard case .object(let rso) = rs else {
                throw ModelError.badConfig(file: file, key: "rope_scaling", detail: "must be an object or null")
            }
            scalingObject = rso
        }
        var scaling: Llama3RopeScaling? = nil
        if let s = scalingObject {
            let type = s["rope_type"]?.stringValue ?? s["type"]?.stringValue ?? "(none)"
            if type != "default" {
                guard type == "llama3" else {
                    throw ModelError.badConfig(
                        file: file, key: "rope_scaling", detail: "rope_type '\(type)' is not supported (only llama3)")
                }
                func num(_ k: String) throws -> Double {
                    guard let v = s[k]?.doubleValue, v > 0, v.isFinite else {
                        throw ModelError.badConfig(
                            file: file, key: "rope_scaling.\(k)", detail: "missing or not a positive number")
                    }
                    return v
                }
                scaling = Llama3RopeScaling(
                    factor: try num("factor"), lowFreqFactor: try num("low_freq_factor"),
                    highFreqFactor: try num("high_freq_factor"),
                    originalMaxPositionEmbeddings: try num("original_max_position_embeddings"))
                if let sc = scaling, sc.highFreqFactor <= sc.lowFreqFactor {
                    throw ModelError.badConfig(
                        file: file, key: "rope_scaling.high_freq_factor", detail: "must exceed low_freq_factor")
                }
            }
        }
        let isQwen = modelType == "qwen2"
        let isQwen3 = modelType == "qwen3"
        if try r.optionalBool("use_sliding_window") == true {
            throw ModelError.badConfig(
                file: file, key: "use_sliding_window", detail: "sliding-window attention is not supported")
        }
        let attnBias = isQwen ? true : (try r.optionalBool("attention_bias") ?? false)
        var eos: [Int] = []
        switch o["eos_token_id"] {
        case .array(let a)?: eos = a.compactMap(\.intValue)
        case let v?: eos = v.intValue.map { [$0] } ?? []
        default: eos = []
        }
        return ModelConfig(
            modelType: modelType, hiddenSize: hidden,
            intermediateSize: try r.int("intermediate_size", positive: true, max: ConfigLimits.intermediateSize),
            numHiddenLayers: try r.int("num_hidden_layers", positive: true, max: ConfigLimits.layers),
            numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim: headDim,
            vocabSize: try r.int("vocab_size", positive: true, max: ConfigLimits.vocabSize),
            rmsNormEps: try r.optionalDouble("rms_norm_eps", positive: true) ?? 1e-6,
            ropeTheta: theta ?? 10000,
            tieWordEmbeddings: try r.optionalBool("tie_word_embeddings") ?? false,
            maxPositionEmbeddings: try r.optionalInt(
                "max_position_embeddings", positive: true, max: ConfigLimits.positions) ?? 32768,
            attentionBias: attnBias, outputBias: isQwen ? false : attnBias,
            mlpBias: isQwen || isQwen3 ? false : (try r.optionalBool("mlp_bias") ?? false),
            ropeScaling: scaling,
            torchDtype: try r.optionalString("torch_dtype") ?? r.optionalString("dtype"),
            bosTokenId: try r.optionalInt("bos_token_id", positive: false),
            eosTokenIds: eos, raw: o)
    }

    // MARK: Derived quantities

    /// RoPE inverse frequencies [D/2], with llama3 scaling applied when configured (transformers' _compute_llama3_parameters).
    public var ropeInverseFrequencies: [Float] {
        let base = RopeTable.inverseFrequencies(headDim: headDim, theta: ropeTheta)
        guard let s = ropeScaling else { return base }
        let lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor
        let highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor
        return base.map { f in
            let inv = Double(f)
            let wavelen = 2 * Double.pi / inv
            if wavelen < highWavelen { return f }
            if wavelen > lowWavelen { return Float(inv / s.factor) }
            let smooth =
                (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
            return Float((1 - smooth) * inv / s.factor + smooth * inv)
        }
    }

    /// The architecture that runs this `model_type` (checked when the config is decoded).
    public var architecture: any DecoderArchitecture.Type {
        guard let a = Architectures.forModelType(modelType) else {
            preconditionFailure("model_type \(modelType) was validated")
        }
        return a
    }

    /// Every parameter's HF name and shape, in checkpoint order, as the architecture lists them.
    public var parameterShapes: [(String, [Int])] { architecture.parameterShapes(self) }

    /// The number of parameters (tied embeddings counted once), as transformers' num_parameters() reports.
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.1.reduce(1, *) } }
}

// MARK: - Checks against a run

extension ModelConfig {
    /// Refuses a sequence longer than `max_position_embeddings` (positions past it were never
    /// trained, and attention cost grows with the square of the length); `what` names its source.
    public func checkSequenceLength(_ length: Int, what: String) throws {
        guard length <= maxPositionEmbeddings else {
            throw ModelError.badInput(
                detail:
                    "\(what): \(length) tokens is longer than the model's max_position_embeddings of \(maxPositionEmbeddings)"
            )
        }
    }

    /// Tensors of a checkpoint this config's model does not read (sorted), for a warning: a
    /// mismatched config or a checkpoint of another architecture shows up here first.
    public func unusedTensors(in checkpoint: SafeTensorsCheckpoint) -> [String] {
        let used = Set(parameterShapes.map(\.0))
        return checkpoint.names.filter { !used.contains($0) }
    }
}

// MARK: - Limits

/// Upper bounds on config sizes, checked before anything is allocated from them: each is far
/// above any released Qwen2 or Llama model, and keeps every derived size and parameter count
/// within Int, so a hostile config.json fails with the key instead of an allocation abort.
public enum ConfigLimits {
    /// `hidden_size`.
    public static let hiddenSize = 1 << 17
    /// `intermediate_size`.
    public static let intermediateSize = 1 << 20
    /// `num_hidden_layers`.
    public static let layers = 1024
    /// `num_attention_heads`, `num_key_value_heads`.
    public static let heads = 1 << 12
    /// `head_dim`.
    public static let headDim = 1 << 12
    /// `vocab_size`.
    public static let vocabSize = 1 << 22
    /// `max_position_embeddings`.
    public static let positions = 1 << 24
}

// MARK: - Key reading

/// Typed access to config keys with errors naming the file and key.
struct ConfigReader {
    let object: [String: JSONValue]
    let file: String

    func has(_ k: String) -> Bool { object[k] != nil && object[k] != .null }

    func string(_ k: String) throws -> String {
        guard let v = object[k] else { throw ModelError.badConfig(file: file, key: k, detail: "missing") }
        guard case .string(let s) = v else {
            throw ModelError.badConfig(file: file, key: k, detail: "expected a string, found \(v)")
        }
        return s
    }

    func optionalString(_ k: String) throws -> String? {
        guard has(k) else { return nil }
        return try string(k)
    }

    func int(_ k: String, positive: Bool, max: Int = Int.max) throws -> Int {
        guard let v = object[k], v != .null else { throw ModelError.badConfig(file: file, key: k, detail: "missing") }
        guard let i = v.intValue else {
            throw ModelError.badConfig(file: file, key: k, detail: "expected an integer, found \(v)")
        }
        if positive && i <= 0 { throw ModelError.badConfig(file: file, key: k, detail: "must be positive, found \(i)") }
        if i > max {
            throw ModelError.badConfig(file: file, key: k, detail: "\(i) is beyond the supported limit of \(max)")
        }
        return i
    }

    func optionalInt(_ k: String, positive: Bool, max: Int = Int.max) throws -> Int? {
        guard has(k) else { return nil }
        return try int(k, positive: positive, max: max)
    }

    /// A number; with `positive`, it must also be finite and above 0 (an epsilon, a RoPE base).
    func optionalDouble(_ k: String, positive: Bool = false) throws -> Double? {
        guard has(k), let v = object[k] else { return nil }
        guard let d = v.doubleValue else {
            throw ModelError.badConfig(file: file, key: k, detail: "expected a number, found \(v)")
        }
        if positive && !(d.isFinite && d > 0) {
            throw ModelError.badConfig(file: file, key: k, detail: "must be a positive finite number, found \(d)")
        }
        return d
    }

    func optionalBool(_ k: String) throws -> Bool? {
        guard has(k), let v = object[k] else { return nil }
        guard case .bool(let b) = v else {
            throw ModelError.badConfig(file: file, key: k, detail: "expected true or false, found \(v)")
        }
        return b
    }
}
