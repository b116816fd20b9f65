// Qwen3 (transformers' Qwen3ForCausalLM; Qwen3-0.6B, -1.7B, ...): the Qwen2 layer without q/k/v
// biases (`attention_bias`, false in the released models) and with a per-head RMSNorm on q and on k
// (`q_norm`, `k_norm`, gains [head_dim]) applied before RoPE. head_dim is explicit in config.json
// (128, not hidden/heads). Sliding-window attention (`use_sliding_window`) is not supported.
import VerityTensor

/// The Qwen3 decoder.
public enum Qwen3Architecture: DecoderArchitecture {
    /// config.json `model_type` values.
    public static let modelTypes = ["qwen3"]

    /// The standard decoder tensors plus q_norm and k_norm per layer.
    public static func parameterShapes(_ c: ModelConfig) -> [(String, [Int])] {
        standardDecoderShapes(c) { l in
            [
                ("model.layers.\(l).self_attn.q_norm.weight", [c.headDim]),
                ("model.layers.\(l).self_attn.k_norm.weight", [c.headDim]),
            ]
        }
    }

    /// One decoder layer.
    public static func layer<E: ModelExecutor>(
        _ e: E, _ x: E.Activation, _ p: LayerParameters, layer l: Int,
        config c: ModelConfig
    ) -> E.Activation {
        guard let qNorm = p.qNorm, let kNorm = p.kNorm else {
            preconditionFailure("qwen3 layer \(l) without q_norm/k_norm")
        }
        let eps = Float(c.rmsNormEps)
        let n1 = e.rmsNorm(x, p.inputNorm, eps: eps)
        e.record(.inputNorm, layer: l, n1)
        let qkv = e.linears(n1, [(p.q, p.qBias), (p.k, p.kBias), (p.v, p.vBias)])
        let q = e.rope(e.headRMSNorm(qkv[0], qNorm, heads: c.numAttentionHeads, eps: eps), heads: c.numAttentionHeads)
        let k = e.rope(e.headRMSNorm(qkv[1], kNorm, heads: c.numKeyValueHeads, eps: eps), heads: c.numKeyValueHeads)
        let a = e.linear(e.attention(layer: l, q, k, qkv[2]), p.o, p.oBias)
        e.record(.attentionOut, layer: l, a)
        return Qwen2Architecture.mlpBlock(e, residual: e.add(x, a), p, eps: eps)
    }
}
