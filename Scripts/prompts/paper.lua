-- The paper's training prompt: the example's `prompt` field (the problem followed by "Let's think
-- step by step and output the final answer within \boxed{}.") as one user message; the recipe's
-- chat_format (lib.chat.qwen25_math for Qwen2.5-Math) renders it with the default system line.
return function(example)
  if type(example.prompt) ~= "string" then
    error("the example has no `prompt` string (got " .. type(example.prompt) .. ")")
  end
  return { { role = "user", content = example.prompt } }
end
