-- The embedded demo's 1-shot RLVR run (the README's main command): GRPO on one training example, the
-- one ranked first by historical variance (`verity select --method std` on the history of
-- full_pool.lua; data/demo/pi1.jsonl), repeated to fill the batch, on models/demo-base. It prints the
-- validation and test accuracy before and after training as its last lines (summary.json).
return require("grpo") {
  name = "demo-one-shot",
  description = "1-shot GRPO on the demo's pi1, models/demo-base",
}
