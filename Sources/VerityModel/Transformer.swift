// Transformer: the Qwen2 / Llama decoder-only model (transformers' Qwen2ForCausalLM and
// LlamaForCausalLM) over VerityTensor's differentiable ops. Weights are held by their Hugging Face
// names; one forward serves training (parameters tracked) and no-grad scoring (constants), and
// produces the final-normed hidden states from which logits or chunked token log-probs follow.
// Loading validates every tensor's presence and shape against config.json. It is not a sampler or
// a KV cache (the attention op takes a query offset and key starts so a cache can reuse it).
import Foundation
import VerityTensor

// MARK: - Layer weights

/// One decoder layer's parameters.
public struct DecoderLayerWeights {
    /// Pre-attention RMSNorm gain [C].
    public let inputNorm: Variable
    /// q_proj weight [H·D, C] and optional bias [H·D].
    public let q: Variable, qBias: Variable?
    /// k_proj weight [KV·D, C] and optional bias.
    public let k: Variable, kBias: Variable?
    /// v_proj weight [KV·D, C] and optional bias.
    public let v: Variable, vBias: Variable?
    /// o_proj weight [C, H·D] and optional bias.
    public let o: Variable, oBias: Variable?
    /// Pre-MLP RMSNorm gain [C].
    public let postNorm: Variable
    /// gate_proj, up_proj [I, C] and down_proj [C, I] weights with optional biases.
    public let gate: Variable, gateBias: Variable?
    /// up_proj weight and bias.
    public let up: Variable, upBias: Variable?
    /// down_proj weight and bias.
    public let down: Variable, downBias: Variable?
}

// MARK: - Model

/// A Qwen2/Llama causal language model with float32 parameters.
public final class TransformerModel {
    /// The validated configuration.
    public let config: ModelConfig
    /// Parameters by Hugging Face name, as tracked leaves (gradients accumulate in `.grad`).
    public let parameters: [String: Variable]
    /// Parameter names in checkpoint order.
    public let parameterNames: [String]
    /// Token embedding [V, C].
    public let embedding: Variable
    /// The decoder layers.
    public let layers: [DecoderLayerWeights]
    /// Final RMSNorm gain [C].
    public let finalNorm: Variable
    /// Output projection [V, C] (the embedding itself when tied).
    public let outputWeight: Variable
    /// RoPE inverse frequencies [D/2].
    public let inverseFrequencies: [Float]

    /// A model from named float32 tensors; every tensor the config implies must be present with its shape.
    public init(config: ModelConfig, tensor: (String, [Int]) throws -> Tensor) throws {
        self.config = config
        var params: [String: Variable] = [:]
        var names: [String] = []
        for (name, shape) in config.parameterShapes {
            params[name] = Variable(try tensor(name, shape), requiresGrad: true)
            names.append(name)
        }
        parameters = params
        parameterNames = names
        func p(_ n: String) -> Variable {
            guard let v = params[n] else { preconditionFailure("parameter \(n) listed by parameterShapes is absent") }
            return v
        }
        func opt(_ n: String) -> Variable? { params[n] }
        embedding = p("model.embed_tokens.weight")
        finalNorm = p("model.norm.weight")
        outputWeight = config.tieWordEmbeddings ? embedding : p("lm_head.weight")
        layers = (0..<config.numHiddenLayers).map { l in
            let s = "model.layers.\(l)."
            return DecoderLayerWeights(
                inputNorm: p(s + "input_layernorm.weight"),
                q: p(s + "self_attn.q_proj.weight"), qBias: opt(s + "self_attn.q_proj.bias"),
                k: p(s + "self_attn.k_proj.weight"), kBias: opt(s + "self_attn.k_proj.bias"),
                v: p(s + "self_attn.v_proj.weight"), vBias: opt(s + "self_attn.v_proj.bias"),
                o: p(s + "self_attn.o_proj.weight"), oBias: opt(s + "self_attn.o_proj.bias"),
                postNorm: p(s + "post_attention_layernorm.weight"),
                gate: p(s + "mlp.gate_proj.weight"), gateBias: opt(s + "mlp.gate_proj.bias"),
                up: p(s + "mlp.up_proj.weight"), upBias: opt(s + "mlp.up_proj.bias"),
                down: p(s + "mlp.down_proj.weight"), downBias: opt(s + "mlp.down_proj.bias"))
        }
        inverseFrequencies = config.ropeInverseFrequencies
    }

