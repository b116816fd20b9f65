#!/usr/bin/env python3
"""Peer run for `verity bench verify`: the same MATH500-style pairs graded by the Python reference
graders, single thread, grades per second, as JSON. Graders that are not installed are reported as
absent. Run from the repository root:  python3 Scripts/bench/verify_peer.py [--data data/eval/math500.jsonl]

  pip install math-verify==0.9.0   # Hugging Face Math-Verify (the `math-verify` profile's reference)
"""
import argparse
import json
import time


def pairs(path):
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            a = d["answer"]
            out += [(a, a), (a, d.get("answer_qwen", a)), (a, a + "+1")]
    return out


def rate(fn, ps, min_seconds=1.0):
    n, t0 = 0, time.perf_counter()
    while True:
        for g, p in ps:
            fn(g, p)
        n += len(ps)
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/eval/math500.jsonl")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ps = pairs(args.data)
    report = {"pairs": len(ps), "repeats": args.repeats, "rows": []}
    try:
        from math_verify import parse, verify

        def mv(g, p):
            return verify(parse("\\boxed{" + g + "}"), parse("\\boxed{" + p + "}"))

        rs = sorted(rate(mv, ps) for _ in range(args.repeats))
        report["rows"].append({"grader": "math_verify", "pairs_per_second": rs[len(rs) // 2]})
    except ImportError:
        report["rows"].append({"grader": "math_verify", "absent": True})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
