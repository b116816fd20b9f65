-- The paper's main run (Wang et al., 2025, "Reinforcement Learning for Reasoning in Large Language
-- Models with One Training Example"): GRPO on the single example pi1 with Qwen2.5-Math-1.5B, settings
-- from scripts/train/training_1.5b_pi1_r128.sh and the verl config it uses (data/README.md section 4).
local chat = require "lib.chat"
local constant = require "schedules.constant"

return {
  name = "pi1-grpo",
  description = "1-shot RLVR on pi1 (DSR-sub index 124, label 12.8), Qwen2.5-Math-1.5B, GRPO",
  model = "models/Qwen2.5-Math-1.5B",
  train = {
    data = "data/train/pi1.jsonl", repeat_to = 128, batch_size = 128, shuffle = true,
    required_fields = { "prompt", "answer" },  -- prompts.paper reads `prompt`, the reward `answer`
  },
  eval = {
    every = 20, before_train = true, sets = { "data/eval/math500_verl.jsonl" },
    temperature = 0, samples = 1, max_tokens = 3072, required_fields = { "prompt", "answer" },
  },
  prompt = require "prompts.paper",
  chat_format = chat.qwen25_math,
  reward = require "rewards.boxed_equal",
  grader = "paper",
  algorithm = "grpo",
  advantage = { epsilon = 1e-6, normalize_std = true },
  -- top_k = 0 is "off" (verl writes -1); top_p = 1.0 is off as well.
  rollout = { n = 8, temperature = 0.6, top_p = 1.0, top_k = 0, max_tokens = 3072, max_prompt_tokens = 1024 },
  optimizer = { lr = 1e-6, betas = { 0.9, 0.999 }, weight_decay = 0.01, max_grad_norm = 1.0 },
  update = { clip_ratio = 0.2, epochs = 1, mini_batch_size = 128 },
  kl = { estimator = "low_var_kl" },
  loss = require "losses.paper",
  schedules = { lr = constant(1e-6) },
  steps = 2000,
  save_every = 20,
  seed = 0,
}
