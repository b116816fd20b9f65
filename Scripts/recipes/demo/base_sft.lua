-- Builds the embedded demo's base model (models/demo-base): supervised fine-tuning of the earlier demo
-- base (a 4-layer Qwen2, Scripts/demo/config.json, 3.4M parameters, 1,000 SFT steps on worked solutions;
-- kept as runs/demo/base-v2 by models/demo-base/README.md's commands) on 60,000 synthetic word problems. Every response ends in \boxed{N}, in one of two styles chosen by its first line: 35% are
-- *careful* ("Step by step.", every step, then "Recheck:" of the last step, which repairs a slip in a
-- quarter of them) and 65% *hasty* ("Quick answer." and the answer with no steps); verity data synth
-- --plain-fraction 0 --careful-fraction 0.35 --slip-fraction 0.25. Greedy decoding takes the majority
-- style, so the model holds a capability (working the steps) that it rarely uses. The corpus continues
-- the training split after the RL pool, so it shares no problem with data/demo/{train,validation,test}.jsonl.
-- The checkpoint is the last one (step 300, fixed before training); models/demo-base/README.md has the
-- commands and what the validation split says of it.
local cosine = require "schedules.cosine"

return {
  name = "demo-base-sft",
  description = "SFT of the demo base model on the synthetic corpus",
  model = "runs/demo/base-v2",
  algorithm = "sft",
  sft = { response_field = "response", max_tokens = 320, pack_tokens = 512 },
  train = {
    data = "runs/demo/corpus/sft.jsonl", batch_size = 64, shuffle = true,
    required_fields = { "problem", "answer" },
  },
  eval = {
    every = 100, before_train = false, sets = { "data/demo/validation.jsonl" },
    temperature = 0, samples = 1, max_tokens = 192, required_fields = { "problem", "answer" },
  },
  prompt = require "prompts.demo",
  reward = require "rewards.boxed_equal",
  grader = "qwen-eval",  -- format-agnostic (\boxed{}, "the answer is", or the last number), as the paper's evaluation
  optimizer = { lr = 1e-3, betas = { 0.9, 0.95 }, weight_decay = 0.01, max_grad_norm = 1.0 },
  update = { micro_batch_size = 8 },
  loss = function(step, terms) return { sft = 1.0 } end,
  schedules = { lr = cosine { peak = 1e-3, warmup = 50, min_ratio = 0.05 } },
  steps = 300,
  save_every = 100,
  seed = 1,
}
