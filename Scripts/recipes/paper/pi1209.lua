-- 1-shot RLVR on pi1209, the lowest-ranked of the 1,209 DSR-sub examples by historical variance
-- (Wang et al., 2025, section 3: even the last example of the ranking helps; data/README.md
-- section 2: 104 examples tie at variance 0 and index 789, label -\frac{2023}{2024}, is the last of
-- them in file order). Everything else is the pi1 run: scripts/train/training_1.5b_pi1_r128.sh with
-- data.train_files=data/train/one_shot_rlvr/pi1209_r128.parquet.
local paper = require "common"

return paper {
  name = "pi1209-grpo",
  description = "1-shot RLVR on pi1209 (DSR-sub index 789, label -\\frac{2023}{2024}), Qwen2.5-Math-1.5B, GRPO",
  train = { data = "data/train/pi1209.jsonl" },
}
