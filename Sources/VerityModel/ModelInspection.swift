// ModelInspection and ModelScoring: the library side of `verity inspect` and `verity score`.
// Inspection reads config.json and the safetensors headers only (no tensor data) and checks that
// every tensor the config implies is present with its shape; scoring runs one no-grad forward and
// returns per-token log-probs and the last position's logits. JSON keys are a stable contract.
import Foundation
import VerityTensor

// MARK: - Inspection

/// What `verity inspect` reports about a model folder (JSON keys are part of the CLI contract).
public struct ModelInspection: Codable, Sendable {
    /// `model_type` (qwen2 or llama).
    public var model_type: String
    /// Hidden width C.
    public var hidden_size: Int
    /// MLP width.
    public var intermediate_size: Int
    /// Decoder layers.
    public var num_hidden_layers: Int
    /// Query heads.
    public var num_attention_heads: Int
    /// Key/value heads.
    public var num_key_value_heads: Int
    /// Head dimension.
    public var head_dim: Int
    /// Vocabulary size V.
    public var vocab_size: Int
    /// Whether the output projection is the embedding.
    public var tie_word_embeddings: Bool
    /// RoPE base.
    public var rope_theta: Double
    /// RoPE scaling type, if any.
    public var rope_scaling: String?
    /// Dtypes found in the safetensors files (e.g. "F32", "BF16"), comma-separated.
    public var dtype: String
    /// Parameter count (tied embeddings counted once).
    public var parameters: Int
    /// The safetensors files, relative to the folder.
    public var files: [String]

    /// Inspects `directory`: decodes config.json and validates every expected tensor's presence and shape in the headers.
    public static func inspect(directory: URL) throws -> ModelInspection {
        let c = try ModelConfig.load(from: directory.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: directory)
        var dtypes = Set<String>()
        var count = 0
        for (name, shape) in c.parameterShapes {
            guard let e = ckpt.entry(name) else { throw ModelError.missingTensor(file: ckpt.displayPath, tensor: name) }
            guard e.shape == shape else {
                throw ModelError.wrongShape(file: ckpt.path(of: name), tensor: name, expected: shape, found: e.shape)
            }
            guard SafeTensorsDType(rawValue: e.dtype) != nil else {
                throw ModelError.unsupportedDtype(file: ckpt.path(of: name), tensor: name, dtype: e.dtype)
            }
            dtypes.insert(e.dtype)
            count += shape.reduce(1, *)
        }
        return ModelInspection(
            model_type: c.modelType, hidden_size: c.hiddenSize, intermediate_size: c.intermediateSize,
            num_hidden_layers: c.numHiddenLayers, num_attention_heads: c.numAttentionHeads,
            num_key_value_heads: c.numKeyValueHeads,
            head_dim: c.headDim, vocab_size: c.vocabSize, tie_word_embeddings: c.tieWordEmbeddings,
            rope_theta: c.ropeTheta,
            rope_scaling: c.ropeScaling == nil ? nil : "llama3", dtype: dtypes.sorted().joined(separator: ","),
            parameters: count,
            files: ckpt.files.map { URL(fileURLWithPath: $0.path).lastPathComponent })
    }
}

// MARK: - Scoring

/// What `verity score` reports (JSON keys are part of the CLI contract).
public struct ScoreResult: Codable, Sendable {
    /// log p(ids[t] | ids[<t]) per token; nil (JSON null) for the first token.
    public var token_logprobs: [Float?]
    /// The logits [V] at the last position.
    public var last_logits: [Float]
}

/// One-sequence scoring with a loaded model.
public enum ModelScoring {
    /// Per-token log-probs and last-position logits of `ids` (positions 0..<L, no gradient).
    public static func score(model: TransformerModel, ids: [Int32]) throws -> ScoreResult {
        guard !ids.isEmpty else { throw ModelError.badInput(detail: "no token ids to score") }
        let h = try model.hiddenStates(ids: ids, batch: 1, trainable: false)
        let c = model.config.hiddenSize
        let last = Tensor(
            shape: [1, c], values: Array(UnsafeBufferPointer(start: h.value.data + (ids.count - 1) * c, count: c)))
        let logits = model.logits(hidden: last).values
        var lps: [Float?] = [nil]
        if ids.count > 1 {
            let rows = Tensor(
                shape: [ids.count - 1, c],
                values: Array(UnsafeBufferPointer(start: h.value.data, count: (ids.count - 1) * c)))
            let (lp, _) = model.tokenLogProbs(hidden: Variable(rows), targets: Array(ids.dropFirst()), trainable: false)
            lps += lp.value.values.map { Optional($0) }
        }
        // NaN or infinite weights (or a config that produces them) would print `nan` as a result.
        if let i = lps.firstIndex(where: { $0.map { !$0.isFinite && $0 != -.infinity } ?? false }) {
            throw ModelError.badInput(
                detail:
                    "the model's log-prob of token \(i) is \(lps[i].map { "\($0)" } ?? "?"): the checkpoint's weights or config give non-finite numbers"
            )
        }
        if let bad = logits.first(where: { !$0.isFinite }) {
            throw ModelError.badInput(
                detail:
                    "the model's last logits hold \(bad): the checkpoint's weights or config give non-finite numbers")
        }
        return ScoreResult(token_logprobs: lps, last_logits: logits)
    }

    /// Parses "12,7,99" into token ids; errors name the bad item (an empty item is an error too).
    public static func parseIDs(_ text: String, vocabularySize: Int? = nil) throws -> [Int32] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        return try items.enumerated().map { k, item in
            let s = item.trimmingCharacters(in: .whitespaces)
            guard !s.isEmpty else {
                throw ModelError.badInput(detail: "--ids: item \(k + 1) of \(items.count) is empty")
            }
            guard let v = Int32(s), v >= 0 else {
                throw ModelError.badInput(detail: "--ids: '\(s)' is not a non-negative integer token id")
            }
            if let vocabularySize, Int(v) >= vocabularySize {
                throw ModelError.badInput(
                    detail: "--ids: token id \(v) is outside the vocabulary 0..<\(vocabularySize)")
            }
            return v
        }
    }
}
