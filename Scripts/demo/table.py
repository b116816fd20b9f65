#!/usr/bin/env python3
"""Prints the tables of docs/demo.md from the run folders Scripts/demo/experiments.sh writes (standard library only;
never needed by the tests or the main command).

    python3 Scripts/demo/table.py runs/demo-experiments [--json]

Strict = the training reward's grader (`paper`: the last \\boxed{} holds the answer). Lenient = `qwen-eval`
(a \\boxed{} answer, else "the answer is N", else the last number): format-agnostic. Accuracy in percent,
mean ± sample standard deviation over seeds where there are several.
"""
import glob
import json
import os
import statistics
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "runs/demo-experiments"
SPLITS = ["validation", "test"]


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


CATEGORY = {}
for split in SPLITS:
    for r in jsonl(f"data/demo/{split}.jsonl"):
        CATEGORY[r["id"]] = r["category"]
CATEGORIES = sorted(set(CATEGORY.values()))


def metrics(run):
    return jsonl(os.path.join(run, "metrics.jsonl"))


def steps(run):
    return sorted(int(p.rsplit("-", 1)[1]) for p in glob.glob(os.path.join(run, "checkpoints", "step-*")))


def responses(folder, split):
    path = os.path.join(folder, split, "responses.jsonl")
    return jsonl(path) if os.path.exists(path) else None


def strict_folder(run, step):
    return os.path.join(run, "eval", f"step-{step}")


def lenient_folder(run, step):
    return os.path.join(run, "lenient", f"step-{step}")


def score(rows, category=None):
    rows = [r for r in rows if category is None or CATEGORY.get(r["item_id"]) == category]
    return 100 * sum(bool(r["correct"]) for r in rows) / max(1, len(rows))


def boxed(rows, category=None):
    rows = [r for r in rows if category is None or CATEGORY.get(r["item_id"]) == category]
    return 100 * sum("\\boxed{" in r["response"] for r in rows) / max(1, len(rows))


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def row_at(run, step, split, category=None):
    """(strict, lenient, boxed share) of `run` at `step` on `split` (step 0: the base model)."""
    s = responses(strict_folder(run, step), split)
    if step == 0:
        lf = os.path.join(OUT, "base-lenient")
    else:
        lf = lenient_folder(run, step)
    l = responses(lf, split)
    return (score(s, category) if s else None, score(l, category) if l else None, boxed(s, category) if s else None)


def group(prefix):
    return sorted(p for p in glob.glob(os.path.join(OUT, prefix)) if os.path.isdir(p))


result = {}
if group("lr-*"):
  print("## Learning rate of the 1-shot run (seed 1; validation only)\n")
  print("| lr | step | validation strict | validation lenient | boxed |")
  print("|---|---|---|---|---|")
  for run in group("lr-*"):
      for step in [0] + steps(run):
          s, l, b = row_at(run, step, "validation")
          print(f"| {run.rsplit('lr-', 1)[1]} | {step} | {fmt([s])} | {fmt([l])} | {fmt([b])} |")

print("\n## Before and after (test split, last step; mean ± std over seeds)\n")
print("| run | seeds | steps | test strict | test lenient | boxed | validation strict | validation lenient |")
print("|---|---|---|---|---|---|---|---|")
runs = {"base model": None, "1-shot (pi1)": "one_shot-s*", "format reward only": "format_only-s*",
        "entropy loss only": "entropy-s*", "full pool (500)": "full_pool"}
for name, pattern in runs.items():
    if pattern is None:
        any_run = (group("one_shot-s*") or group("lr-*"))[0]
        cells = [row_at(any_run, 0, "test"), row_at(any_run, 0, "validation")]
        print(f"| {name} | - | 0 | {fmt([cells[0][0]])} | {fmt([cells[0][1]])} | {fmt([cells[0][2]])} | "
              f"{fmt([cells[1][0]])} | {fmt([cells[1][1]])} |")
        result[name] = cells
        continue
    rs = group(pattern)
    if not rs:
        continue
    last = [steps(r)[-1] for r in rs]
    t = [row_at(r, s, "test") for r, s in zip(rs, last)]
    v = [row_at(r, s, "validation") for r, s in zip(rs, last)]
    print(f"| {name} | {len(rs)} | {last[0]} | {fmt([x[0] for x in t])} | {fmt([x[1] for x in t])} | "
          f"{fmt([x[2] for x in t])} | {fmt([x[0] for x in v])} | {fmt([x[1] for x in v])} |")
    result[name] = {"test": t, "validation": v}

one = group("one_shot-s*")
if one:
    pi1 = jsonl("data/demo/pi1.jsonl")[0]
    print(f"\n## Per category (test split; pi1 is `{pi1['category']}`; 1-shot at its last step, mean over seeds)\n")
    print("| category | base strict | 1-shot strict | format-only strict | base lenient | 1-shot lenient | "
          "base boxed | 1-shot boxed |")
    print("|---|---|---|---|---|---|---|---|")
    fo = group("format_only-s*")
    for c in CATEGORIES:
        b = row_at(one[0], 0, "test", c)
        a = [row_at(r, steps(r)[-1], "test", c) for r in one]
        f = [row_at(r, steps(r)[-1], "test", c) for r in fo]
        mark = " (pi1's)" if c == pi1["category"] else ""
        print(f"| {c}{mark} | {fmt([b[0]])} | {fmt([x[0] for x in a])} | {fmt([x[0] for x in f])} | {fmt([b[1]])} | "
              f"{fmt([x[1] for x in a])} | {fmt([b[2]])} | {fmt([x[2] for x in a])} |")

    print("\n## Over steps (1-shot, mean over seeds): training accuracy on pi1 against test accuracy\n")
    print("| step | training accuracy (pi1, strict) | test strict | test lenient |")
    print("|---|---|---|---|")
    for step in [0] + steps(one[0]):
        train = [m.get("accuracy") for r in one for m in metrics(r) if m.get("step") == step and "accuracy" in m]
        t = [row_at(r, step, "test") for r in one]
        print(f"| {step} | {fmt([100 * x for x in train])} | {fmt([x[0] for x in t])} | {fmt([x[1] for x in t])} |")

if "--json" in sys.argv:
    print(json.dumps(result, indent=1))
