-- Simplified-prompt run (Wang et al., 2025, the discussion of prompt modification): the pi1 run
-- with pi1's word problem replaced by a simplified version that keeps only its key computation,
-- V = cbrt(2048) (data/README.md section 1: k = 1/256, V^3 = 2048), still graded against pi1's
-- label 12.8. prompts.fixed_question asks QUESTION with the instruction every training prompt
-- carries, in the same Qwen2.5-Math chat format; evaluation keeps the paper's prompt
-- (eval.prompt = prompts.paper), as it must, since it asks each evaluation set's own problems.
-- data/README.md does not record the simplified problem's text: QUESTION is our reading of the
-- paper's simplification; check it against the paper before comparing numbers. Follows
-- scripts/train/training_1.5b_pi1_r128.sh with the parquet's prompt replaced by the simplified one.
local paper = require "common"

local QUESTION = "Calculate $\\sqrt[3]{2048}$."

return paper {
  name = "pi1-simplified-prompt",
  description = "pi1's problem simplified to its key step (cube root of 2048), label 12.8, Qwen2.5-Math-1.5B, GRPO",
  prompt = require("prompts.fixed_question")(QUESTION),
  eval = { prompt = require "prompts.paper" },
}
