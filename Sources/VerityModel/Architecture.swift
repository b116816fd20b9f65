// Architecture: the seam between what a decoder-only model computes and how it is computed. Each
// architecture (Qwen2/Llama in Qwen2.swift, Qwen3 in Qwen3.swift) is written once, as a decoder layer
// generic over a `ModelExecutor`; the executors decide how: the training executor (Transformer.swift)
// runs VerityTensor's autograd ops over the parameter store, the decode executor (VeritySampling)
// runs packed batch-invariant kernels over a KV cache. A new architecture is one file: its parameter
// names and shapes and its layer. A GPU backend would be one more executor. This file holds the two
// protocols, the parameter handles a layer receives, and the registry from `model_type`.
import Foundation
import VerityTensor

// MARK: - Executor

/// A point in a layer where an executor may record an intermediate (transformers' module outputs; for parity tests).
public enum RecordSite: String, Sendable {
    /// The token embeddings.
    case embedding = "embed_tokens"
    /// Output of the pre-attention RMSNorm.
    case inputNorm = "input_layernorm_out"
    /// Output of o_proj (before the residual add).
    case attentionOut = "self_attn_out"
    /// The decoder layer's output.
    case layerOut = "out"
    /// The final RMSNorm's output.
    case finalNorm = "norm_out"
}

/// How a model's operations are carried out. `Activation` is the executor's handle on a [N, width] activation (N token
/// rows); parameters are named by their index in the model's `ParameterStore`. An executor may not reuse an input's
/// storage for an output: architectures read an activation again after passing it to an op (the residual stream).
public protocol ModelExecutor {
    /// The executor's activation handle.
    associatedtype Activation
    /// Embedding rows of the executor's token ids from table `table` [V, C].
    func embed(_ table: Int) -> Activation
    /// RMSNorm over each row's C values with gain `weight` [C].
    func rmsNorm(_ x: Activation, _ weight: Int, eps: Float) -> Activation
    /// RMSNorm over each head's D values of x [N, heads·D] with gain `weight` [D] (Qwen3's q_norm / k_norm).
    func headRMSNorm(_ x: Activation, _ weight: Int, heads: Int, eps: Float) -> Activation
    /// x·Wᵀ (+ b) for each (weight, bias) pair, all on the same input (an executor may run them as one group).
    func linears(_ x: Activation, _ projections: [(weight: Int, bias: Int?)]) -> [Activation]
    /// Rotate-half RoPE on x [N, heads·D] at the executor's token positions.
    func rope(_ x: Activation, heads: Int) -> Activation
    /// Causal grouped-query attention of layer `layer`: q [N, H·D], k and v [N, KV·D] → [N, H·D] (the executor supplies
    /// the keys' extent: the rows themselves for training, a KV cache for decoding).
    func attention(layer: Int, _ q: Activation, _ k: Activation, _ v: Activation) -> Activation
    /// silu(gate) ⊙ up.
    func swiglu(_ gate: Activation, _ up: Activation) -> Activation
    /// a + b.
    func add(_ a: Activation, _ b: Activation) -> Activation
    /// The rows the caller wants outputs for (all rows for training, each prompt's last row for prefill); applied before the
    /// final norm, which is per row.
    func outputRows(_ x: Activation) -> Activation
    /// Offers an intermediate for recording (no-op unless the executor records).
    func record(_ site: RecordSite, layer: Int?, _ x: Activation)
}

extension ModelExecutor {
    /// x·Wᵀ (+ b).
    public func linear(_ x: Activation, _ weight: Int, _ bias: Int?) -> Activation {
        linears(x, [(weight, bias)])[0]
    }
    /// Keeps every row.
    public func outputRows(_ x: Activation) -> Activation { x }
    /// Records nothing.
    public func record(_ site: RecordSite, layer: Int?, _ x: Activation) {}
}

// MARK: - Parameter handles

/// One decoder layer's parameters as store indices (nil where the architecture or config has no such tensor).
public struct LayerParameters: Sendable, Equatable {
    /// Pre-attention and pre-MLP RMSNorm gains [C].
    public var inputNorm: Int, postNorm: Int
    /// q/k/v/o projection weights.
    public var q: Int, k: Int, v: Int, o: Int
    /// Their biases, where present.
    public var qBias: Int?, kBias: Int?, vBias: Int?, oBias: Int?
    /// Per-head RMSNorm gains [D] on q and k (Qwen3), where present.
    public var qNorm: Int?, kNorm: Int?
    /// MLP projection weights.
    public var gate: Int, up: Int, down: Int
    /// Their biases, where present.
    public var gateBias: Int?, upBias: Int?, downBias: Int?

