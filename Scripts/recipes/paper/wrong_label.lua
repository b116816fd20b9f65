-- Wrong-label run (Wang et al., 2025, label robustness, rows of Table 5's ablation): the pi1 run
-- with pi1's gold answer replaced by a wrong one. The paper changes the label of the training
-- example itself and keeps everything else; here the reward grades every response against LABEL
-- (rewards.fixed_label) instead of the data's 12.8, which is the same thing for a one-example run
-- and leaves data/train/pi1.jsonl untouched. Evaluation grades against the evaluation sets' own
-- answers. LABEL = "4": a wrong answer (the exact value is 8 * cbrt(4) = 12.70, data/README.md
-- section 1) that the model can still produce. Other labels the paper tries (such as 12.7) are this
-- recipe with LABEL changed. Follows scripts/train/training_1.5b_pi1_r128.sh with the parquet's
-- reward_model.ground_truth changed to the wrong label.
local paper = require "common"

local LABEL = "4"

return paper {
  name = "pi1-wrong-label",
  description = "pi1 trained against the wrong label " .. LABEL .. " instead of 12.8, Qwen2.5-Math-1.5B, GRPO",
  reward = require("rewards.fixed_label")(LABEL),
}
