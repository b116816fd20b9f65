-- The embedded demo's prompt (models/demo-base was fine-tuned on it): the example's `problem` after
-- "Question: ", then "Answer:" on its own line; the model continues with its worked solution. Plain
-- text, no chat format (the demo model is a base model).
return function(example)
  if type(example.problem) ~= "string" then
    error("the example has no `problem` string (got " .. type(example.problem) .. ")")
  end
  return "Question: " .. example.problem .. "\nAnswer:"
end
