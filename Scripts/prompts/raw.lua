-- Raw text prompt: the example's `prompt` field when it has one, else its `problem`, unchanged
-- and with no chat format (for base-model completion).
return function(example)
  local text = example.prompt
  if type(text) ~= "string" then text = example.problem end
  if type(text) ~= "string" then
    error("the example has neither a `prompt` nor a `problem` string")
  end
  return text
end
