-- Loss ablation, policy-gradient loss only (Wang et al., 2025, section 4.1 and Table 5, the loss
-- ablation that separates 1-shot RLVR from grokking): the pi1 run with the clipped policy-gradient
-- term alone, no KL loss, no entropy bonus (losses.pg_only) and no weight decay, the regulariser
-- grokking is attributed to. The row of Table 5 that adds weight decay back is this recipe with
-- --set optimizer.weight_decay=0.01. Follows scripts/train/training_1.5b_pi1_r128.sh with
-- actor.use_kl_loss=False, actor.entropy_coeff=0 and actor.optim.weight_decay=0.
local paper = require "common"

return paper {
  name = "pi1-pg-only",
  description = "pi1, policy-gradient loss only (no KL, no entropy, no weight decay), Qwen2.5-Math-1.5B, GRPO",
  loss = require "losses.pg_only",
  optimizer = { weight_decay = 0.0 },
}
