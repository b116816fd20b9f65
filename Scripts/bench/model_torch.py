"""PyTorch peer of `verity bench model`: the same model shape, batch, threads, loss and FLOP formula.

Measures on the spot torch's sgemm GFLOP/s on the same product shape, then forward (no grad) and
forward+backward tokens/s of a randomly initialised Qwen2.5-0.5B-shaped model at batch B x T, and the
model-FLOPs utilisation against that sgemm figure. Prints JSON (medians of --repeats), with the CPU share
other processes took during the run (/proc/stat busy time minus this process's CPU time).

PyTorch is an optional, benchmark-only dependency: `pip install torch` (CPU wheel). Usage, side by side:

    python3 Scripts/bench/model_torch.py --threads 2 --batch 8 --sequence 256 --repeats 3
    .build/release/verity bench model --threads 2 --batch 8 --sequence 256 --repeats 3 --json

--impl plain (default) is a compact Qwen2 in torch (SDPA causal attention with GQA, tied head, full logits
then log_softmax, as a typical PyTorch training step does); --impl transformers uses transformers'
Qwen2ForCausalLM (sdpa) when transformers is installed.
"""
import argparse
import json
import math
import os
import resource
import statistics
import time

import torch
import torch.nn.functional as F

SHAPE = dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864, vocab=151936, theta=1e6, eps=1e-6)


def busy_jiffies():
    with open("/proc/stat") as fh:
        f = [float(x) for x in fh.readline().split()[1:]]
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class RMSNorm(torch.nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        c, h, kv, i = s["hidden"], s["heads"], s["kv_heads"], s["intermediate"]
        self.h, self.kv, self.d = h, kv, c // h
        self.n1, self.n2 = RMSNorm(c, s["eps"]), RMSNorm(c, s["eps"])
        self.q = torch.nn.Linear(c, h * self.d)
        self.k = torch.nn.Linear(c, kv * self.d)
        self.v = torch.nn.Linear(c, kv * self.d)
        self.o = torch.nn.Linear(h * self.d, c, bias=False)
        self.gate = torch.nn.Linear(c, i, bias=False)
        self.up = torch.nn.Linear(c, i, bias=False)
        self.down = torch.nn.Linear(i, c, bias=False)

    def forward(self, x, cos, sin):
        b, t, c = x.shape
        n = self.n1(x)
        q = self.q(n).view(b, t, self.h, self.d).transpose(1, 2)
        k = self.k(n).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v(n).view(b, t, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, c))
        n = self.n2(x)
        return x + self.down(F.silu(self.gate(n)) * self.up(n))


class Model(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.embed = torch.nn.Embedding(s["vocab"], s["hidden"])
        self.layers = torch.nn.ModuleList([Layer(s) for _ in range(s["layers"])])
        self.norm = RMSNorm(s["hidden"], s["eps"])

    def forward(self, ids):
        d = self.s["hidden"] // self.s["heads"]
        inv = 1.0 / (self.s["theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        ang = torch.arange(ids.shape[1], dtype=torch.float32)[:, None] * inv[None]
        emb = torch.cat((ang, ang), -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x) @ self.embed.weight.T  # tied output projection: full logits


def build(impl, s, seed):
    torch.manual_seed(seed)
    if impl == "transformers":
        from transformers import Qwen2Config, Qwen2ForCausalLM
        cfg = Qwen2Config(hidden_size=s["hidden"], intermediate_size=s["intermediate"], num_hidden_layers=s["layers"],
                          num_attention_heads=s["heads"], num_key_value_heads=s["kv_heads"], vocab_size=s["vocab"],
                          rope_theta=s["theta"], rms_norm_eps=s["eps"], tie_word_embeddings=True, attn_implementation="sdpa")
        m = Qwen2ForCausalLM(cfg)
        return m, (lambda ids: m(ids).logits)
    m = Model(s)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.02)
            elif name.endswith("bias"):
                p.zero_()
    return m, m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--sequence", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed forward+backward steps first (as verity bench model)")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--impl", choices=["plain", "transformers"], default="plain")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    s = dict(SHAPE, layers=a.layers)
    c, n_tok = s["hidden"], a.batch * a.sequence
    j0, cpu0, w0 = busy_jiffies(), own_cpu(), time.monotonic()

    # sgemm limit on the model's largest product shape [tokens, intermediate, hidden], measured before each repeat
    # (as `verity bench model` does) so a busy spell hits both sides alike; the limit is the median.
    A, B = torch.randn(n_tok, c), torch.randn(s["intermediate"], c)
    torch.matmul(A, B.T)

    def sgemm_rate(n):
        rates = []
        for _ in range(n):
            t0 = time.perf_counter()
            torch.matmul(A, B.T)
            rates.append(2 * n_tok * s["intermediate"] * c / (time.perf_counter() - t0) / 1e9)
        return statistics.median(rates)

    sgemm_all = [sgemm_rate(5)]

    model, fwd = build(a.impl, s, 1)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, s["vocab"], (a.batch, a.sequence), generator=g)
    targets = torch.roll(ids, -1, dims=1)

    d = c // s["heads"]
    n_matrix = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n)
    f_fwd = 2 * (n_matrix + s["vocab"] * c) + 2 * s["layers"] * s["heads"] * d * a.sequence
    f_train = 3 * f_fwd

    def token_logprobs(logits):
        return torch.log_softmax(logits.float(), -1).gather(-1, targets[..., None])[..., 0]

    for _ in range(a.warmup):
        model.zero_grad(set_to_none=True)
        loss = -token_logprobs(fwd(ids)).mean()
        loss.backward()
        del loss

    t_f, t_t = [], []
    for r in range(a.repeats):
        if r > 0:
            sgemm_all.append(sgemm_rate(3))
        t0 = time.perf_counter()
        with torch.no_grad():
            token_logprobs(fwd(ids))
        t_f.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        loss = -token_logprobs(fwd(ids)).mean()
        loss.backward()
        t_t.append(time.perf_counter() - t0)
        del loss
    sgemm = statistics.median(sgemm_all)
    elapsed = time.monotonic() - w0
    hz = os.sysconf("SC_CLK_TCK")
    other = ((busy_jiffies() - j0) / hz - (own_cpu() - cpu0)) / (elapsed * (os.cpu_count() or 1))
    fs, ts = statistics.median(t_f), statistics.median(t_t)
    print(json.dumps({
        "benchmark": "model_torch", "impl": a.impl, "torch": torch.__version__, "threads": a.threads,
        "batch": a.batch, "sequence": a.sequence, "repeats": a.repeats, "warmup": a.warmup, "layers": a.layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "sgemm_shape": [n_tok, s["intermediate"], c], "sgemm_gflops": sgemm, "sgemm_gflops_all": sgemm_all,
        "flops_per_token_forward": f_fwd, "flops_per_token_train": f_train,
        "forward_seconds": fs, "forward_tokens_per_s": n_tok / fs, "forward_mfu": n_tok / fs * f_fwd / (sgemm * 1e9),
        "train_seconds": ts, "train_tokens_per_s": n_tok / ts, "train_mfu": n_tok / ts * f_train / (sgemm * 1e9),
        "forward_seconds_all": t_f, "train_seconds_all": t_t,
        "other_processes_cpu_share": max(0.0, min(1.0, other)),
    }, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
