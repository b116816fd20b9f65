-- 1-shot GRPO on SmolLM2-135M-Instruct (docs/real-model.md): the example ranked first by historical variance
-- (`verity select --method std` on the base model's own samples of the first 48 training problems;
-- data/real/smollm2_pi1.jsonl), repeated to fill the batch, with the paper's reward.
return require("smollm2_grpo") {
  name = "smollm2-one-shot",
  description = "1-shot GRPO on SmolLM2-135M-Instruct's pi1",
}
