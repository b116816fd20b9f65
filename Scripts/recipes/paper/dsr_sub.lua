-- Full-set RLVR on DSR-sub, all 1,209 examples: the paper's baseline that 1-shot RLVR on pi1
-- matches (Wang et al., 2025, abstract and Figure 1: MATH500 73.6%, average 35.9%). Follows
-- scripts/train/training_1.5b_dsr_sub.sh, which keeps the pi1 script's settings (batch 128 prompts,
-- 8 rollouts, lr 1e-6, KL 0.001 low_var_kl, entropy 0.001; data/README.md section 4) on
-- data/train/one_shot_rlvr/dsr_sub.parquet. What differs from pi1 here:
--   * no repetition (repeat_to = 0): each epoch is the 1,209 examples once, shuffled by the seed.
--     Verity's sampler carries a partial batch over into the next epoch; verl's dataloader drops it
--     (drop_last), so verl sees 9 x 128 = 1,152 examples per epoch and Verity all 1,209.
--   * DSR-sub line 266 has an empty answer; loading warns about it and no response can match it.
--   * steps: 2,000 as for pi1, so both runs share one step axis; data/README.md does not restate
--     the DSR-sub script's total_epochs (set --set steps=N to match a given run).
local paper = require "common"

return paper {
  name = "dsr-sub-grpo",
  description = "Full-set RLVR on DSR-sub (1,209 examples, no repetition), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/dsr_sub.jsonl", repeat_to = 0 },
}
