#!/usr/bin/env python3
"""PyTorch peer for `verity bench sample`: decode tokens/s of transformers' `generate` on a randomly
initialised Qwen2.5-0.5B-shaped model (float32, CPU, KV cache, greedy, length forced with
min_new_tokens), at the same batch sizes, prompt length, new tokens and thread count. Benchmark
only: PyTorch and transformers are optional and not needed by Verity itself.

Decode tokens/s = batch x (new_tokens - 1) / (time of generate(new_tokens) - time of generate(1)),
so the prefill is excluded as in Verity's figure. Medians of repeats.

Usage: python3 Scripts/bench/sample_torch.py --json [--threads 2] [--batches 1,8,64]
       [--prompt-tokens 64] [--new-tokens 128] [--repeats 3] [--layers 24]
"""
import argparse
import json
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
    a = ap.parse_args()

    import torch
    import transformers
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=a.layers, num_attention_heads=14,
                      num_key_value_heads=2, vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1000000.0,
                      tie_word_embeddings=True, max_position_embeddings=32768, hidden_act="silu")
    model = Qwen2ForCausalLM(cfg).to(torch.float32).eval()
    figures = []
    for b in [int(x) for x in a.batches.split(",")]:
        ids = torch.randint(0, cfg.vocab_size, (b, a.prompt_tokens))
        mask = torch.ones_like(ids)

        def gen(n):
            t0 = time.perf_counter()
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                               use_cache=True, pad_token_id=0, eos_token_id=None)
            return time.perf_counter() - t0

        gen(2)  # warm-up
        rates = []
        for r in range(max(1, a.repeats)):
            t1 = gen(1)
            tn = gen(a.new_tokens)
            rate = b * (a.new_tokens - 1) / max(tn - t1, 1e-9)
            rates.append(rate)
            print(f"torch batch {b} repeat {r + 1}: {rate:.2f} decode tokens/s (prefill {t1:.2f} s)", file=sys.stderr)
        figures.append({"batch": b, "decode_tokens_per_s": statistics.median(rates), "decode_tokens_per_s_all": rates})
    out = {"peer": "pytorch generate", "torch": torch.__version__, "transformers": transformers.__version__,
           "threads": a.threads, "layers": a.layers, "prompt_tokens": a.prompt_tokens, "new_tokens": a.new_tokens,
           "dtype": "float32", "decode": figures}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for f in figures:
            print(f"batch {f['batch']}: {f['decode_tokens_per_s']:.2f} decode tokens/s")


if __name__ == "__main__":
    main()
