-- SmolLM2-135M-Instruct on the demo task (docs/real-model.md), candidate (a): the example's `problem`
-- followed by "\nPut your final answer within \boxed{}." as one user message, rendered as finished
-- text with SmolLM2's own chat template (lib.chat.smollm2: ChatML, its default system line) and the
-- assistant turn opened. A string, so `verity eval --prompt` needs no chat_format.
local chat = require "lib.chat"

return function(example)
  if type(example.problem) ~= "string" then
    error("the example has no `problem` string (got " .. type(example.problem) .. ")")
  end
  local content = example.problem .. "\nPut your final answer within \\boxed{}."
  return chat.smollm2({ { role = "user", content = content } }, true)
end
