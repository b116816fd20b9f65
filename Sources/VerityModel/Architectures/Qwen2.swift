// Qwen2 and Llama (transformers' Qwen2ForCausalLM and LlamaForCausalLM): the pre-norm decoder layer
// h = x + o_proj(attn(RoPE(q), RoPE(k), v)) of RMSNorm₁(x), then x' = h + down(silu(gate)·up) of
// RMSNorm₂(h). Biases follow the config (q/k/v for Qwen2, `attention_bias` and `mlp_bias` for
// Llama). Written once for every executor (Architecture.swift).
import VerityTensor

/// The Qwen2 / Llama decoder.
public enum Qwen2Architecture: DecoderArchitecture {
    /// config.json `model_type` values.
    public static let modelTypes = ["qwen2", "llama"]

    /// The standard decoder tensors.
    public static func parameterShapes(_ config: ModelConfig) -> [(String, [Int])] { standardDecoderShapes(config) }

    /// One decoder layer.
    public static func layer<E: ModelExecutor>(
        _ e: E, _ x: E.Activation, _ p: LayerParameters, layer l: Int,
        config c: ModelConfig
    ) -> E.Activation {
        let eps = Float(c.rmsNormEps)
        let n1 = e.rmsNorm(x, p.inputNorm, eps: eps)
        e.record(.inputNorm, layer: l, n1)
        let qkv = e.linears(n1, [(p.q, p.qBias), (p.k, p.kBias), (p.v, p.vBias)])
        let q = e.rope(qkv[0], heads: c.numAttentionHeads), k = e.rope(qkv[1], heads: c.numKeyValueHeads)
        let a = e.linear(e.attention(layer: l, q, k, qkv[2]), p.o, p.oBias)
        e.record(.attentionOut, layer: l, a)
        return mlpBlock(e, residual: e.add(x, a), p, eps: eps)
    }

    /// h + down(silu(gate(RMSNorm₂(h))) ⊙ up(RMSNorm₂(h))): the MLP half of the layer, shared by the family.
    static func mlpBlock<E: ModelExecutor>(_ e: E, residual h: E.Activation, _ p: LayerParameters, eps: Float)
        -> E.Activation
    {
        let n2 = e.rmsNorm(h, p.postNorm, eps: eps)
        let gu = e.linears(n2, [(p.gate, p.gateBias), (p.up, p.upBias)])
        return e.add(h, e.linear(e.swiglu(gu[0], gu[1]), p.down, p.downBias))
    }
}
