-- The format-reward control for the SmolLM2 1-shot run: the same settings with a reward of 1 for any closed
-- \boxed{} (whatever is inside): what format correction alone gives, to set against the real reward.
return require("smollm2_grpo") {
  name = "smollm2-format-only",
  description = "1-shot SmolLM2-135M-Instruct run with a format-only reward",
  reward = require "rewards.format",
}
