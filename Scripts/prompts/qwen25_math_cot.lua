-- Qwen2.5-Eval's "qwen25-math-cot" evaluation template (utils.py, as formatted in Python; data
-- README section 5): finished ChatML text around the example's `problem`, with no chat template
-- applied on top. Python's final .strip(" ") changes nothing here: the text starts with "<" and
-- ends with a newline.
return function(example)
  if type(example.problem) ~= "string" then
    error("the example has no `problem` string (got " .. type(example.problem) .. ")")
  end
  return "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
    .. "<|im_start|>user\n" .. example.problem .. "<|im_end|>\n<|im_start|>assistant\n"
end
