#!/usr/bin/env python3
"""PyTorch peer for `verity bench sample`: decode tokens/s of transformers' `generate` on a randomly
initialised Qwen2.5-0.5B-shaped model (CPU, KV cache, greedy, length forced with min_new_tokens), at
the same batch sizes, prompt length, new tokens and thread count. Benchmark only: PyTorch and
transformers are optional and not needed by Verity itself.

How decode is timed: a stopping criterion (called by `generate` once after every step) records a
timestamp per step; decode tokens/s = batch x (steps - 1) / (last stamp - first stamp). The first
stamp follows the prefill and the first token, so prefill is excluded as in Verity's figure, inside
one `generate` call. (The earlier script timed generate(new_tokens) - generate(1): two separate runs
whose prefill times differ by seconds at batch 64, so the difference swung by several-fold.) Before
timing, one short `generate` at the same batch warms the allocator and the kernels. Threads: the
OMP/MKL variables are set before torch is imported, intra-op threads = --threads, inter-op = 1.
Medians of repeats; the per-step median time is reported too.

Usage: python3 Scripts/bench/sample_torch.py --json [--threads 2] [--batches 1,8,64]
       [--prompt-tokens 64] [--new-tokens 128] [--repeats 3] [--layers 24] [--dtype float32|bfloat16]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    a = ap.parse_args()

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import torch
    import transformers
    from transformers import Qwen2Config, Qwen2ForCausalLM, StoppingCriteria, StoppingCriteriaList

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(a.seed)
    dtype = torch.float32 if a.dtype == "float32" else torch.bfloat16
    cfg = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=a.layers, num_attention_heads=14,
                      num_key_value_heads=2, vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1000000.0,
                      tie_word_embeddings=True, max_position_embeddings=32768, hidden_act="silu")
    model = Qwen2ForCausalLM(cfg).to(dtype).eval()

    class Stamps(StoppingCriteria):
        """Records the time after every generation step; never stops generation."""

        def __init__(self):
            self.t = []

        def __call__(self, input_ids, scores, **kwargs):
            self.t.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def gen(ids, mask, n):
        stamps = Stamps()
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                           use_cache=True, pad_token_id=0, eos_token_id=None,
                           stopping_criteria=StoppingCriteriaList([stamps]))
        return t0, stamps.t

    figures = []
    for b in [int(x) for x in a.batches.split(",")]:
        ids = torch.randint(0, cfg.vocab_size, (b, a.prompt_tokens))
        mask = torch.ones_like(ids)
        gen(ids, mask, 4)  # warm-up at this batch size
        rates, step_ms, prefill = [], [], []
        for r in range(max(1, a.repeats)):
            t0, t = gen(ids, mask, a.new_tokens)
            steps = len(t)
            rate = b * (steps - 1) / max(t[-1] - t[0], 1e-9)
            deltas = [t[i + 1] - t[i] for i in range(steps - 1)]
            rates.append(rate)
            step_ms.append(1e3 * statistics.median(deltas))
            prefill.append(t[0] - t0)
            print(f"torch batch {b} repeat {r + 1}: {rate:.2f} decode tokens/s, median step {step_ms[-1]:.1f} ms, "
                  f"prefill+first {t[0] - t0:.2f} s ({steps} steps)", file=sys.stderr, flush=True)
        figures.append({"batch": b, "decode_tokens_per_s": statistics.median(rates), "decode_tokens_per_s_all": rates,
                        "median_step_ms": statistics.median(step_ms), "prefill_seconds": statistics.median(prefill)})
    out = {"peer": "pytorch generate (per-step timestamps from a stopping criterion)", "torch": torch.__version__,
           "transformers": transformers.__version__, "threads": a.threads, "interop_threads": torch.get_num_interop_threads(),
           "layers": a.layers, "prompt_tokens": a.prompt_tokens, "new_tokens": a.new_tokens, "dtype": a.dtype,
           "decode": figures}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for f in figures:
            print(f"batch {f['batch']}: {f['decode_tokens_per_s']:.2f} decode tokens/s")


if __name__ == "__main__":
    main()
