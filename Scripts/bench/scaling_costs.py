#!/usr/bin/env python3
"""What one step of the paper's pi1 recipe costs on N data-parallel ranks, on paper (docs/scaling.md).

Counts matrix-product FLOPs (2 per multiply-add) from a Hugging Face config.json: sampling (prefill of each prompt
once, decode of every response token, attention over the growing context), the reference's forward and the policy's
forward + backward over prompt + response tokens (a group's shared prompt once per micro-batch), and the bytes a
ring all-reduce moves per rank. Full fine-tuning and LoRA (rank r on q, k, v, o, gate, up, down).

    python3 Scripts/bench/scaling_costs.py Tests/Fixtures/configs/qwen2.5-math-1.5b/config.json --json
"""
import argparse, json

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("--prompts", type=int, default=128)
p.add_argument("--n", type=int, default=8)
p.add_argument("--prompt-tokens", type=int, default=160, help="the pi1 prompt in the qwen25-math chat format, about")
p.add_argument("--response-tokens", type=int, nargs="+", default=[500, 1500, 3072])
p.add_argument("--lora-rank", type=int, default=16)
p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128])
p.add_argument("--gflops-per-rank", type=float, default=230.0, help="sgemm rate of one rank (2-core EPYC: ~230)")
p.add_argument("--link-gbit", type=float, default=10.0, help="network bandwidth per rank, Gbit/s")
p.add_argument("--json", action="store_true")
a = p.parse_args()

c = json.load(open(a.config))
d, inter, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
hd = d // heads
kvd = kv * hd
layer = d * d + 2 * d * kvd + d * d + 3 * d * inter  # q, k, v, o, gate, up, down
matmul = L * layer + V * d  # the head (tied or not, it is a product)
params = L * layer + V * d * (1 if c.get("tie_word_embeddings") else 2) + L * (2 * d + d + 2 * kvd) + d
lora = a.lora_rank * L * ((d + d) * 2 + (d + kvd) * 2 + (d + inter) * 2 + (inter + d))


def forward(tokens, context):
    """FLOPs of a forward over `tokens` new positions, each attending to `context` positions on average."""
    return 2 * matmul * tokens + 4 * L * d * context * tokens


rows = []
for R in a.response_tokens:
    P = a.prompt_tokens
    responses = a.prompts * a.n
    sample = forward(a.prompts * P, P / 2) + forward(responses * R, P + R / 2)
    seq_tokens = a.prompts * P + responses * R  # the prompt once per group (shared prefix)
    ctx = P + R / 2
    ref = forward(seq_tokens, ctx)
    full_update = 3 * forward(seq_tokens, ctx)  # forward, dx, dW
    lora_update = 2 * forward(seq_tokens, ctx) + forward(seq_tokens, ctx) + 6 * lora * seq_tokens  # fwd, dx, recompute
    for name, upd, grad_floats in [("full", full_update, params), ("lora", lora_update, lora)]:
        for N in a.ranks:
            compute = (sample + ref + upd) / N
            bytes_per_rank = 2 * (N - 1) / N * grad_floats * 4 if N > 1 else 0
            t_compute = compute / (a.gflops_per_rank * 1e9)
            t_comm = bytes_per_rank * 8 / (a.link_gbit * 1e9)
            rows.append(dict(
                mode=name, response_tokens=R, ranks=N, groups_per_rank=a.prompts / N,
                sampling_tflops=sample / 1e12, update_tflops=(ref + upd) / 1e12,
                tflops_per_rank=compute / 1e12, allreduce_gb_per_rank=bytes_per_rank / 1e9,
                hours_compute_per_rank=t_compute / 3600, seconds_allreduce=t_comm,
                comm_share=t_comm / (t_compute + t_comm)))
out = dict(config=a.config, trained_parameters_full=params, matmul_parameters=matmul, lora_parameters=lora,
           prompts=a.prompts, n=a.n, prompt_tokens=a.prompt_tokens, gflops_per_rank=a.gflops_per_rank,
           link_gbit=a.link_gbit, rows=rows)
if a.json:
    print(json.dumps(out, indent=1))
else:
    print(f"trained parameters: full {params/1e6:.0f}M, LoRA rank {a.lora_rank} {lora/1e6:.2f}M")
    print("mode  resp  ranks  sampling TF  update TF  TF/rank  h/rank  all-reduce GB/rank  s  comm share")
    for r in rows:
        print(f"{r['mode']:5} {r['response_tokens']:5} {r['ranks']:5}  {r['sampling_tflops']:10.0f} {r['update_tflops']:10.0f}"
              f" {r['tflops_per_rank']:8.1f} {r['hours_compute_per_rank']:7.2f} {r['allreduce_gb_per_rank']:10.2f}"
              f" {r['seconds_allreduce']:8.2f} {r['comm_share']:.5f}")
