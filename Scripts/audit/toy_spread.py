#!/usr/bin/env python3
"""Run-to-run spread of the training-outcome tests' toy runs (issue 22).

Runs the toy recipe of Tests/VerityTrainingTests/TrainerTests.swift (tiny-qwen2, reward = share of "e" in the
response) with the release CLI over several seeds, under each OpenBLAS kernel family given, and prints per seed the
mean reward of the first three and the last three steps and their difference, then the mean, sample std and minimum
of the difference over all runs. The tests' margins are chosen from these figures.

For --algorithm sft (the SFT test's recipe, tiny-qwen2 on three fixed responses) the statistic is the last step's
loss over the first step's, printed as delta.

Usage: python3 Scripts/audit/toy_spread.py [--algorithm grpo|ppo|sft] [--steps N] [--lr X] [--critic-lr X]
           [--seeds 1,2,...] [--kernels Haswell,SkylakeX,Cooperlake] [--bin .build/release/verity] [--json]
OPENBLAS_CORETYPE is set per run for this audit only; the tests and CI never set it.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def recipe(root, algorithm, steps, lr, critic_lr, n):
    ppo = ""
    if algorithm == "ppo":
        ppo = f'algorithm = "ppo", critic = {{ lr = {critic_lr}, gamma = 1.0, lambda = 0.95, value_clip = 0.5 }},'
    return f"""
return {{
  name = "toy",
  model = "{ROOT}/Tests/Fixtures/tiny-qwen2",
  train = {{ data = "{root}/data.jsonl", repeat_to = 4, batch_size = 4, required_fields = {{ "prompt" }} }},
  prompt = require "prompts.raw",
  reward = function(sample)
    local _, c = string.gsub(sample.response, "e", "")
    return c / math.max(1, #sample.response), {{ length = #sample.response }}
  end,
  rollout = {{ n = {n}, temperature = 1.0, max_tokens = 12, max_prompt_tokens = 64 }},
  optimizer = {{ lr = {lr}, weight_decay = 0.0, max_grad_norm = 1.0 }},
  update = {{ mini_batch_size = 4, micro_batch_size = 6 }},
  loss = function(step, terms) return {{ pg = 1.0 }} end,
  schedules = {{ lr = function(step, total) return {lr} end }},
  steps = {steps}, save_every = 0, seed = 3,
  {ppo}
}}
"""

def sft_recipe(root):
    return f"""
return {{
  name = "sft-toy",
  model = "{ROOT}/Tests/Fixtures/tiny-qwen2",
  algorithm = "sft",
  sft = {{ response_field = "solution", max_tokens = 64, pack_tokens = 64 }},
  train = {{ data = "{root}/sft.jsonl", batch_size = 6, repeat_to = 6 }},
  prompt = require "prompts.raw",
  reward = function(sample) return 0 end,
  optimizer = {{ lr = 1e-2, weight_decay = 0.0, max_grad_norm = 1.0 }},
  update = {{ micro_batch_size = 2 }},
  loss = function(step, terms) return {{ sft = 1.0 }} end,
  steps = 8, save_every = 0, seed = 5,
}}
"""

SFT_DATA = (
    '{"prompt": "Two plus two is", "solution": " four, so \\\\boxed{4}.", "answer": "4"}\n'
    '{"prompt": "Three and one make", "solution": " four: \\\\boxed{4}.", "answer": "4"}\n'
    '{"prompt": "Half of eight is", "solution": " 4, that is \\\\boxed{4}.", "answer": "4"}\n')

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--algorithm", default="grpo")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=3e-2)
    ap.add_argument("--critic-lr", type=float, default=1e-2)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8")
    ap.add_argument("--kernels", default="Haswell,SkylakeX,Cooperlake")
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/verity"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "data.jsonl"), "w") as f:
            f.write('{"prompt": "The answer is", "answer": "e"}\n{"prompt": "Let me see the", "answer": "e"}\n')
        with open(os.path.join(tmp, "sft.jsonl"), "w") as f:
            f.write(SFT_DATA)
        with open(os.path.join(tmp, "toy.lua"), "w") as f:
            if a.algorithm == "sft":
                f.write(sft_recipe(tmp))
            else:
                f.write(recipe(tmp, a.algorithm, a.steps, a.lr, a.critic_lr, a.n))
        for kernel in a.kernels.split(","):
            for seed in [int(s) for s in a.seeds.split(",")]:
                run = os.path.join(tmp, f"run-{kernel}-{seed}")
                env = dict(os.environ, OPENBLAS_CORETYPE=kernel)
                p = subprocess.run([a.bin, "sft" if a.algorithm == "sft" else "train", os.path.join(tmp, "toy.lua"), "--run-dir", run,
                                    "--set", f"seed={seed}", "--threads", "2"],
                                   env=env, capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"{kernel} seed {seed}: exit {p.returncode}\n{p.stderr[-2000:]}")
                with open(os.path.join(run, "metrics.jsonl")) as f:
                    m = [json.loads(l) for l in f if l.strip()]
                if a.algorithm == "sft":  # the SFT test's statistic: last step's loss over the first's
                    first, last = m[0]["sft_loss"], m[-1]["sft_loss"]
                    rows.append({"kernel": kernel, "seed": seed, "first": first, "last": last, "delta": last / first})
                    if not a.json:
                        print(f"{kernel:11s} seed {seed:2d}: loss {first:.3f} -> {last:.4f}  ratio {last / first:.4f}")
                    continue
                r = [x["reward_mean"] for x in m]
                first, last = sum(r[:3]) / 3, sum(r[-3:]) / 3
                rows.append({"kernel": kernel, "seed": seed, "first": first, "last": last, "delta": last - first})
                if not a.json:
                    print(f"{kernel:11s} seed {seed:2d}: {first:.3f} -> {last:.3f}  delta {last - first:+.3f}", flush=True)
    d = [r["delta"] for r in rows]
    if a.algorithm == "sft":  # the SFT test's own recipe: 8 steps at lr 1e-2, no sampling
        a.steps, a.lr, a.critic_lr, a.n = 8, 1e-2, 0, 0
    summary = {"algorithm": a.algorithm, "steps": a.steps, "lr": a.lr, "critic_lr": a.critic_lr, "n": a.n,
               "runs": len(d), "delta_mean": statistics.mean(d), "delta_std": statistics.stdev(d) if len(d) > 1 else 0,
               "delta_min": min(d)}
    if a.json:
        print(json.dumps({"summary": summary, "runs": rows}, indent=1))
    else:
        print(json.dumps(summary))

if __name__ == "__main__":
    main()
