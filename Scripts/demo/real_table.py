#!/usr/bin/env python3
"""Helpers of Scripts/demo/real_model.sh (docs/real-model.md, SmolLM2-135M-Instruct on the demo task).

  real_table.py regrade SET_FILE EVAL_DIR [--verity V]
      Grades every response of EVAL_DIR/<set>/responses.jsonl with both graders (paper: the last \\boxed{}
      must hold the answer; qwen-eval: format-agnostic) through `verity grade --cases` (kind "raw"), so one
      sampling run gives both figures. Writes EVAL_DIR/<set>/graded.jsonl (one line per response) and
      prints a count of responses whose regrade under the run's own grader differs from the run's verdict.
  real_table.py metrics SET_FILE EVAL_DIR
      Prints a JSON object of the run's figures (strict and format-agnostic pass@1 and pass@k overall and
      per category, boxed and truncated shares, mean tokens) from graded.jsonl.
  real_table.py history POOL_FILE EVAL_DIR OUT [--grader paper|qwen-eval]
      Writes a `verity select` history: for each pool example (keyed by its `index` field, else its line
      position) the list of its samples' 0/1 verdicts under the grader (default paper, from graded.jsonl).
      These are the base model's own samples, not accuracies over training steps as in the paper.
  real_table.py tables ROOT [--json OUT]
      Prints the tables of docs/real-model.md from the folders under ROOT (runs/real) and, with --json,
      writes every figure to OUT.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import defaultdict

GRADERS = ("paper", "qwen-eval")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def set_name(set_file):
    return os.path.splitext(os.path.basename(set_file))[0]


def responses_of(set_file, eval_dir):
    return read_jsonl(os.path.join(eval_dir, set_name(set_file), "responses.jsonl"))


def has_closed_boxed(text):
    """A \\boxed{...} whose braces close (what rewards.format pays for)."""
    for m in re.finditer(r"\\boxed\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return True
    return False


def regrade(args):
    items = read_jsonl(args.set_file)
    resp = responses_of(args.set_file, args.eval_dir)
    cases = [json.dumps({"gold": str(items[r["index"]]["answer"]), "prediction": r["response"], "kind": "raw"})
             for r in resp]
    tmp = os.path.join(args.eval_dir, set_name(args.set_file), "cases.jsonl")
    with open(tmp, "w") as f:
        f.write("\n".join(cases) + "\n")
    verdicts = {}
    for g in GRADERS:
        out = subprocess.run([args.verity, "grade", "--cases", tmp, "--profile", g], check=True,
                             capture_output=True, text=True).stdout
        verdicts[g] = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert len(verdicts[g]) == len(resp), (g, len(verdicts[g]), len(resp))
    os.remove(tmp)
    manifest = json.load(open(os.path.join(args.eval_dir, "eval.json")))
    own = manifest["grader"]
    differ = 0
    with open(os.path.join(args.eval_dir, set_name(args.set_file), "graded.jsonl"), "w") as f:
        for i, r in enumerate(resp):
            line = {"index": r["index"], "sample": r["sample"], "tokens": r["tokens"],
                    "truncated": r["finish_reason"] == "length", "boxed": has_closed_boxed(r["response"])}
            for g in GRADERS:
                line[g] = bool(verdicts[g][i]["equal"])
            if own in GRADERS and line[own] != r["correct"]:
                differ += 1
            f.write(json.dumps(line) + "\n")
    print(f"{args.eval_dir}: {len(resp)} responses graded both ways; "
          f"{differ} differ from the run's own {own} verdicts")


def metrics_of(set_file, eval_dir):
    items = read_jsonl(set_file)
    graded = read_jsonl(os.path.join(eval_dir, set_name(set_file), "graded.jsonl"))
    by_item = defaultdict(list)
    for g in graded:
        by_item[g["index"]].append(g)
    k = max(len(v) for v in by_item.values())
    out = {"items": len(by_item), "samples": k, "responses": len(graded),
           "boxed": sum(g["boxed"] for g in graded) / len(graded),
           "truncated": sum(g["truncated"] for g in graded) / len(graded),
           "mean_tokens": sum(g["tokens"] for g in graded) / len(graded)}
    cats = sorted({items[i]["category"] for i in by_item})
    for gr in GRADERS:
        m = {"pass@1": sum(g[gr] for g in graded) / len(graded)}
        if k > 1:
            m[f"pass@{k}"] = sum(any(g[gr] for g in v) for v in by_item.values()) / len(by_item)
        per = {}
        for c in cats:
            sub = [g for i, v in by_item.items() if items[i]["category"] == c for g in v]
            per[c] = {"items": len({g["index"] for g in sub}), "pass@1": sum(g[gr] for g in sub) / len(sub)}
            if k > 1:
                groups = [v for i, v in by_item.items() if items[i]["category"] == c]
                per[c][f"pass@{k}"] = sum(any(g[gr] for g in v) for v in groups) / len(groups)
        m["per_category"] = per
        out[gr] = m
    return out


def metrics(args):
    print(json.dumps(metrics_of(args.set_file, args.eval_dir), indent=1))


def history(args):
    pool = read_jsonl(args.pool_file)
    graded = read_jsonl(os.path.join(args.eval_dir, set_name(args.pool_file), "graded.jsonl"))
    keys = [str(p["index"]) if isinstance(p.get("index"), int) else str(i) for i, p in enumerate(pool)]
    hist = {k: [] for k in keys}
    for r in sorted(graded, key=lambda r: (r["index"], r["sample"])):
        hist[keys[r["index"]]].append(1 if r[args.grader] else 0)
    with open(args.out, "w") as f:
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: [{', '.join(map(str, v))}]" for k, v in hist.items())
                + "\n}\n")
    solved = sum(1 for v in hist.values() if any(v))
    mixed = sum(1 for v in hist.values() if any(v) and not all(v))
    print(f"wrote {args.out}: {len(hist)} examples, {solved} solved at least once, {mixed} with mixed verdicts")


def pct(x):
    return f"{100 * x:.1f}"


def se(p, n):
    return 100 * math.sqrt(max(p * (1 - p), 0) / n)


def tables(args):
    root = args.root
    figures = {}
    val = os.path.join(root, "val")
    if os.path.isdir(val):
        print("Validation (first 100 problems, greedy): prompt and max new tokens")
        print("| run | format-agnostic | strict | boxed | truncated | mean tokens |")
        print("|---|---|---|---|---|---|")
        for d in sorted(os.listdir(val)):
            p = os.path.join(val, d)
            if not os.path.exists(os.path.join(p, "validation", "graded.jsonl")):
                continue
            m = metrics_of("data/demo/validation.jsonl", p)
            figures[f"val/{d}"] = m
            print(f"| {d} | {pct(m['qwen-eval']['pass@1'])} | {pct(m['paper']['pass@1'])} | {pct(m['boxed'])} "
                  f"| {pct(m['truncated'])} | {m['mean_tokens']:.0f} |")
        print()
    evals = [("base", os.path.join(root, "base-greedy"))]
    for d in sorted(os.listdir(root)):
        if d.startswith(("one_shot-s", "format_only-s")) and os.path.isdir(os.path.join(root, d, "test-greedy")):
            evals.append((d, os.path.join(root, d, "test-greedy")))
    rows = []
    for name, p in evals:
        if os.path.exists(os.path.join(p, "test", "graded.jsonl")):
            m = metrics_of("data/demo/test.jsonl", p)
            figures[f"test-greedy/{name}"] = m
            rows.append((name, m))
    if rows:
        n = rows[0][1]["items"]
        print(f"Test, first {n} problems, greedy (percent; standard error about "
              f"{se(rows[0][1]['qwen-eval']['pass@1'], n):.1f} points at the base's format-agnostic rate)")
        print("| model | strict | format-agnostic | boxed | truncated | mean tokens |")
        print("|---|---|---|---|---|---|")
        for name, m in rows:
            print(f"| {name} | {pct(m['paper']['pass@1'])} | {pct(m['qwen-eval']['pass@1'])} | {pct(m['boxed'])} "
                  f"| {pct(m['truncated'])} | {m['mean_tokens']:.0f} |")
        print()
        cats = list(rows[0][1]["paper"]["per_category"])
        print("Per category, greedy, strict / format-agnostic (percent)")
        print("| model | " + " | ".join(f"{c} (n={rows[0][1]['paper']['per_category'][c]['items']})" for c in cats)
              + " |")
        print("|---|" + "---|" * len(cats))
        for name, m in rows:
            print(f"| {name} | " + " | ".join(
                f"{pct(m['paper']['per_category'][c]['pass@1'])} / {pct(m['qwen-eval']['per_category'][c]['pass@1'])}"
                for c in cats) + " |")
        print()
        if len(rows) > 1:
            base = {g["index"]: g for g in read_jsonl(os.path.join(evals[0][1], "test", "graded.jsonl"))}
            print("Paired with the base model, problem by problem (solved only after / solved only before)")
            for name, p in evals[1:]:
                f = os.path.join(p, "test", "graded.jsonl")
                if not os.path.exists(f):
                    continue
                after = {g["index"]: g for g in read_jsonl(f)}
                cells = []
                for gr in GRADERS:
                    gained = sum(1 for i in after if after[i][gr] and not base[i][gr])
                    lost = sum(1 for i in after if base[i][gr] and not after[i][gr])
                    figures[f"test-greedy/{name}"][f"{gr}_gained_lost"] = [gained, lost]
                    cells.append(f"{gr} +{gained} / -{lost}")
                boxed_changed = sum(1 for i in after if after[i]["boxed"] != base[i]["boxed"])
                text_b = {r["index"]: r["response"] for r in responses_of("data/demo/test.jsonl", evals[0][1])}
                text_a = {r["index"]: r["response"] for r in responses_of("data/demo/test.jsonl", p)}
                same = sum(1 for i in text_a if text_a[i] == text_b[i])
                figures[f"test-greedy/{name}"]["responses_unchanged"] = same
                print(f"  {name}: " + ", ".join(cells) + f"; boxed changed on {boxed_changed}; "
                      f"the same response as the base on {same} of {len(after)}")
            print()
        for kind in ("one_shot", "format_only"):
            runs = [m for name, m in rows if name.startswith(kind + "-s")]
            if len(runs) > 1:
                for gr in GRADERS:
                    v = [100 * m[gr]["pass@1"] for m in runs]
                    mean = sum(v) / len(v)
                    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
                    print(f"{kind} {gr}: mean {mean:.1f}, sample std {sd:.1f} over {len(v)} seeds")
        print()
    full = os.path.join(root, "base-greedy-500")
    if os.path.exists(os.path.join(full, "test", "graded.jsonl")):
        m = metrics_of("data/demo/test.jsonl", full)
        figures["test-greedy-500/base"] = m
        cats = list(m["paper"]["per_category"])
        print(f"Base, all {m['items']} test problems, greedy (percent)")
        print("| grader | all | " + " | ".join(f"{c} (n={m['paper']['per_category'][c]['items']})" for c in cats)
              + " | boxed | truncated | mean tokens |")
        print("|---|---|" + "---|" * len(cats) + "---|---|---|")
        for gr in GRADERS:
            print(f"| {gr} | {pct(m[gr]['pass@1'])} | "
                  + " | ".join(pct(m[gr]["per_category"][c]["pass@1"]) for c in cats)
                  + f" | {pct(m['boxed'])} | {pct(m['truncated'])} | {m['mean_tokens']:.0f} |")
        print()
    pk = os.path.join(root, "base-pass8")
    if os.path.exists(os.path.join(pk, "test", "graded.jsonl")):
        m = metrics_of("data/demo/test.jsonl", pk)
        figures["test-pass8/base"] = m
        k = m["samples"]
        print(f"Base, test first {m['items']} problems, {k} samples at temperature 0.7 (percent)")
        print(f"| grader | pass@1 | pass@{k} | boxed | truncated |")
        print("|---|---|---|---|---|")
        for gr in GRADERS:
            print(f"| {gr} | {pct(m[gr]['pass@1'])} | {pct(m[gr][f'pass@{k}'])} | {pct(m['boxed'])} "
                  f"| {pct(m['truncated'])} |")
        print()
        cats = list(m["paper"]["per_category"])
        print(f"pass@1 / pass@{k} by category (percent)")
        print("| grader | " + " | ".join(f"{c} (n={m['paper']['per_category'][c]['items']})" for c in cats) + " |")
        print("|---|" + "---|" * len(cats))
        for gr in GRADERS:
            pc = m[gr]["per_category"]
            print(f"| {gr} | " + " | ".join(f"{pct(pc[c]['pass@1'])} / {pct(pc[c][f'pass@{k}'])}" for c in cats) + " |")
        print()
    train_rows = []
    for d in sorted(os.listdir(root)):
        mf = os.path.join(root, d, "metrics.jsonl")
        if d.startswith(("one_shot-s", "format_only-s")) and os.path.exists(mf):
            ms = [m for m in read_jsonl(mf) if m.get("step", 0) >= 1]
            if not ms:
                continue
            secs = [m["seconds"] for m in ms if "seconds" in m]
            info = {"steps": len(ms), "seconds_per_step": sum(secs) / len(secs),
                    "reward_first": ms[0].get("reward_mean"), "reward_last": ms[-1].get("reward_mean"),
                    "accuracy": [m.get("accuracy") for m in ms], "reward": [m.get("reward_mean") for m in ms]}
            figures[f"train/{d}"] = info
            train_rows.append((d, info))
    if train_rows:
        print("Training runs")
        print("| run | steps | s/step | reward step 1 | reward last step | train accuracy by step |")
        print("|---|---|---|---|---|---|")
        for d, i in train_rows:
            acc = " ".join(f"{a:.2f}" for a in i["accuracy"] if a is not None)
            print(f"| {d} | {i['steps']} | {i['seconds_per_step']:.0f} | {i['reward_first']:.3f} "
                  f"| {i['reward_last']:.3f} | {acc} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("regrade")
    a.add_argument("set_file")
    a.add_argument("eval_dir")
    a.add_argument("--verity", default=os.environ.get("V", ".build/release/verity"))
    a.set_defaults(f=regrade)
    a = sub.add_parser("metrics")
    a.add_argument("set_file")
    a.add_argument("eval_dir")
    a.set_defaults(f=metrics)
    a = sub.add_parser("history")
    a.add_argument("pool_file")
    a.add_argument("eval_dir")
    a.add_argument("out")
    a.add_argument("--grader", choices=GRADERS, default="paper")
    a.set_defaults(f=history)
    a = sub.add_parser("tables")
    a.add_argument("root")
    a.add_argument("--json")
    a.set_defaults(f=tables)
    args = ap.parse_args()
    args.f(args)


if __name__ == "__main__":
    main()
