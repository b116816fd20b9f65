-- Loss ablation, entropy loss only (Wang et al., 2025, section 4.2 and Table 5: with no policy-
-- gradient term, so no reward signal reaches the model, maximising token entropy alone still raises
-- Qwen2.5-Math-1.5B's MATH500 accuracy, by 27.4% in the abstract). The pi1 run with the loss mix
-- -0.001 * entropy (losses.entropy_only); rollouts, rewards and accuracies are still computed and
-- logged, they only carry no gradient. No KL term, so no reference model is loaded. The paper
-- reports this ablation at early checkpoints; evaluation every 20 steps (pi1's) records them.
-- Follows scripts/train/training_1.5b_pi1_r128.sh with the policy loss and the KL loss removed.
local paper = require "common"

return paper {
  name = "pi1-entropy-only",
  description = "pi1, entropy loss only (-0.001 entropy, no policy-gradient or KL term), Qwen2.5-Math-1.5B",
  loss = require "losses.entropy_only",
}
