-- 1-shot RLVR on pi2 (Wang et al., 2025, section 3: 1-shot RLVR with the second example of the
-- historical-variance ranking, data/README.md section 2; DSR-sub index 267, label 24). Everything
-- else is the pi1 run: scripts/train/training_1.5b_pi1_r128.sh with
-- data.train_files=data/train/one_shot_rlvr/pi2_r128.parquet (the README's "change data.train_files").
local paper = require "common"

return paper {
  name = "pi2-grpo",
  description = "1-shot RLVR on pi2 (DSR-sub index 267, label 24), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/pi2.jsonl" },
}
