-- The paper's main run with LoRA (Wang et al., 2025, "Reinforcement Learning for Reasoning in Large
-- Language Models with One Training Example"): pi1's settings from scripts/train/training_1.5b_pi1_r128.sh
-- on Qwen2.5-Math-1.5B, training rank-16 adapters on all seven projections instead of the model, so
-- that the run fits one 24 GB workstation (`verity check --memory` prints the plan). The frozen base is
-- the KL term's reference with the adapters switched off, held in bfloat16 (reference.dtype); each
-- layer is recomputed in the backward, and the update packs one 4096-token sequence budget per
-- micro-batch. The learning rate is 10x the paper's full fine-tuning rate, the ratio "LoRA Without
-- Regret" (Thinking Machines, 2025) found optimal for LoRA; it is a starting point, not a tuned value.
local paper = require "common"
local constant = require "schedules.constant"

return paper {
  name = "pi1-lora",
  description = "1-shot RLVR on pi1 with LoRA rank 16 (bf16 frozen base as the reference), Qwen2.5-Math-1.5B, GRPO",
  lora = { rank = 16, alpha = 32, targets = { "q", "k", "v", "o", "gate", "up", "down" } },
  reference = { dtype = "bf16" },
  update = { recompute = true, max_tokens_per_micro_batch = 4096 },
  optimizer = { lr = 1e-5 },
  schedules = { lr = constant(1e-5) },
}
