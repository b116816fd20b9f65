-- A smoke run of the trainer on the tiny random Qwen2 the tests carry (Tests/Fixtures/tiny-qwen2):
-- GRPO on two prompts with a toy reward (the share of "e" characters in the response), so the whole
-- loop (prompts, rollouts, Lua reward, advantages, fused update, AdamW, checkpoints, metrics) runs in
-- seconds on 2 cores and the reward visibly rises. It is not the paper's task: there is no math here
-- (the embedded demo model and its 1-shot run come with the demo issue). Run it from the repository
-- root: `verity train Scripts/recipes/demo/tiny_toy.lua --run-dir runs/tiny_toy`.
return {
  name = "tiny_toy",
  description = "GRPO smoke run on the tiny fixture model with a toy reward",
  model = "Tests/Fixtures/tiny-qwen2",
  train = { data = "tiny_toy.jsonl", repeat_to = 4, batch_size = 4, required_fields = { "prompt" } },
  prompt = require "prompts.raw",
  reward = function(sample)
    local _, count = string.gsub(sample.response, "e", "")
    return count / math.max(1, #sample.response)
  end,
  algorithm = "grpo",
  rollout = { n = 4, temperature = 1.0, max_tokens = 12, max_prompt_tokens = 64 },
  optimizer = { lr = 3e-2, weight_decay = 0.0, max_grad_norm = 1.0 },
  update = { mini_batch_size = 4, micro_batch_size = 8 },
  loss = function(step, terms) return { pg = 1.0 } end,
  schedules = { lr = function(step, total) return 3e-2 end },
  steps = 10,
  save_every = 5,
  seed = 3,
}
