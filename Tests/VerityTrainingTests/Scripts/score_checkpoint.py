#!/usr/bin/env python3
"""Loads a Verity checkpoint folder with transformers and prints the next-token log-probs of the given ids as JSON.

Usage: score_checkpoint.py CHECKPOINT_DIR 12,7,99,...   (exit 3 when torch/transformers are missing: the test skips)
"""
import json
import sys

try:
    import torch
    from transformers import AutoModelForCausalLM
except ImportError:
    sys.exit(3)

folder, ids = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
with torch.no_grad():
    logits = model(input_ids=torch.tensor([ids])).logits[0]
lp = torch.log_softmax(logits.double(), dim=-1)
print(json.dumps([float(lp[t, ids[t + 1]]) for t in range(len(ids) - 1)]))
