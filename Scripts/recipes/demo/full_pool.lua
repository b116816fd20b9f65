-- The demo's full-pool run: GRPO on the 500-problem pool data/demo/pool500.jsonl (the first 500 of
-- data/demo/train.jsonl; the analogue of the paper's 1,209-problem DSR-sub), 32 problems x 8 samples a
-- step. Its history.json (each problem's accuracy every time it is drawn) is what `verity select`
-- ranks to pick the 1-shot example; its curves stand beside the 1-shot run in docs/demo.md. It runs
-- before the 1-shot settings are chosen, so it keeps its own: 40 steps (1,280 draws, each problem
-- about 2.6 times) at 1e-4.
return require("grpo") {
  name = "demo-full-pool",
  description = "GRPO on the demo's 500-problem pool, models/demo-base",
  train = { data = "data/demo/pool500.jsonl", repeat_to = 0, batch_size = 32 },
  update = { mini_batch_size = 32 },
  optimizer = { lr = 1e-4 },
  steps = 40,
}
