#!/usr/bin/env python3
"""Scores a Verity LoRA checkpoint with peft + transformers: the base (from adapter_config.json) with the adapters
loaded by PeftModel, and the merged folder `verity merge` wrote, each loaded the way a user would. Prints
{"adapter": [...], "merged": [...]}: the next-token log-probs of the given ids.

Usage: score_peft.py ADAPTER_DIR MERGED_DIR 12,7,99,...   (exit 3 when torch/transformers/peft are missing)
"""
import json
import sys

try:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
except ImportError:
    sys.exit(3)

adapter_dir, merged_dir, ids = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
config = json.load(open(f"{adapter_dir}/adapter_config.json"))


def logprobs(model):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    lp = torch.log_softmax(logits.double(), dim=-1)
    return [float(lp[t, ids[t + 1]]) for t in range(len(ids) - 1)]


kw = dict(torch_dtype=torch.float32, attn_implementation="eager")
base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"], **kw).eval()
adapted = PeftModel.from_pretrained(base, adapter_dir).eval()
merged = AutoModelForCausalLM.from_pretrained(merged_dir, **kw).eval()
print(json.dumps({"adapter": logprobs(adapted), "merged": logprobs(merged)}))
