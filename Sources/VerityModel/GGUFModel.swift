// GGUFModel: a GGUF file's model as Hugging Face has it (issue 27): llama.cpp's tensor names mapped back to the
// Hugging Face ones, config.json's fields from the architecture's metadata keys, and for the llama architecture the
// q and k weights un-permuted (llama.cpp's converter interleaves each head's two rotary halves: the rows of a head,
// read as (2, head_dim / 2), are stored transposed as (head_dim / 2, 2)). The architectures Verity runs: llama, qwen2,
// qwen3. `verity import gguf` (GGUFImport) streams these through the safetensors writer.
import Foundation
import VerityTensor

/// The Hugging Face view of a GGUF model.
public enum GGUFModel {
    /// The architectures (`general.architecture`) Verity imports, with their Hugging Face model_type and class.
    public static let architectures: [String: (modelType: String, className: String)] = [
        "llama": ("llama", "LlamaForCausalLM"), "qwen2": ("qwen2", "Qwen2ForCausalLM"),
        "qwen3": ("qwen3", "Qwen3ForCausalLM"),
    ]

    static let global: [String: String] = [
        "token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    ]

    static let perLayer: [String: String] = [
        "attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
        "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
        "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
        "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
        "attn_v.bias": "self_attn.v_proj.bias", "attn_q_norm.weight": "self_attn.q_norm.weight",
        "attn_k_norm.weight": "self_attn.k_norm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
        "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
    ]

    /// The Hugging Face name of llama.cpp's tensor `name` (nil for one Verity does not use, such as rope_freqs).
    public static func huggingFaceName(_ name: String) -> String? {
        if let g = global[name] { return g }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
            let rest = perLayer[String(parts[2])]
        else { return nil }
        return "model.layers.\(layer).\(rest)"
    }

    /// The file's architecture, checked to be one Verity imports.
    public static func architecture(_ f: GGUFFile) throws -> String {
        guard let arch = f.metadata["general.architecture"]?.stringValue else {
            throw GGUFError(f.path, "no general.architecture")
        }
        guard architectures[arch] != nil else {
            throw GGUFError(
                f.path, "architecture \"\(arch)\" is not supported (\(architectures.keys.sorted().joined(separator: ", ")) are)")
        }
        return arch
    }

    /// config.json's fields from the metadata (`ARCH.embedding_length` and the like; the vocabulary from
    /// `ARCH.vocab_size`, else the token list, else the embedding's rows; tied when there is no output.weight).
    public static func config(_ f: GGUFFile) throws -> [String: Any] {
        let arch = try architecture(f)
        func int(_ key: String, default d: Int? = nil) throws -> Int {
            if let v = f.metadata["\(arch).\(key)"]?.intValue { return v }
            if let d { return d }
            throw GGUFError(f.path, "\(arch).\(key) is missing (needed for config.json)")
        }
        func double(_ key: String, default d: Double) -> Double { f.metadata["\(arch).\(key)"]?.doubleValue ?? d }
        // Rope scaling (YaRN, linear, Llama 3.1's per-frequency factors in rope_freqs.weight) would change every
        // position's rotation: refused rather than imported without it.
        if let s = f.metadata["\(arch).rope.scaling.type"]?.stringValue, s != "none" {
            throw GGUFError(f.path, "\(arch).rope.scaling.type = \"\(s)\": rope scaling is not supported by the import")
        }
        if f.tensors.contains(where: { $0.name == "rope_freqs.weight" }) {
            throw GGUFError(
                f.path, "tensor rope_freqs.weight: per-frequency rope factors (Llama 3.1 rope scaling) are not supported by the import")
        }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        let embedding = try f.info("token_embd.weight")
        let vocab =
            f.metadata["\(arch).vocab_size"]?.intValue ?? f.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? embedding.shape[0]
        let tied = !f.tensors.contains { $0.name == "output.weight" }
        let headDim = try int("attention.key_length", default: hidden / heads)
        var c: [String: Any] = [
            "architectures": [architectures[arch]!.className], "model_type": architectures[arch]!.modelType,
            "hidden_size": hidden, "intermediate_size": try int("feed_forward_length"),
            "num_hidden_layers": try int("block_count"), "num_attention_heads": heads,
            "num_key_value_heads": try int("attention.head_count_kv", default: heads),
            "max_position_embeddings": try int("context_length", default: 4096),
            "rms_norm_eps": double("attention.layer_norm_rms_epsilon", default: 1e-6),
            "rope_theta": double("rope.freq_base", default: 10000), "vocab_size": vocab,
            "tie_word_embeddings": tied, "hidden_act": "silu", "torch_dtype": "float32",
        ]
        if arch == "qwen3" || headDim != hidden / heads { c["head_dim"] = headDim }
        if arch == "llama" {
            c["attention_bias"] = f.tensors.contains { $0.name.hasSuffix("attn_q.bias") }
        }
        for (key, name) in [("tokenizer.ggml.bos_token_id", "bos_token_id"), ("tokenizer.ggml.eos_token_id", "eos_token_id")] {
            if let v = f.metadata[key]?.intValue { c[name] = v }
        }
        return c
    }

    /// Undoes llama.cpp's rotary permutation of a [rows, cols] q or k weight with `heads` heads: row
    /// h·d + 2i + j of the file (i < d/2, j < 2) is row h·d + j·d/2 + i of the model (d = rows / heads).
    public static func unpermuteRotary(_ v: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        precondition(rows % (2 * heads) == 0 && v.count == rows * cols, "rows not a multiple of 2 x heads")
        var out = [Float](repeating: 0, count: v.count)
        v.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                unpermuteRotary(src.baseAddress!, into: dst.baseAddress!, rows: rows, cols: cols, heads: heads)
            }
        }
        return out
    }

    static func unpermuteRotary(
        _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Int, cols: Int, heads: Int
    ) {
        let d = rows / heads, half = d / 2
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    (dst + (h * d + j * half + i) * cols).update(from: src + (h * d + 2 * i + j) * cols, count: cols)
                }
            }
        }
    }

    /// One tensor of the model: the file's tensor, its Hugging Face name, and the heads to un-permute by (llama's q
    /// and k), or nil.
    public struct Entry: Sendable {
        public let info: GGUFTensorInfo
        public let name: String
        public let unpermuteHeads: Int?
        public var shape: [Int] { info.shape }
    }

    /// The tensors Verity uses, in file order, checked: each of a supported type, none missing for the config, and
    /// q/k rows that divide into the heads' rotary halves.
    public static func plan(_ f: GGUFFile) throws -> [Entry] {
        let arch = try architecture(f)
        let c = try config(f)
        let heads = c["num_attention_heads"] as! Int, kvHeads = c["num_key_value_heads"] as! Int
        var out: [Entry] = []
        for t in f.tensors {
            guard let name = huggingFaceName(t.name) else { continue }
            guard t.type.isSupported else {
                throw GGUFError(
                    f.path, "tensor \(t.name): type \(t.type.name) is not supported (\(GGMLType.supportedNames) are)")
            }
            var by: Int? = nil
            if arch == "llama" && t.shape.count == 2 {
                if name.hasSuffix("q_proj.weight") { by = heads } else if name.hasSuffix("k_proj.weight") { by = kvHeads }
            }
            if let by, t.shape[0] % (2 * by) != 0 {
                throw GGUFError(f.path, "tensor \(t.name): \(t.shape[0]) rows do not split into \(by) heads' rotary halves")
            }
            out.append(Entry(info: t, name: name, unpermuteHeads: by))
        }
        let have = Set(out.map(\.name))
        let missing = requiredNames(c).filter { !have.contains($0) }
        if let first = missing.first {
            throw GGUFError(f.path, "no tensor for \(first)\(missing.count > 1 ? " (and \(missing.count - 1) more)" : "")")
        }
        return out
    }

    /// The Hugging Face tensors a model of config `c` cannot do without.
    static func requiredNames(_ c: [String: Any]) -> [String] {
        var names = ["model.embed_tokens.weight", "model.norm.weight"]
        if c["tie_word_embeddings"] as? Bool == false { names.append("lm_head.weight") }
        for l in 0..<(c["num_hidden_layers"] as? Int ?? 0) {
            for p in [
                "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
            ] {
                names.append("model.layers.\(l).\(p).weight")
            }
        }
        return names
    }

    /// One entry's values as float32, in row-major order of its shape, un-permuted where it needs it.
    public static func tensor(_ f: GGUFFile, _ e: Entry) throws -> Tensor {
        let out = Tensor(uninitialized: e.shape)
        guard let heads = e.unpermuteHeads else {
            try f.dequantize(e.info, into: out.data)
            return out
        }
        let scratch = try f.dequantize(e.info)
        scratch.withUnsafeBufferPointer {
            unpermuteRotary($0.baseAddress!, into: out.data, rows: e.shape[0], cols: e.shape[1], heads: heads)
        }
        return out
    }

    /// Every tensor Verity uses, under its Hugging Face name, with its values (all in memory: for tests and small
    /// models; the import streams `plan` through `tensor`).
    public static func tensors(_ f: GGUFFile) throws -> [(name: String, shape: [Int], values: [Float])] {
        try plan(f).map { e in (e.name, e.shape, try tensor(f, e).values) }
    }
}
