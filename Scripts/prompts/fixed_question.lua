-- Fixed-question prompt, for runs that train on a rewritten problem (the paper's simplified-prompt
-- run): asks the question the recipe gives instead of the example's, followed by the instruction
-- the training data appends to every problem (data/README.md section 1), as one user message for
-- the recipe's chat_format. The example still supplies the gold answer. Use:
--   prompt = require("prompts.fixed_question")("Calculate $\\sqrt[3]{2048}$.")
-- Give the recipe an `eval.prompt` (prompts.paper): evaluation uses the training prompt otherwise,
-- and would ask this one question for every evaluation problem.
local SUFFIX = "Let's think step by step and output the final answer within \\boxed{}."

return function(question)
  if type(question) ~= "string" or question == "" then
    error("prompts.fixed_question expects the question as a non-empty string, got " .. type(question), 2)
  end
  local content = question .. " " .. SUFFIX
  return function(example)
    return { { role = "user", content = content } }
  end
end
