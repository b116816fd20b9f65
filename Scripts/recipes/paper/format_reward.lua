-- Format-reward-only run (Wang et al., 2025, the discussion of format correction: how much of
-- 1-shot RLVR's gain is the model learning to put its answer in \boxed{}). The pi1 run with the
-- reward 1 for any response holding a closed \boxed{...}, whatever is inside, and 0 otherwise
-- (rewards.format), in place of the correctness reward. Evaluation still grades answers with the
-- recipe's grader, so the MATH500 curve measures correctness. Follows
-- scripts/train/training_1.5b_pi1_r128.sh with a format-only reward function.
local paper = require "common"

return paper {
  name = "pi1-format-reward",
  description = "pi1 with a format-only reward (1 for a closed \\boxed{}), Qwen2.5-Math-1.5B, GRPO",
  reward = require "rewards.format",
}
