-- 1-shot RLVR on pi1 with PPO instead of GRPO (Wang et al., 2025: the abstract's "RL algorithms
-- (GRPO and PPO)"; the PPO run on pi1 with Qwen2.5-Math-1.5B). Follows
-- scripts/train/training_1.5b_pi1_r128.sh with algorithm.adv_estimator=gae, verl's PPO: a critic
-- estimates values and GAE turns rewards into advantages; the actor's settings (clip 0.2, KL 0.001
-- low_var_kl as a loss, entropy 0.001, lr 1e-6, batch 128 x 8 rollouts) stay the pi1 run's.
-- The critic's own settings are verl's defaults (critic lr 1e-5, gamma 1.0, lambda 1.0, value clip
-- 0.5), written out below; the critic starts from the policy's weights with a zero value head.
local paper = require "common"

return paper {
  name = "pi1-ppo",
  description = "1-shot RLVR on pi1 with PPO (critic + GAE), Qwen2.5-Math-1.5B",
  algorithm = "ppo",
  critic = { lr = 1e-5, gamma = 1.0, lambda = 1.0, value_clip = 0.5 },
}
