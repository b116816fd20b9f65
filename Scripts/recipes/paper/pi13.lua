-- 1-shot RLVR on pi13 (Wang et al., 2025, section 3: 1-shot RLVR with the 13th example of the
-- historical-variance ranking, data/README.md section 2; DSR-sub index 682, label \frac{4}{3}).
-- Everything else is the pi1 run: scripts/train/training_1.5b_pi1_r128.sh with
-- data.train_files=data/train/one_shot_rlvr/pi13_r128.parquet.
local paper = require "common"

return paper {
  name = "pi13-grpo",
  description = "1-shot RLVR on pi13 (DSR-sub index 682, label \\frac{4}{3}), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/pi13.jsonl" },
}
