-- The demo's format-reward baseline: the 1-shot run's settings with a reward of 1 for any closed
-- \boxed{} (whatever is inside): what format correction alone gives, to set against the real reward.
return require("grpo") {
  name = "demo-format-only",
  description = "1-shot demo run with a format-only reward",
  reward = require "rewards.format",
}
