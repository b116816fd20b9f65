#!/usr/bin/env python3
"""Prints the tables of docs/demo.md from the folders Scripts/demo/experiments.sh writes (standard library and the
verity binary only; never needed by the tests or the main command).

    python3 Scripts/demo/table.py runs/demo-experiments [--json]     (VERITY=path/to/verity)

Strict = grader `paper`, the training reward's: the last \\boxed{} holds the answer. Lenient = `qwen-eval`, format-
agnostic: a \\boxed{} answer, else "the answer is N", else the last number; the saved responses are regraded with
`verity grade --cases` (no new sampling). Careful = the share of responses in the careful style (they start "Step by
step."); reflection = the share that use a self-reflection word (`verity eval`'s reflection_rate, default words).
Accuracy in percent; mean ± sample standard deviation over seeds where there are several.
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

OUT = sys.argv[1] if len(sys.argv) > 1 else "runs/demo-experiments"
VERITY = os.environ.get("VERITY", ".build/release/verity")
SPLITS = ["validation", "test"]
REFLECTION = re.compile(r"(?<![a-z])(rethink|recheck|recalculate|re-evaluate|re-examine|double-check|verify)")


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


ITEMS = {}
for split in SPLITS:
    for r in jsonl(f"data/demo/{split}.jsonl"):
        ITEMS[r["id"]] = r
CATEGORIES = sorted({r["category"] for r in ITEMS.values()})


def lenient(rows):
    """qwen-eval's verdict on each response (verity grade --cases, kind raw)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in rows:
            f.write(json.dumps({"gold": ITEMS[r["item_id"]]["answer"], "prediction": r["response"], "kind": "raw"}) + "\n")
        name = f.name
    try:
        out = subprocess.run([VERITY, "grade", "--cases", name, "--profile", "qwen-eval"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(name)
    verdicts = [json.loads(line)["equal"] for line in out.splitlines() if line.strip()]
    assert len(verdicts) == len(rows), (len(verdicts), len(rows))
    return verdicts


CACHE = {}


def responses(folder, split):
    """The responses of `folder`/`split` with a `lenient` verdict each, or None."""
    path = os.path.join(folder, split, "responses.jsonl")
    if not os.path.exists(path):
        return None
    if path not in CACHE:
        rows = jsonl(path)
        for r, ok in zip(rows, lenient(rows)):
            r["lenient"] = ok
        CACHE[path] = rows
    return CACHE[path]


def pick(rows, category):
    return [r for r in rows if category is None or ITEMS[r["item_id"]]["category"] == category]


def share(rows, test):
    return 100 * sum(bool(test(r)) for r in rows) / max(1, len(rows))


def figures(rows, category=None):
    """strict, lenient, boxed, careful, reflection (percent of responses) and pass@k (percent of items) of `rows`."""
    rows = pick(rows, category)
    by_item = {}
    for r in rows:
        by_item.setdefault(r["item_id"], []).append(r)
    return {
        "strict": share(rows, lambda r: r["correct"]),
        "lenient": share(rows, lambda r: r["lenient"]),
        "boxed": share(rows, lambda r: "\\boxed{" in r["response"]),
        "careful": share(rows, lambda r: r["response"].lstrip().startswith("Step by step")),
        "reflection": share(rows, lambda r: REFLECTION.search(r["response"].lower())),
        "pass_strict": share(list(by_item.values()), lambda rs: any(r["correct"] for r in rs)),
        "pass_lenient": share(list(by_item.values()), lambda rs: any(r["lenient"] for r in rs)),
    }


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def steps(run):
    return sorted(int(p.rsplit("-", 1)[1]) for p in glob.glob(os.path.join(run, "eval", "step-*")))


def at(run, step, split, category=None):
    rows = responses(os.path.join(run, "eval", f"step-{step}"), split)
    return figures(rows, category) if rows else None


def group(prefix):
    """The finished runs (with summary.json) whose folder matches `prefix`."""
    return sorted(p for p in glob.glob(os.path.join(OUT, prefix)) if os.path.isfile(os.path.join(p, "summary.json")))


def col(cells, key):
    return fmt([c[key] for c in cells if c])


result = {}
# The base model: greedy and pass@8.
greedy, sampled = os.path.join(OUT, "base-greedy"), os.path.join(OUT, "base-pass8")
if os.path.isdir(greedy):
    print("## The base model (greedy; pass@8 from 8 samples at temperature 1.0)\n")
    print("| split | category | greedy strict | greedy lenient | boxed | careful | sampled strict (avg@8) | "
          "sampled careful | pass@8 strict | pass@8 lenient |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for split in SPLITS:
        for c in [None] + CATEGORIES:
            g = figures(responses(greedy, split), c)
            s = figures(responses(sampled, split), c) if os.path.isdir(sampled) else None
            print(f"| {split} | {c or 'all'} | {g['strict']:.1f} | {g['lenient']:.1f} | {g['boxed']:.1f} | "
                  f"{g['careful']:.1f} | " + (f"{s['strict']:.1f} | {s['careful']:.1f} | {s['pass_strict']:.1f} | "
                                              f"{s['pass_lenient']:.1f} |" if s else "- | - | - | - |"))
            result[f"base/{split}/{c or 'all'}"] = {"greedy": g, "pass8": s}

if group("lr-*"):
    print("\n## Learning rate of the 1-shot run (seed 1; validation only)\n")
    print("| lr | step | validation strict | validation lenient | careful |")
    print("|---|---|---|---|---|")
    for run in group("lr-*"):
        for step in steps(run):
            v = at(run, step, "validation")
            print(f"| {run.rsplit('lr-', 1)[1]} | {step} | {v['strict']:.1f} | {v['lenient']:.1f} | {v['careful']:.1f} |")

# The step the tables read: the one chosen on validation (experiments.sh's chosen.json), else each run's last.
CHOSEN = json.load(open(os.path.join(OUT, "chosen.json"))) if os.path.isfile(os.path.join(OUT, "chosen.json")) else None
if CHOSEN:
    score = CHOSEN.get("validation_strict")
    print(f"\nChosen on validation: learning rate {CHOSEN['lr']}, step {CHOSEN['step']}"
          + (f" (validation strict {100 * score:.1f})." if score is not None else " (docs/demo.md's sweep)."))


def read_step(run):
    """The chosen step where `run` was evaluated there, else its last evaluated step."""
    return CHOSEN["step"] if CHOSEN and CHOSEN["step"] in steps(run) else steps(run)[-1]


RUNS = {"1-shot (pi1)": "one_shot-s*", "format reward only": "format_only-s*", "entropy loss only": "entropy-s*",
        "1-shot (lowest variance)": "low_var-s*", "full pool (500)": "full_pool"}
print("\n## Before and after (at the chosen step; mean ± std over seeds)\n")
print("| run | seeds | steps | test lenient | test strict | careful | reflection | boxed | validation lenient | "
      "validation strict |")
print("|---|---|---|---|---|---|---|---|---|---|")
if os.path.isdir(greedy):
    t, v = figures(responses(greedy, "test")), figures(responses(greedy, "validation"))
    print(f"| base model | - | 0 | {t['lenient']:.1f} | {t['strict']:.1f} | {t['careful']:.1f} | {t['reflection']:.1f} | "
          f"{t['boxed']:.1f} | {v['lenient']:.1f} | {v['strict']:.1f} |")
ROWS = [(name, pattern, read_step) for name, pattern in RUNS.items()]
ROWS += [("1-shot (pi1), last step", "one_shot-s*", lambda r: steps(r)[-1]),
         ("full pool (500), last step", "full_pool", lambda r: steps(r)[-1])]
for name, pattern, step_of in ROWS:
    rs = [r for r in group(pattern) if steps(r)]
    if not rs or (name.endswith("last step") and all(step_of(r) == read_step(r) for r in rs)):
        continue
    last = [step_of(r) for r in rs]
    t = [at(r, s, "test") for r, s in zip(rs, last)]
    v = [at(r, s, "validation") for r, s in zip(rs, last)]
    print(f"| {name} | {len(rs)} | {last[0]} | {col(t, 'lenient')} | {col(t, 'strict')} | {col(t, 'careful')} | "
          f"{col(t, 'reflection')} | {col(t, 'boxed')} | {col(v, 'lenient')} | {col(v, 'strict')} |")
    result[name] = {"runs": rs, "test": t, "validation": v}

one = [r for r in group("one_shot-s*") if steps(r)]
if one and os.path.isdir(greedy):
    pi1 = jsonl("data/demo/pi1.jsonl")[0]
    fo = [r for r in group("format_only-s*") if steps(r)]
    print(f"\n## Per category (test split, lenient; pi1 is `{pi1['category']}`; chosen step, mean over seeds)\n")
    print("| category | base | 1-shot | format-only | base careful | 1-shot careful |")
    print("|---|---|---|---|---|---|")
    for c in CATEGORIES:
        b = figures(responses(greedy, "test"), c)
        a = [at(r, read_step(r), "test", c) for r in one]
        f = [at(r, read_step(r), "test", c) for r in fo]
        mark = " (pi1's)" if c == pi1["category"] else ""
        print(f"| {c}{mark} | {b['lenient']:.1f} | {col(a, 'lenient')} | {col(f, 'lenient')} | {b['careful']:.1f} | "
              f"{col(a, 'careful')} |")

    # The 80-step continuations (kind "long") where they exist, else the 1-shot runs themselves.
    long = [r for r in group("one_shot_long-s*") if steps(r)]
    over = long or one
    print(f"\n## Over steps (1-shot, mean over {len(over)} seeds): training accuracy on pi1 against test accuracy\n")
    print("| step | training accuracy (pi1, strict) | test lenient | test strict | test careful |")
    print("|---|---|---|---|---|")
    for step in steps(over[0]):
        train = [m.get("accuracy") for r in over for m in jsonl(os.path.join(r, "metrics.jsonl"))
                 if m.get("step") == step and "accuracy" in m]
        t = [at(r, step, "test") for r in over]
        print(f"| {step} | {fmt([100 * x for x in train])} | {col(t, 'lenient')} | {col(t, 'strict')} | "
              f"{col(t, 'careful')} |")

if "--json" in sys.argv:
    print(json.dumps(result, indent=1, default=str))
