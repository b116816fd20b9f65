#!/usr/bin/env python3
"""Writes Tests/Fixtures/gguf/tiny-qwen2.gguf and tiny-llama.gguf from Tests/Fixtures/tiny-qwen2, and tiny-qwen3.gguf
from Tests/Fixtures/tiny-qwen3 (float32; head_dim 32 with hidden 64, q and k norms), with the
`gguf` Python package, the way llama.cpp's converter lays a model out: llama.cpp's tensor names, the architecture's
metadata keys, and for the llama architecture the q and k weights permuted (each head's rotary halves interleaved:
rows reshaped to (heads, 2, head_dim / 2) and the two inner axes swapped). The llama file drops the q/k/v biases
(llama has none). The import must give back the fixture's own tensors and config.
"""
import json, os
import numpy as np
import gguf
from safetensors.numpy import load_file

here = os.path.dirname(os.path.abspath(__file__))
names = {
    "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
per_layer = {
    "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf):
    if hf in names:
        return names[hf]
    parts = hf.split(".")
    return f"blk.{parts[2]}." + per_layer[".".join(parts[3:])]


def permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


for arch, fixture in [("qwen2", "tiny-qwen2"), ("llama", "tiny-qwen2"), ("qwen3", "tiny-qwen3")]:
    src = os.path.join(here, "..", fixture)
    cfg = json.load(open(os.path.join(src, "config.json")))
    weights = load_file(os.path.join(src, "model.safetensors"))
    w = gguf.GGUFWriter(os.path.join(here, f"tiny-{arch}.gguf"), arch)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"] if "rope_theta" in cfg else cfg["rope_parameters"]["rope_theta"])
    if "head_dim" in cfg:
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    for hf in sorted(weights):
        t = weights[hf]
        if arch == "llama" and hf.endswith("_proj.bias"):
            continue
        if arch == "llama" and hf.endswith("q_proj.weight"):
            t = permute(t, cfg["num_attention_heads"])
        if arch == "llama" and hf.endswith("k_proj.weight"):
            t = permute(t, cfg["num_key_value_heads"])
        w.add_tensor(gguf_name(hf), np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", f"tiny-{arch}.gguf")
