-- The settings the embedded demo's GRPO runs share (models/demo-base, docs/demo.md): the demo prompt,
-- the paper's reward (the last \boxed{} equal to the answer, grader "paper", which also grades the
-- evaluations: an unboxed answer scores 0) and loss mix (pg + 0.001 KL - 0.001 entropy), 8 samples at
-- temperature 1.0, greedy evaluation on the validation and test splits before training and every 10
-- steps, a constant learning rate (optimizer.lr; `--set optimizer.lr=...` changes it). A recipe calls it
-- with its overrides: `return require("grpo") { ... }`. The learning rate and step count (3e-5, 30
-- steps) were chosen together on the validation split (`SWEEP=1 Scripts/demo/experiments.sh`,
-- docs/demo.md), never on the test split.
local merge = require("lib.settings").merge

return function(overrides)
  return merge({
    model = "models/demo-base",
    train = { data = "data/demo/pi1.jsonl", repeat_to = 16, batch_size = 16, shuffle = true,
              required_fields = { "problem", "answer" } },
    eval = {
      every = 10, before_train = true, sets = { "data/demo/validation.jsonl", "data/demo/test.jsonl" },
      temperature = 0, samples = 1, max_tokens = 192, required_fields = { "problem", "answer" },
    },
    prompt = require "prompts.demo",
    reward = require "rewards.boxed_equal",
    grader = "paper",
    algorithm = "grpo",
    rollout = { n = 8, temperature = 1.0, max_tokens = 192, max_prompt_tokens = 128 },
    optimizer = { lr = 3e-5, betas = { 0.9, 0.999 }, weight_decay = 0.01, max_grad_norm = 1.0 },
    update = { clip_ratio = 0.2, epochs = 1, mini_batch_size = 16, micro_batch_size = 32 },
    kl = { estimator = "low_var_kl" },
    loss = require "losses.paper",
    steps = 30,
    save_every = 10,
    seed = 1,
  }, overrides)
end
