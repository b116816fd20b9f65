#!/usr/bin/env bash
# Data-parallel scaling on this machine (docs/scaling.md): the same recipe for STEPS steps in one process and on
# 2 ranks under mpirun, one thread per rank, on two models: the tiny fixture (Tests/Fixtures/tiny-qwen2) and a
# mid-sized random model (the Qwen2.5-0.5B shape cut to 4 layers, 0.2B parameters, made by `verity model init`).
# Prints one JSON object: per model and rank count, seconds per step (steps after the first), steps/s, and on 2
# ranks the share of a step rank 0 spent in collectives (waiting for the other rank included).
#
#   swift build -c release && Scripts/bench/scaling.sh [STEPS] > docs/bench/scaling-DATE.json
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-6}
verity=$PWD/.build/release/verity
work=$(mktemp -d /tmp/verity-scaling-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpiflags=(--oversubscribe --mca odls_base_sigkill_timeout 60)
[ "$(id -u)" = 0 ] && mpiflags+=(--allow-run-as-root)

for i in 1 2 3 4 5 6 7 8; do
  echo "{\"prompt\": \"Problem $i: the answer is\", \"answer\": \"e\"}"
done > "$work/data.jsonl"

# The mid-sized model: the 0.5B shape with 4 layers.
python3 - "$work" <<'PY'
import json, sys
c = json.load(open("Tests/Fixtures/configs/qwen2.5-0.5b/config.json"))
c["num_hidden_layers"] = 4
c["max_window_layers"] = 4
json.dump(c, open(sys.argv[1] + "/mid-config.json", "w"))
PY
"$verity" model init --config "$work/mid-config.json" --tokenizer Tests/Fixtures/qwen2.5-tokenizer --out "$work/mid" >/dev/null

recipe() {  # name model n max_tokens
  cat > "$work/$1.lua" <<LUA
return {
  name = "$1", model = "$2",
  train = { data = "$work/data.jsonl", batch_size = 8, required_fields = { "prompt" } },
  prompt = require "prompts.raw",
  reward = function(sample)
    local _, c = string.gsub(sample.response, "e", "")
    return c / math.max(1, #sample.response)
  end,
  rollout = { n = $3, temperature = 1.0, max_tokens = $4, max_prompt_tokens = 64 },
  optimizer = { lr = 1e-3, weight_decay = 0.0, max_grad_norm = 1.0 },
  update = { mini_batch_size = 8, max_tokens_per_micro_batch = 2048 },
  loss = function(step, terms) return { pg = 1.0, kl = 0.01 } end,
  steps = $steps, save_every = 0, seed = 1,
}
LUA
}
recipe tiny "$PWD/Tests/Fixtures/tiny-qwen2" 8 32
recipe mid "$work/mid" 4 64

summarize() {  # metrics.jsonl -> "seconds_per_step comm_share"
  python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r.get("step", 0) >= 2]
s = sum(r["seconds"] for r in rows) / len(rows)
c = sum(r.get("seconds_comm", 0) for r in rows) / len(rows)
print(json.dumps({"seconds_per_step": s, "steps_per_s": 1 / s, "comm_seconds_per_step": c, "comm_share": c / s,
                  "reward_mean_last": rows[-1]["reward_mean"], "grad_norm_last": rows[-1]["grad_norm"]}))
PY
}

echo "{"
first=1
for m in tiny mid; do
  "$verity" train "$work/$m.lua" --run-dir "$work/$m-1" --threads 1 >/dev/null 2>"$work/$m-1.log"
  mpirun "${mpiflags[@]}" -np 2 "$verity" train "$work/$m.lua" --run-dir "$work/$m-2" --threads 1 >/dev/null 2>"$work/$m-2.log"
  one=$(summarize "$work/$m-1/metrics.jsonl")
  two=$(summarize "$work/$m-2/metrics.jsonl")
  [ $first = 1 ] || echo ","
  first=0
  echo "\"$m\": {\"one_process\": $one, \"two_ranks\": $two}"
done
echo ", \"steps\": $steps, \"threads_per_rank\": 1, \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\"}"
