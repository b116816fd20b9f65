"""Reference outputs of tiny-qwen2 with its weights rounded to bfloat16, made by transformers.

Verity's bfloat16 round-trip test saves tiny-qwen2 in bfloat16, reloads it and compares against these
numbers (so no tolerance has to be widened for the rounding). Run from the repository root:

    python3 Tests/VerityModelTests/Reference/make_bf16_reference.py            # writes the two files below
    python3 Tests/VerityModelTests/Reference/make_bf16_reference.py --check DIR # DIR = a Verity-saved bf16 folder

Outputs (beside this script): bf16_reference.json (logits at position 0 and last, next-token log-probs for the
fixture's forward inputs; loss of the gradient sequence) and bf16_grads.safetensors (float32 gradients).
Made with transformers 5.24.0, torch 2.13.0+cpu, float32 compute, eager attention.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "Fixtures", "tiny-qwen2")


def load_rounded():
    model = AutoModelForCausalLM.from_pretrained(FIXTURE, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    return model


def main():
    model = load_rounded()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        # transformers loads Verity's bfloat16 checkpoint, and its weights equal the rounded fixture weights.
        other = AutoModelForCausalLM.from_pretrained(sys.argv[2], dtype=torch.float32, attn_implementation="eager")
        ref = dict(model.named_parameters())
        worst = max((p - ref[n]).abs().max().item() for n, p in other.named_parameters())
        print(json.dumps({"loaded": True, "max_abs_weight_diff_vs_rounded_fixture": worst}))
        return
    ref = json.load(open(os.path.join(FIXTURE, "reference.json")))
    out = {"forward": [], "note": "tiny-qwen2 with every parameter rounded to bfloat16 (round-to-nearest-even), float32 compute"}
    with torch.no_grad():
        for f in ref["forward"]:
            ids = torch.tensor([f["input_ids"]])
            logits = model(ids).logits[0].float()
            lp = torch.log_softmax(logits, -1)
            nxt = [lp[t, f["input_ids"][t + 1]].item() for t in range(len(f["input_ids"]) - 1)]
            out["forward"].append({"length": len(f["input_ids"]), "input_ids": f["input_ids"],
                                   "logits_position_0": logits[0].tolist(), "logits_last_position": logits[-1].tolist(),
                                   "next_token_logprobs": nxt})
    g = ref["gradients"]
    ids = torch.tensor([g["input_ids"]])
    logits = model(ids).logits[0]
    lp = torch.log_softmax(logits.float(), -1)
    n = len(g["input_ids"]) - 1
    loss = -torch.stack([lp[t, g["input_ids"][t + 1]] for t in range(n)]).mean()
    loss.backward()
    out["gradients"] = {"input_ids": g["input_ids"], "loss": loss.item()}
    grads = {name: p.grad.detach().contiguous() for name, p in model.named_parameters()}
    save_file(grads, os.path.join(HERE, "bf16_grads.safetensors"))
    with open(os.path.join(HERE, "bf16_reference.json"), "w") as fh:
        json.dump(out, fh)
    print("wrote", HERE)


if __name__ == "__main__":
    main()