    /// Looks up layer `l`'s tensors by their Hugging Face names in `store`; a required one missing is an internal error
    /// (the loader has already checked every tensor the architecture lists).
    public init(layer l: Int, store: ParameterStore) {
        let s = "model.layers.\(l)."
        func opt(_ n: String) -> Int? { store.index[s + n] }
        func req(_ n: String) -> Int {
            guard let i = store.index[s + n] else {
                preconditionFailure("parameter \(s + n) listed by the architecture is absent")
            }
            return i
        }
        inputNorm = req("input_layernorm.weight")
        postNorm = req("post_attention_layernorm.weight")
        q = req("self_attn.q_proj.weight"); k = req("self_attn.k_proj.weight")
        v = req("self_attn.v_proj.weight"); o = req("self_attn.o_proj.weight")
        qBias = opt("self_attn.q_proj.bias"); kBias = opt("self_attn.k_proj.bias")
        vBias = opt("self_attn.v_proj.bias"); oBias = opt("self_attn.o_proj.bias")
        qNorm = opt("self_attn.q_norm.weight"); kNorm = opt("self_attn.k_norm.weight")
        gate = req("mlp.gate_proj.weight"); up = req("mlp.up_proj.weight"); down = req("mlp.down_proj.weight")
        gateBias = opt("mlp.gate_proj.bias"); upBias = opt("mlp.up_proj.bias"); downBias = opt("mlp.down_proj.bias")
    }

    /// The weight matrices a decode executor packs.
    public var matrices: [Int] { [q, k, v, o, gate, up, down] }
}

// MARK: - Architecture

/// A decoder-only architecture: its tensors and its decoder layer, written once for every executor.
public protocol DecoderArchitecture {
    /// The `model_type` values of config.json this architecture runs.
    static var modelTypes: [String] { get }
    /// Every parameter's Hugging Face name and shape for `config`, in checkpoint order.
    static func parameterShapes(_ config: ModelConfig) -> [(String, [Int])]
    /// Decoder layer `l` on the residual stream x [N, C].
    static func layer<E: ModelExecutor>(
        _ e: E, _ x: E.Activation, _ p: LayerParameters, layer l: Int, config: ModelConfig
    ) -> E.Activation
}

/// The architectures Verity runs, by `model_type`.
public enum Architectures {
    /// Every registered architecture.
    public static let all: [any DecoderArchitecture.Type] = [Qwen2Architecture.self, Qwen3Architecture.self]

    /// The known `model_type` values.
    public static var modelTypes: [String] { all.flatMap { $0.modelTypes } }

    /// The architecture for `modelType`, if any.
    public static func forModelType(_ modelType: String) -> (any DecoderArchitecture.Type)? {
        all.first { $0.modelTypes.contains(modelType) }
    }
}

/// The standard decoder tensors shared by the Qwen/Llama family (embedding, per-layer attention and MLP, norms, head);
/// `extra(l)` adds an architecture's own per-layer tensors after the layer's norms.
func standardDecoderShapes(_ c: ModelConfig, extra: (Int) -> [(String, [Int])] = { _ in [] }) -> [(String, [Int])] {
    let cd = c.hiddenSize, hd = c.numAttentionHeads * c.headDim, kd = c.numKeyValueHeads * c.headDim,
        i = c.intermediateSize
    var out: [(String, [Int])] = [("model.embed_tokens.weight", [c.vocabSize, cd])]
    for l in 0..<c.numHiddenLayers {
        let p = "model.layers.\(l)."
        out.append((p + "self_attn.q_proj.weight", [hd, cd]))
        if c.attentionBias { out.append((p + "self_attn.q_proj.bias", [hd])) }
        out.append((p + "self_attn.k_proj.weight", [kd, cd]))
        if c.attentionBias { out.append((p + "self_attn.k_proj.bias", [kd])) }
        out.append((p + "self_attn.v_proj.weight", [kd, cd]))
        if c.attentionBias { out.append((p + "self_attn.v_proj.bias", [kd])) }
        out.append((p + "self_attn.o_proj.weight", [cd, hd]))
        if c.outputBias { out.append((p + "self_attn.o_proj.bias", [cd])) }
        out.append((p + "mlp.gate_proj.weight", [i, cd]))
        if c.mlpBias { out.append((p + "mlp.gate_proj.bias", [i])) }
        out.append((p + "mlp.up_proj.weight", [i, cd]))
        if c.mlpBias { out.append((p + "mlp.up_proj.bias", [i])) }
        out.append((p + "mlp.down_proj.weight", [cd, i]))
        if c.mlpBias { out.append((p + "mlp.down_proj.bias", [cd])) }
        out.append((p + "input_layernorm.weight", [cd]))
        out.append((p + "post_attention_layernorm.weight", [cd]))
        out.append(contentsOf: extra(l))
    }
    out.append(("model.norm.weight", [cd]))
    if !c.tieWordEmbeddings { out.append(("lm_head.weight", [c.vocabSize, cd])) }
    return out
}
