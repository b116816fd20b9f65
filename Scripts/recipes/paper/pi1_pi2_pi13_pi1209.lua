-- 4-shot RLVR on {pi1, pi2, pi13, pi1209} (Wang et al., 2025, section 3: few-shot RLVR with the
-- top-ranked examples and the lowest-ranked one). The verl data file
-- merge_pi1_pi2_pi13_pi1209_r128.parquet holds 32 copies of each (data/README.md section 1);
-- repeat_to = 128 (pi1's) rebuilds exactly that: the four lines are repeated to 128 rows, 32 each,
-- shuffled by the seed. Everything else is the pi1 run: scripts/train/training_1.5b_pi1_r128.sh
-- with data.train_files=data/train/one_shot_rlvr/merge_pi1_pi2_pi13_pi1209_r128.parquet.
local paper = require "common"

return paper {
  name = "pi1-pi2-pi13-pi1209-grpo",
  description = "4-shot RLVR on {pi1, pi2, pi13, pi1209} (32 copies each per batch of 128), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/merge_pi1_pi2_pi13_pi1209.jsonl" },
}
