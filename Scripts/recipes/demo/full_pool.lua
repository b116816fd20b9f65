-- The demo's full-pool run: GRPO on the 500-problem pool data/demo/pool500.jsonl (the first 500 of
-- data/demo/train.jsonl; the analogue of the paper's 1,209-problem DSR-sub), 32 problems x 8 samples a
-- step. Its history.json (each problem's accuracy every time it is drawn) is what `verity select`
-- ranks to pick the 1-shot example; its curves stand beside the 1-shot run in docs/demo.md.
return require("grpo") {
  name = "demo-full-pool",
  description = "GRPO on the demo's 500-problem pool, models/demo-base",
  train = { data = "data/demo/pool500.jsonl", repeat_to = 0, batch_size = 32 },
  update = { mini_batch_size = 32 },
}
