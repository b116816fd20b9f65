-- 2-shot RLVR on {pi1, pi13} (Wang et al., 2025, abstract and section 3: the two-example run that
-- slightly exceeds full-set DSR-sub, MATH500 74.8%, average 36.6%). The verl data file
-- merge_pi1_pi13_r128.parquet holds 64 copies of each (data/README.md section 1); repeat_to = 128
-- (pi1's) rebuilds exactly that: the two lines are repeated to 128 rows, 64 each, shuffled by the
-- seed. Everything else is the pi1 run: scripts/train/training_1.5b_pi1_r128.sh with
-- data.train_files=data/train/one_shot_rlvr/merge_pi1_pi13_r128.parquet.
local paper = require "common"

return paper {
  name = "pi1-pi13-grpo",
  description = "2-shot RLVR on {pi1, pi13} (64 copies each per batch of 128), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/merge_pi1_pi13.jsonl" },
}