    /// Loads `directory/config.json` and its safetensors (single or sharded), checking every tensor.
    public static func load(directory: URL) throws -> TransformerModel {
        let config = try ModelConfig.load(from: directory.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: directory)
        return try TransformerModel(config: config) { name, shape in try ckpt.tensor(name, shape: shape) }
    }

    /// A randomly initialised model: matrices ~ N(0, std²), biases 0, norm gains 1.
    public static func random(config: ModelConfig, std: Float = 0.02, generator: inout SeededGenerator) -> TransformerModel {
        var g = generator
        defer { generator = g }
        let model = try? TransformerModel(config: config) { name, shape in
            if shape.count == 1 {
                let t = Tensor(zeros: shape)
                if name.hasSuffix("norm.weight") { t.fill(1) }
                return t
            }
            return Tensor.normal(shape, std: std, generator: &g)
        }
        guard let model else { preconditionFailure("random initialisation cannot fail") }
        return model
    }

    /// The number of parameters (tied embeddings counted once).
    public var parameterCount: Int { parameterNames.reduce(0) { $0 + (parameters[$1]?.value.count ?? 0) } }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for v in parameters.values { v.zeroGrad() } }

    // MARK: - Forward

    /// Final-normed hidden states [B·T, C] for `ids` laid out [B, T] (row-major), positions 0..<T per row unless given.
    /// `trainable` tracks parameter gradients; `record` receives named intermediates (transformers' module names).
    public func hiddenStates(ids: [Int32], batch: Int, positions: [Int]? = nil, trainable: Bool,
                             record: ((String, Tensor) -> Void)? = nil) throws -> Variable {
        guard batch > 0, ids.count % batch == 0, !ids.isEmpty else {
            throw ModelError.badInput(detail: "\(ids.count) token ids do not split into \(batch) equal rows")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError.badInput(detail: "token id \(bad) outside the vocabulary 0..<\(config.vocabSize)")
        }
        let t = ids.count / batch
        let pos = positions ?? (0..<batch).flatMap { _ in Array(0..<t) }
        guard pos.count == ids.count else { throw ModelError.badInput(detail: "\(pos.count) positions for \(ids.count) ids") }
        let rope = RopeTable(positions: pos, inverseFrequencies: inverseFrequencies)
        let shape = AttentionShape(batch: batch, queries: t, heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads,
                                   headDim: config.headDim)
        var x = embed(ids: ids, trainable: trainable)
        record?("embed_tokens", x.value)
        for l in layers.indices {
            x = layer(l, x, rope: rope, trainable: trainable, record: record) { q, k, v in Ops.attention(q, k, v, shape: shape) }
            record?("layers.\(l).out", x.value)
        }
        let out = normalize(x, trainable: trainable)
        record?("norm_out", out.value)
        return out
    }

    // MARK: - Building blocks (shared with cached inference)

    /// A parameter as used in a forward: the tracked leaf when training, an untracked constant otherwise.
    func param(_ v: Variable, _ trainable: Bool) -> Variable { trainable ? v : Variable(v.value) }

    /// Token embeddings [N, C] of `ids` (which must be in range).
    public func embed(ids: [Int32], trainable: Bool) -> Variable {
        Ops.embedding(param(embedding, trainable), ids: ids)
    }

    /// Decoder layer `l` on x [N, C]: RMSNorm → q/k/v (RoPE'd with `rope`, one row per token) → `attend(q, k, v)` → o_proj →
    /// residual → RMSNorm → SwiGLU MLP → residual. `attend` receives q [N, H·D], k and v [N, KV·D] and returns [N, H·D]:
    /// full causal attention for training and scoring, or a KV-cache write + attention over the cache for decoding.
    public func layer(_ l: Int, _ x: Variable, rope: RopeTable, trainable: Bool, record: ((String, Tensor) -> Void)? = nil,
                      attend: (Variable, Variable, Variable) -> Variable) -> Variable {
        let c = config, L = layers[l]
        func w(_ v: Variable) -> Variable { param(v, trainable) }
        func wo(_ v: Variable?) -> Variable? { v.map(w) }
        let eps = Float(c.rmsNormEps)
        let n1 = Ops.rmsNorm(x, w(L.inputNorm), eps: eps)
        record?("layers.\(l).input_layernorm_out", n1.value)
        let q = Ops.rope(Ops.linear(n1, w(L.q), wo(L.qBias)), table: rope, heads: c.numAttentionHeads)
        let k = Ops.rope(Ops.linear(n1, w(L.k), wo(L.kBias)), table: rope, heads: c.numKeyValueHeads)
        let v = Ops.linear(n1, w(L.v), wo(L.vBias))
        let a = Ops.linear(attend(q, k, v), w(L.o), wo(L.oBias))
        record?("layers.\(l).self_attn_out", a.value)
        let h = Ops.add(x, a)
        let n2 = Ops.rmsNorm(h, w(L.postNorm), eps: eps)
        let act = Ops.swiglu(Ops.linear(n2, w(L.gate), wo(L.gateBias)), Ops.linear(n2, w(L.up), wo(L.upBias)))
        return Ops.add(h, Ops.linear(act, w(L.down), wo(L.downBias)))
    }

    /// The final RMSNorm of hidden states x [N, C].
    public func normalize(_ x: Variable, trainable: Bool) -> Variable {
        Ops.rmsNorm(x, param(finalNorm, trainable), eps: Float(config.rmsNormEps))
    }

    /// Full logits [B·T, V] of the given rows of hidden states (no gradient; for scoring and tests, not for batches of training).
    public func logits(hidden: Tensor) -> Tensor {
        let n = hidden.rows, cdim = config.hiddenSize, v = config.vocabSize
        let out = Tensor(uninitialized: [n, v])
        BLAS.gemm(transB: true, m: n, n: v, k: cdim, a: hidden.data, lda: cdim, b: outputWeight.value.data, ldb: cdim, c: out.data, ldc: v)
        return out
    }

    /// Per-token log-probabilities and entropies of `targets` from hidden states [N, C], chunked over rows (differentiable).
    public func tokenLogProbs(hidden: Variable, targets: [Int32], trainable: Bool) -> (logprobs: Variable, entropy: Variable) {
        Ops.tokenLogProbs(hidden, weight: trainable ? outputWeight : Variable(outputWeight.value), targets: targets)
    }

    /// Σᵢ loss(i, logpᵢ, Hᵢ) from hidden states [N, C] through the output projection, fused with its gradient (Ops.tokenLoss):
    /// the training path, which never recomputes the output logits. Returns the loss and the per-token log-probs and entropies.
    public func tokenLoss(hidden: Variable, targets: [Int32], trainable: Bool,
                          loss: Ops.TokenLossTerm) -> (loss: Variable, logprobs: Tensor, entropy: Tensor) {
        Ops.tokenLoss(hidden, weight: trainable ? outputWeight : Variable(outputWeight.value), targets: targets, loss: loss)
    }

    // MARK: - Saving

    /// Writes config.json (torch_dtype set to the written dtype) and model.safetensors into `directory`.
    public func save(to directory: URL, dtype: SafeTensorsDType) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ModelError.writeFailed(file: directory.path, detail: "\(error)")
        }
        var raw = config.raw
        raw["torch_dtype"] = .string(dtype == .bf16 ? "bfloat16" : "float32")
        if raw["dtype"] != nil { raw["dtype"] = raw["torch_dtype"] }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configURL = directory.appendingPathComponent("config.json")
        do { try enc.encode(JSONValue.object(raw)).write(to: configURL) } catch {
            throw ModelError.writeFailed(file: configURL.path, detail: "\(error)")
        }
        let tensors = parameterNames.compactMap { n in parameters[n].map { (n, $0.value) } }
        try SafeTensorsWriter.write(tensors, to: directory.appendingPathComponent("model.safetensors"), dtype: dtype)
    }
}
