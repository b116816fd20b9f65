-- The demo's entropy-only ablation (the paper's "entropy loss only"): the 1-shot run's settings, no
-- policy-gradient term, only -0.001 x entropy (so no reward signal reaches the model).
return require("grpo") {
  name = "demo-one-shot-entropy",
  description = "1-shot demo run with the entropy loss only",
  loss = require "losses.entropy_only",
}
