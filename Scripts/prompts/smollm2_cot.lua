-- SmolLM2-135M-Instruct on the demo task (docs/real-model.md), candidate (b): the example's `problem`
-- followed by "\nPlease reason step by step, and put your final answer within \boxed{}." (the
-- Qwen2.5-Math instruction) as one user message, rendered as finished text with SmolLM2's own chat
-- template (lib.chat.smollm2) and the assistant turn opened.
local chat = require "lib.chat"

return function(example)
  if type(example.problem) ~= "string" then
    error("the example has no `problem` string (got " .. type(example.problem) .. ")")
  end
  local content = example.problem .. "\nPlease reason step by step, and put your final answer within \\boxed{}."
  return chat.smollm2({ { role = "user", content = content } }, true)
end
