#!/usr/bin/env python3
"""A real GGUF model imported by `verity import gguf`, against transformers loading the same file (gguf_file=).

    python3 Scripts/demo/gguf_check.py FILE.gguf IMPORTED_DIR [--verity .build/release/verity] [--json OUT.json]

Compares, in float32 on the CPU:
- the tokenizer: ids of a mixed text set (English, math, digits, Unicode, white space, chat markup) from
  `verity tokenize --tokenizer IMPORTED_DIR` and from transformers' tokenizer of the file;
- the model: per-token log-probs of a ChatML prompt and answer from `verity score` and from transformers;
- greedy decoding: 48 new tokens after that prompt from `verity generate --temperature 0` and transformers' generate
  (the end-of-sequence token left out of both).
transformers builds a GGUF tokenizer from the class the file's tokenizer.ggml.model names and, for the pre-tokenizers
it knows, a split regex; for "smollm" it knows none and keeps GPT-2's regex, while llama.cpp (and SmolLM2's own
tokenizer.json) first cut every digit off. Texts where that matters show up in tokenizer_mismatches.
Prints one JSON object (and writes it with --json). Needs torch, transformers and gguf (pip), never the tests.
"""
import argparse, json, os, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("gguf")
p.add_argument("imported")
p.add_argument("--verity", default=".build/release/verity")
p.add_argument("--json", default=None)
a = p.parse_args()

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(2)
folder, name = os.path.dirname(os.path.abspath(a.gguf)), os.path.basename(a.gguf)
tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
texts = [
    "Hello world", "The answer is 42.", " 2024 and 1999", "x² + y³ = z¹", "12345678901234567890", "a1b2c3 4d5",
    "don't won't I'm we'll they've she'd", "  leading and   inner spaces  ", "tabs\tand\nnewlines\r\n\n end",
    "<|im_start|>user\nWhat is 7*6?<|im_end|>\n<|im_start|>assistant\n", "\\boxed{\\frac{3}{4}}", "naïve café Ünïcödé",
    "中文字符和数字123", "emoji 🙂🚀 done", "  42", "x=3.14159, y=-2.5e-3", "line1\n\n\nline2   \n", "'s 'T 'Re",
    "$$\\sum_{i=1}^{n} i^2$$", "١٢٣ Arabic-Indic digits", "Ⅻ roman numeral",
    "A train travels 120 km in 1.5 hours. What is its average speed in km/h? Let's think step by step.",
]


def verity(*args):
    r = subprocess.run([a.verity, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"verity {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r.stdout


mismatch = []
for t in texts:
    want = tok.encode(t, add_special_tokens=False)
    got = json.loads(verity("tokenize", "--tokenizer", a.imported, "--text", t, "--json"))["ids"]
    if got != want:
        mismatch.append({"text": t, "transformers": want, "verity": got})

messages = [{"role": "user", "content": "What is 15% of 80? Put the final answer in \\boxed{}."}]
prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
answer = "15% of 80 is 0.15 * 80 = 12. The answer is \\boxed{12}.<|im_end|>"
prompt_ids = tok.encode(prompt, add_special_tokens=False)
ids = prompt_ids + tok.encode(answer, add_special_tokens=False)

t0 = time.time()
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
model.eval()
load_s = time.time() - t0
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].double()
ref = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1).tolist()
scored = json.loads(verity("score", "--model", a.imported, "--ids", ",".join(map(str, ids)), "--json"))
ours = scored["token_logprobs"][1:]
deltas = [abs(x - y) for x, y in zip(ours, ref)]

with torch.no_grad():
    out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=48, do_sample=False)[0][len(prompt_ids):].tolist()
gen = json.loads(verity("generate", "--model", a.imported, "--prompt-ids", ",".join(map(str, prompt_ids)),
                        "--temperature", "0", "--max-tokens", "48", "--json").splitlines()[0])
eos = {tok.eos_token_id}
theirs = out[:-1] if out and out[-1] in eos else out
mine = gen["ids"][:-1] if gen["ids"] and gen["ids"][-1] in eos else gen["ids"]
same_prefix = 0
for x, y in zip(mine, theirs):
    if x != y:
        break
    same_prefix += 1

result = {
    "gguf": name, "transformers_version": __import__("transformers").__version__, "torch_version": torch.__version__,
    "tokenizer_texts": len(texts), "tokenizer_mismatches": mismatch,
    "scored_tokens": len(ours), "max_abs_logprob_delta": max(deltas), "mean_abs_logprob_delta": sum(deltas) / len(deltas),
    "greedy_verity": tok.decode(mine), "greedy_transformers": tok.decode(theirs),
    "greedy_tokens_verity": len(mine), "greedy_tokens_transformers": len(theirs),
    "greedy_same_prefix_tokens": same_prefix, "transformers_load_seconds": load_s,
}
text = json.dumps(result, indent=1, ensure_ascii=False)
print(text)
if a.json:
    open(a.json, "w").write(text + "\n")
