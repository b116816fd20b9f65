#!/usr/bin/env bash
# Regenerates every figure of docs/demo.md from models/demo-base (the careful/hasty base; see its README.md):
#  0. the base model on the validation and test splits: greedy, and 8 samples at temperature 1.0 (pass@8), each graded
#     strictly (grader paper: the last \boxed{} holds the answer) and format-agnostically (--also-grade qwen-eval);
#  1. the full-pool GRPO run on data/demo/pool500.jsonl, whose history.json ranks the pool;
#  2. the 1-shot example pi1, the first by historical variance (`verity select --method std`), written to
#     data/demo/pi1.jsonl; and the lowest-variance example among those drawn, data/demo/pi_low.jsonl;
#  3. with SWEEP=1, the learning rate and step count of the 1-shot run, chosen on the validation split (seed 1);
#  4. for each run kind in KINDS (default "one_shot format_only entropy low_var long": 1-shot on pi1, the format-only
#     reward, the entropy loss only, 1-shot on the lowest-variance example, the 1-shot run continued to step 80) and
#     each seed in SEEDS (default "1 2 3").
#     Finished runs are skipped, so several invocations with other KINDS/SEEDS can share OUT (not at the same time
#     for the same run).
# Training runs grade their evaluations with the reward's grader (paper) and, in summary.json's eval_lenient, with
# qwen-eval; `python3 Scripts/demo/table.py OUT` prints the tables (per category, careful-style share) from the
# runs' responses. Usage: Scripts/demo/experiments.sh [OUT_DIR]   (V=path/to/verity, THREADS=n to change them)
set -euo pipefail
V=${V:-.build/release/verity}
OUT=${1:-runs/demo-experiments}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-1 2 3}
mkdir -p "$OUT"
SETS=data/demo/validation.jsonl,data/demo/test.jsonl

evaluate() {  # OUT_DIR SAMPLES TEMPERATURE: the base model, graded both ways
  [ -f "$1/summary.json" ] && return 0
  "$V" eval --model models/demo-base --benchmarks "$SETS" --prompt prompts.demo --grader paper --also-grade qwen-eval \
    --max-tokens 192 --temperature "$3" --samples "$2" --threads "$THREADS" --out "$1" > /dev/null
}

train() {  # RECIPE RUN_DIR [--set k=v ...]: a run, resumed if interrupted
  local recipe=$1 run=$2
  shift 2
  if [ -f "$run/summary.json" ]; then return 0
  elif [ -d "$run/checkpoints" ]; then "$V" train "$recipe" --run-dir "$run" --resume --threads "$THREADS" "$@"
  else rm -rf "$run"; "$V" train "$recipe" --run-dir "$run" --threads "$THREADS" "$@"; fi
}

# 0. The base model.
evaluate "$OUT/base-greedy" 1 0
evaluate "$OUT/base-pass8" 8 1.0

# 1-2. The pool's history, pi1 and the lowest-variance example.
if [ "${SELECT:-1}" = 1 ]; then
  train Scripts/recipes/demo/full_pool.lua "$OUT/full_pool"
  "$V" select --history "$OUT/full_pool/history.json" --method std --top 1 \
    --data data/demo/pool500.jsonl --out data/demo/pi1.jsonl
  cp "$OUT/full_pool/history.json" data/demo/pool500_history.json
  "$V" select --history "$OUT/full_pool/history.json" --method std --top 0 --json > "$OUT/ranking.json"
  python3 - "$OUT/ranking.json" <<'PY'
import json, sys
ranked = json.load(open(sys.argv[1]))  # rank order, highest std first; the last is the lowest variance
pool = [json.loads(l) for l in open("data/demo/pool500.jsonl")]
low = pool[ranked[-1]["index"]]
with open("data/demo/pi_low.jsonl", "w") as f:
    f.write(json.dumps(low) + "\n")
print(f"pi1: {json.loads(open('data/demo/pi1.jsonl').readline())['id']}, lowest variance: {low['id']} ({ranked[-1]['score']})")
PY
fi

