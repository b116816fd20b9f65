#!/usr/bin/env python3
"""Writes the fixtures of `verity import gguf` (issue 27) and their reference from `transformers`:

- tiny-quant.gguf: a random 2-layer qwen2 model, hidden 256 (so that every block size fits a row), whose matrices are
  stored in each type Verity reads: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (quantised by `gguf`), and Q2_K, Q3_K,
  Q4_K, Q5_K, Q6_K (random blocks with small scales: `gguf` cannot quantise to those). Its tokenizer is the
  tiny-qwen2 fixture's vocabulary (pre-tokenizer "qwen2") with the tiny-qwen2 chat template.
- tok-qwen2.gguf, tok-llama-bpe.gguf, tok-gpt-2.gguf, tok-smollm.gguf: the same vocabulary under each pre-tokenizer
  Verity imports, with no tensors; rope-freqs.gguf: one tensor, rope_freqs.weight (Llama 3.1's rope scaling, which
  the import refuses).
- import_reference.json:
  - `logprobs`: log p(token t+1 | tokens <= t) of `ids` from transformers loading tiny-quant.gguf (gguf_file=) in
    float32;
  - `encode[name]`: the ids of each of `texts` from transformers' tokenizer of tok-NAME.gguf (gguf_file=), without
    special-token additions. For smollm, transformers uses the GPT-2 regex alone, while llama.cpp (and SmolLM2's own
    tokenizer.json) first splits every digit off; `encode["smollm"]` comes from `tokenizers` with that
    Sequence[Digits(individual_digits), ByteLevel], and `encode["smollm_transformers"]` keeps transformers' ids
    (this vocabulary has no token that joins a digit to anything, so the two agree on it; `smollm_pieces`, the
    pieces of that pre-tokenizer from `tokenizers`, tell them apart).

Needs numpy, gguf, torch, transformers, tokenizers. Run from anywhere: python3 Tests/Fixtures/gguf/make_import.py
"""
import json, os
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

here = os.path.dirname(os.path.abspath(__file__))
tok_src = json.load(open(os.path.join(here, "..", "tiny-qwen2", "tokenizer.json")))
tok_cfg = json.load(open(os.path.join(here, "..", "tiny-qwen2", "tokenizer_config.json")))
vocab = tok_src["model"]["vocab"]
tokens = [None] * (len(vocab) + len(tok_src["added_tokens"]))
types = [1] * len(tokens)
for t, i in vocab.items():
    tokens[i] = t
for a in tok_src["added_tokens"]:
    tokens[a["id"]] = a["content"]
    types[a["id"]] = 3
merges = [m if isinstance(m, str) else " ".join(m) for m in tok_src["model"]["merges"]]
assert all(t is not None for t in tokens)
EOS = 1021

hp = dict(hidden=256, inter=512, layers=2, heads=4, kv=2, vocab=len(tokens), ctx=512)


