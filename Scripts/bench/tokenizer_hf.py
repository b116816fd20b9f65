#!/usr/bin/env python3
"""Peer benchmark for `verity bench tokenizer`: Hugging Face `tokenizers` (pip install tokenizers),
single-threaded, on the same documents: MATH500 `problem` then `solution` of each record in file
order, the whole list repeated until the UTF-8 total reaches --megabytes * 10^6 bytes, one
`encode(doc, add_special_tokens=False)` call per document. Prints one JSON object with medians
over --repeats runs and the CPU share other processes took during each run (Linux /proc).
Benchmark-only: nothing in the Swift package depends on this script.
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import tokenizers  # noqa: E402


def documents(path, target_bytes):
    base = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                base.append(record["problem"])
                base.append(record["solution"])
    docs, total = [], 0
    while total < target_bytes:
        for d in base:
            docs.append(d)
            total += len(d.encode("utf-8"))
    return docs, total


def cpu_snapshot():
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:9]]
        with open("/proc/self/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        own = float(rest[11]) + float(rest[12])
    except (OSError, ValueError, IndexError):
        return None
    total = sum(fields)
    return (total - fields[3] - fields[4], total, own)


def other_share(a, b):
    if a is None or b is None or b[1] <= a[1]:
        return None
    return max(0.0, ((b[0] - a[0]) - (b[2] - a[2])) / (b[1] - a[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default="Tests/Fixtures/qwen2.5-tokenizer/tokenizer.json")
    ap.add_argument("--data", default="data/eval/math500.jsonl")
    ap.add_argument("--megabytes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    load = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        tok = tokenizers.Tokenizer.from_file(args.tokenizer)
        load.append(time.perf_counter() - t0)
    docs, nbytes = documents(args.data, int(args.megabytes * 1e6))
    runs = []
    for _ in range(max(1, args.repeats)):
        before = cpu_snapshot()
        t0 = time.perf_counter()
        ntok = 0
        for d in docs:
            ntok += len(tok.encode(d, add_special_tokens=False).ids)
        dt = time.perf_counter() - t0
        runs.append({"seconds": dt, "mb_per_s": nbytes / 1e6 / dt, "tokens_per_s": ntok / dt,
                     "other_cpu_share": other_share(before, cpu_snapshot()), "tokens": ntok})
    print(json.dumps({
        "bench": "tokenizer_hf",
        "tokenizers_version": tokenizers.__version__,
        "documents": len(docs),
        "text_bytes": nbytes,
        "tokens": runs[0]["tokens"],
        "threads": 1,
        "load_seconds": load,
        "load_seconds_median": statistics.median(load),
        "mb_per_s_median": statistics.median(r["mb_per_s"] for r in runs),
        "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in runs),
        "runs": runs,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
