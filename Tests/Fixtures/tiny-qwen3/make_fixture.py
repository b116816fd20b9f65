#!/usr/bin/env python3
"""Makes the tiny-qwen3 fixture: a tiny random Qwen3ForCausalLM in Hugging Face format with reference
outputs computed by transformers (logits, next-token log-probs, recorded intermediates, greedy
generation, gradients of a mean NLL). Run from this folder:

    pip install torch transformers safetensors
    python3 make_fixture.py

The tokenizer files are the tiny-qwen2 fixture's (same 1024-token vocabulary). The test suite never
runs this script; it reads what the script wrote.
"""
import json
import os
import shutil

import torch
import transformers
import safetensors
from safetensors.torch import save_file
from transformers import Qwen3Config, Qwen3ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
QWEN2 = os.path.join(HERE, "..", "tiny-qwen2")
SEED = 4321

torch.manual_seed(SEED)
config = Qwen3Config(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,               # explicit and != hidden/heads (16), as in the released Qwen3 models
    hidden_act="silu",
    max_position_embeddings=512,
    rms_norm_eps=1e-5,         # not the loader's default (1e-6): a reader that ignores it fails parity
    rope_theta=1000000.0,      # Qwen3's value, not the default 10000
    tie_word_embeddings=True,
    attention_bias=False,
    use_sliding_window=False,
    bos_token_id=1021,
    eos_token_id=1021,
)
config._attn_implementation = "eager"
model = Qwen3ForCausalLM(config).eval()
g = torch.Generator().manual_seed(SEED)
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(0.2 * torch.randn(p.shape, generator=g))

model.save_pretrained(HERE, safe_serialization=True)
for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
    shutil.copy(os.path.join(QWEN2, f), os.path.join(HERE, f))


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


ref = {
    "meta": {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "safetensors_version": safetensors.__version__,
        "attn_implementation": "eager",
        "seed": SEED,
        "vocab_size": config.vocab_size,
    },
    "forward": [],
}

gen = torch.Generator().manual_seed(SEED + 1)
for length in [1, 7, 33, 100]:
    ids = torch.randint(0, 1021, (1, length), generator=gen)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    lp = torch.log_softmax(logits, dim=-1)
    nxt = [float(lp[t, ids[0, t + 1]]) for t in range(length - 1)]
    ref["forward"].append({
        "length": length,
        "input_ids": ids[0].tolist(),
        "logits_position_0": floats(logits[0]),
        "logits_last_position": floats(logits[-1]),
        "next_token_logprobs": nxt,
        "argmax_per_position": logits.argmax(-1).tolist(),
    })

# Intermediates of the 7-token input (the same names tiny-qwen2's activations use).
acts = {}
seven = torch.tensor([ref["forward"][1]["input_ids"]])
hooks = []
inner = model.model
hooks.append(inner.embed_tokens.register_forward_hook(lambda m, i, o: acts.__setitem__("embed_tokens", o[0].clone())))
for li, layer in enumerate(inner.layers):
    hooks.append(layer.input_layernorm.register_forward_hook(
        lambda m, i, o, li=li: acts.__setitem__(f"layers.{li}.input_layernorm_out", o[0].clone())))
    hooks.append(layer.self_attn.register_forward_hook(
        lambda m, i, o, li=li: acts.__setitem__(f"layers.{li}.self_attn_out", o[0][0].clone())))
    hooks.append(layer.register_forward_hook(
        lambda m, i, o, li=li: acts.__setitem__(f"layers.{li}.out", (o[0] if isinstance(o, tuple) else o)[0].clone())))
hooks.append(inner.norm.register_forward_hook(lambda m, i, o: acts.__setitem__("norm_out", o[0].clone())))
with torch.no_grad():
    acts["logits"] = model(input_ids=seven).logits[0].clone()
for h in hooks:
    h.remove()
save_file({k: v.contiguous() for k, v in acts.items()}, os.path.join(HERE, "activations.safetensors"),
          metadata={"input_ids": json.dumps(seven[0].tolist())})

# Greedy generation with the KV cache.
prompts = [ref["forward"][1]["input_ids"], ref["forward"][2]["input_ids"][:12]]
ref["generation"] = []
for p in prompts:
    with torch.no_grad():
        out = model.generate(torch.tensor([p]), max_new_tokens=16, do_sample=False, eos_token_id=1021,
                             pad_token_id=1021, output_scores=True, return_dict_in_generate=True)
    new = out.sequences[0, len(p):].tolist()
    lps = [float(torch.log_softmax(s[0], -1)[t]) for s, t in zip(out.scores, new)]
    ref["generation"].append({"input_ids": p, "new_token_ids": new, "new_token_logprobs": lps})

# Gradients of the mean next-token NLL over a 33-token sequence.
ids = torch.tensor([ref["forward"][2]["input_ids"]])
model.zero_grad()
logits = model(input_ids=ids).logits[0]
lp = torch.log_softmax(logits[:-1], dim=-1)
loss = -lp.gather(1, ids[0, 1:].unsqueeze(1)).mean()
loss.backward()
grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters() if p.grad is not None}
save_file(grads, os.path.join(HERE, "grads.safetensors"))
norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values()))
ref["gradients"] = {"input_ids": ids[0].tolist(), "loss": float(loss), "grad_global_l2_norm": float(norm),
                    "loss_definition": "mean over t < 32 of -log_softmax(logits[t])[ids[t+1]]"}
ref["parameter_count"] = model.num_parameters()

# Parameter counts of the real Qwen3 configs in ../configs (meta device: no weights allocated).
counts = {}
for name in ["qwen3-0.6b", "qwen3-1.7b"]:
    path = os.path.join(HERE, "..", "configs", name, "config.json")
    if os.path.exists(path):
        with torch.device("meta"):
            m = Qwen3ForCausalLM(Qwen3Config.from_json_file(path))
        counts[name] = m.num_parameters()
ref["real_config_parameter_counts"] = counts

with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump(ref, f)
print("wrote", HERE, "parameters", ref["parameter_count"], "real configs", counts)
