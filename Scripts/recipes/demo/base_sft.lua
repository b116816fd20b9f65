-- Builds the embedded demo's base model (models/demo-base): supervised fine-tuning of a randomly
-- initialised 4-layer Qwen2 (Scripts/demo/config.json, 3.4M parameters) on 60,000 synthetic word
-- problems with worked solutions. Like a base model's pre-training sources, the answer style depends on
-- the kind of problem: mul_div, fractions and unit_rate answers end "The answer is N." 85% of the time,
-- the other categories' end in \boxed{N} 85% of the time (verity data synth --plain-fraction 0.15
-- --plain-by-category ...=0.85). The corpus continues the training split after the RL pool, so it shares
-- no problem with data/demo/{train,validation,test}.jsonl. The checkpoint is chosen on the validation
-- split (never the test split); models/demo-base/README.md has the commands.
local cosine = require "schedules.cosine"

return {
  name = "demo-base-sft",
  description = "SFT of the demo base model on the synthetic corpus",
  model = "runs/demo/init",
  algorithm = "sft",
  sft = { response_field = "response", max_tokens = 320, pack_tokens = 512 },
  train = {
    data = "runs/demo/corpus/sft.jsonl", batch_size = 64, shuffle = true,
    required_fields = { "problem", "answer" },
  },
  eval = {
    every = 250, before_train = false, sets = { "data/demo/validation.jsonl" },
    temperature = 0, samples = 1, max_tokens = 192, required_fields = { "problem", "answer" },
  },
  prompt = require "prompts.demo",
  reward = require "rewards.boxed_equal",
  grader = "qwen-eval",  -- format-agnostic (\boxed{}, "the answer is", or the last number), as the paper's evaluation
  optimizer = { lr = 2e-3, betas = { 0.9, 0.95 }, weight_decay = 0.01, max_grad_norm = 1.0 },
  update = { micro_batch_size = 8 },
  loss = function(step, terms) return { sft = 1.0 } end,
  schedules = { lr = cosine { peak = 2e-3, warmup = 100, min_ratio = 0.05 } },
  steps = 2750,
  save_every = 250,
  seed = 1,
}