# 3. The learning rate and the step count of the 1-shot run, on the validation split only (seed 1), when SWEEP=1: each
# rate runs 40 steps, evaluated every 10; the pair (rate, step) with the best validation strict accuracy wins, ties to
# the smaller rate, then the earlier step. The choice is written to OUT/chosen.json (table.py reads it); without
# SWEEP, an earlier chosen.json is used, else the recorded choice (3e-5, 30 steps). With a constant rate, the first N steps of a 40-step
# run are the N-step run itself (same seed, same draws), so the 1-shot runs go on to step 40 to show what follows
# saturation, and are read at the chosen step; seed 1 of the 1-shot run is the sweep's run at the chosen rate. The
# other kinds run the chosen number of steps.
if [ "${SWEEP:-0}" = 1 ]; then
  for lr in 3e-5 1e-4 3e-4; do
    train Scripts/recipes/demo/one_shot.lua "$OUT/lr-$lr" --set optimizer.lr=$lr --set steps=40
  done
  python3 - "$OUT" <<'PY'
import json, sys
best = None
for lr in ["3e-5", "1e-4", "3e-4"]:  # ascending rate, then ascending step: a tie keeps the earlier pair
    for line in open(f"{sys.argv[1]}/lr-{lr}/metrics.jsonl"):
        m = json.loads(line)
        if m.get("step", 0) > 0 and "eval/validation/accuracy" in m:
            if best is None or m["eval/validation/accuracy"] > best["validation_strict"]:
                best = {"lr": lr, "step": m["step"], "validation_strict": m["eval/validation/accuracy"]}
json.dump(best, open(f"{sys.argv[1]}/chosen.json", "w"))
print(f"chosen on validation: {best}")
PY
fi
# Without a sweep here, the choice docs/demo.md records (grpo.lua's defaults).
[ -f "$OUT/chosen.json" ] || echo '{"lr": "3e-5", "step": 30, "validation_strict": null}' > "$OUT/chosen.json"
LR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lr"])' "$OUT/chosen.json")
STEPS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$OUT/chosen.json")
[ -e "$OUT/one_shot-s1" ] || [ ! -d "$OUT/lr-$LR" ] || ln -s "lr-$LR" "$OUT/one_shot-s1"
echo "1-shot learning rate $LR, $STEPS steps"
for kind in ${KINDS:-one_shot format_only entropy low_var long}; do
  for seed in $SEEDS; do
    case $kind in
      one_shot) train Scripts/recipes/demo/one_shot.lua "$OUT/one_shot-s$seed" --set optimizer.lr=$LR --set seed=$seed \
        --set steps=40 ;;
      format_only) train Scripts/recipes/demo/format_only.lua "$OUT/format_only-s$seed" --set optimizer.lr=$LR \
        --set seed=$seed --set steps=$STEPS ;;
      entropy) train Scripts/recipes/demo/one_shot_entropy.lua "$OUT/entropy-s$seed" --set optimizer.lr=$LR \
        --set seed=$seed --set steps=$STEPS ;;
      low_var) train Scripts/recipes/demo/one_shot.lua "$OUT/low_var-s$seed" --set optimizer.lr=$LR --set seed=$seed \
        --set steps=$STEPS --set train.data=data/demo/pi_low.jsonl ;;
      long)  # the 1-shot run continued to step 80 (post-saturation); it starts from a copy of the 40-step run when
             # there is one (a resume gives the uninterrupted run byte for byte)
        long=$OUT/one_shot_long-s$seed
        [ -e "$long" ] || [ ! -d "$OUT/one_shot-s$seed/checkpoints" ] || {
          cp -rL "$OUT/one_shot-s$seed" "$long"
          rm -f "$long/summary.json"
        }
        train Scripts/recipes/demo/one_shot.lua "$long" --set optimizer.lr=$LR --set seed=$seed --set steps=80 ;;
      *) echo "unknown kind $kind (one_shot, format_only, entropy, low_var, long)" >&2; exit 2 ;;
    esac
  done
done
echo "done: $OUT (python3 Scripts/demo/table.py $OUT prints the tables of docs/demo.md)"