def header(w, pre):
    w.add_context_length(hp["ctx"])
    w.add_embedding_length(hp["hidden"])
    w.add_block_count(hp["layers"])
    w.add_feed_forward_length(hp["inter"])
    w.add_head_count(hp["heads"])
    w.add_head_count_kv(hp["kv"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(hp["vocab"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(EOS)
    w.add_eos_token_id(EOS)
    w.add_pad_token_id(EOS)
    w.add_add_bos_token(False)
    w.add_chat_template(tok_cfg["chat_template"])


def write(name, pre, tensors):
    w = gguf.GGUFWriter(os.path.join(here, name), "qwen2")
    header(w, pre)
    for n, (data, raw_type) in tensors.items():
        w.add_tensor(n, data, raw_dtype=raw_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


rng = np.random.default_rng(27)
H, I, D = hp["hidden"], hp["inter"], hp["hidden"] // hp["heads"]


def rnd(*shape, scale=0.05):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def kquant(qtype, rows, cols, d_offsets, largest):
    """Random blocks of a K-quant type whose f16 scales (at the byte offsets given) keep every weight within about
    0.05: `largest` is the largest |sub-block scale x quant| the type's random bytes can give."""
    per, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows, cols // per, size), dtype=np.uint8)
    for off in d_offsets:
        d = rng.uniform(0.25, 1.0, size=blocks.shape[:2]) * 0.05 / largest
        blocks[:, :, off:off + 2] = d.astype(np.float16).view(np.uint8).reshape(*blocks.shape[:2], 2)
    return blocks.reshape(rows, -1)


# Byte offsets of the f16 d (and dmin) in each K-quant block (ggml-common.h), and the largest scale x quant.
K_SCALES = {Q.Q2_K: ([80, 82], 45), Q.Q3_K: ([108], 128), Q.Q4_K: ([0, 2], 945), Q.Q5_K: ([0, 2], 1953),
            Q.Q6_K: ([208], 4096)}
matrices = []
for l in range(hp["layers"]):
    matrices += [
        (f"blk.{l}.attn_q.weight", (H, H)), (f"blk.{l}.attn_k.weight", (hp["kv"] * D, H)),
        (f"blk.{l}.attn_v.weight", (hp["kv"] * D, H)), (f"blk.{l}.attn_output.weight", (H, H)),
        (f"blk.{l}.ffn_gate.weight", (I, H)), (f"blk.{l}.ffn_up.weight", (I, H)), (f"blk.{l}.ffn_down.weight", (H, I)),
    ]
order = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q8_0]
assert len(matrices) == len(order)
tensors = {"token_embd.weight": (gguf.quants.quantize(rnd(hp["vocab"], H, scale=0.1), Q.Q8_0), Q.Q8_0)}
tensors["output_norm.weight"] = (1 + rnd(H, scale=0.1), Q.F32)
for l in range(hp["layers"]):
    tensors[f"blk.{l}.attn_norm.weight"] = (1 + rnd(H, scale=0.1), Q.F32)
    tensors[f"blk.{l}.ffn_norm.weight"] = (1 + rnd(H, scale=0.1), Q.F32)
    for p, n in [("q", H), ("k", hp["kv"] * D), ("v", hp["kv"] * D)]:
        tensors[f"blk.{l}.attn_{p}.bias"] = (rnd(n, scale=0.1), Q.F32)
for (name, shape), qt in zip(matrices, order):
    if qt in K_SCALES:
        tensors[name] = (kquant(qt, *shape, *K_SCALES[qt]), qt)
    elif qt == Q.F32:
        tensors[name] = (rnd(*shape), Q.F32)
    elif qt == Q.F16:
        tensors[name] = (rnd(*shape).astype(np.float16), Q.F16)
    else:
        tensors[name] = (gguf.quants.quantize(rnd(*shape), qt), qt)
write("tiny-quant.gguf", "qwen2", tensors)
for pre in ["qwen2", "llama-bpe", "gpt-2", "smollm"]:
    write(f"tok-{pre}.gguf", pre, {})
# Llama 3.1's rope scaling as llama.cpp stores it (per-frequency factors), which the import refuses.
write("rope-freqs.gguf", "llama-bpe", {"rope_freqs.weight": (np.ones(D // 2, dtype=np.float32), Q.F32)})

# The reference.
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken

torch.set_num_threads(1)
ids = [5, 17, 300, 41, 9, 77, 2, 900, 13, 13, 600, 1, 1022, 250, 64, 1021, 7, 512, 33, 1000]
model = AutoModelForCausalLM.from_pretrained(here, gguf_file="tiny-quant.gguf", dtype=torch.float32)
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].double()
lp = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
texts = [
    "Hello world", "The answer is 42.", " 2024 and 1999", "x² + y³ = z¹", "12345678901234567890", "a1b2c3 4d5",
    "don't won't I'm we'll they've she'd", "  leading and   inner spaces  ", "tabs\tand\nnewlines\r\n\n end",
    "<|im_start|>user\nWhat is 7*6?<|im_end|>\n<|im_start|>assistant\n", "\\boxed{\\frac{3}{4}}", "naïve café Ünïcödé",
    "e\u0301 (decomposed)", "中文字符和数字123", "emoji 🙂🚀 done", "  42", "x=3.14159, y=-2.5e-3", "line1\n\n\nline2   \n",
    "'s 'T 'Re", "$$\\sum_{i=1}^{n} i^2$$", "١٢٣ Arabic-Indic digits", "Ⅻ roman numeral", "", " ", "\n",
]
encode = {}
for pre in ["qwen2", "llama-bpe", "gpt-2", "smollm"]:
    t = AutoTokenizer.from_pretrained(here, gguf_file=f"tok-{pre}.gguf")
    encode[pre if pre != "smollm" else "smollm_transformers"] = [t.encode(s, add_special_tokens=False) for s in texts]
spelled = {}
bpe = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ")) for m in merges]))
bpe.pre_tokenizer = pre_tokenizers.Sequence(
    [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
bpe.decoder = decoders.ByteLevel()
bpe.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in range(len(tokens)) if types[i] == 3])
encode["smollm"] = [bpe.encode(s).ids for s in texts]
smollm_pieces = [[p for p, _ in bpe.pre_tokenizer.pre_tokenize_str(s)] for s in texts]
json.dump(
    {"ids": ids, "logprobs": lp.tolist(), "texts": texts, "encode": encode, "smollm_pieces": smollm_pieces,
     "versions": {"transformers": __import__("transformers").__version__, "gguf": gguf.__version__ if hasattr(gguf, "__version__") else "?",
                  "torch": torch.__version__, "tokenizers": __import__("tokenizers").__version__}},
    open(os.path.join(here, "import_reference.json"), "w"), indent=1)
print("wrote tiny-quant.gguf, tok-*.gguf, import_reference.json;",
      sum(a != b for a, b in zip(encode["smollm"], encode["smollm_transformers"])), "texts differ between smollm references")
