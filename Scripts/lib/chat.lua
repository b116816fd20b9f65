-- Chat formats: each is a function(messages, add_generation_prompt) -> text, where messages is a
-- list of { role = ..., content = ... }. They reproduce the tokenizers' Jinja chat templates for
-- plain conversations (no tool definitions), byte for byte:
--   chatml(default_system)  Qwen2.5 / Qwen2.5-Math ChatML (tokenizer_config.json "chat_template")
--   qwen25_math             ChatML with Qwen2.5-Math's default system line
--   qwen25                  ChatML with Qwen2.5-Instruct's default system line
--   smollm2                 ChatML with SmolLM2-Instruct's default system line
--   llama3                  Llama-3 Instruct (<|start_header_id|> ... <|eot_id|>)
-- Not here: tokenization (the host does it) and tool-call rendering for assistant messages.
local M = {}
local concat = table.concat

-- ChatML as the Qwen2.5 templates render it: a system block first (the first message when it is
-- a system message, else `default_system`), then every other message as
-- <|im_start|>role\ncontent<|im_end|>\n (consecutive "tool" messages share one user block of
-- <tool_response> parts), then <|im_start|>assistant\n when a reply is to be generated.
function M.chatml(default_system)
  return function(messages, add_generation_prompt)
    local out = {}
    local first = 1
    if messages[1] ~= nil and messages[1].role == "system" then
      out[1] = "<|im_start|>system\n" .. messages[1].content .. "<|im_end|>\n"
      first = 2
    elseif default_system ~= nil then
      out[1] = "<|im_start|>system\n" .. default_system .. "<|im_end|>\n"
    end
    for i = first, #messages do
      local m = messages[i]
      if m.role == "tool" then
        if i == 1 or messages[i - 1].role ~= "tool" then out[#out + 1] = "<|im_start|>user" end
        out[#out + 1] = "\n<tool_response>\n" .. m.content .. "\n</tool_response>"
        if i == #messages or messages[i + 1].role ~= "tool" then out[#out + 1] = "<|im_end|>\n" end
      else
        out[#out + 1] = "<|im_start|>" .. m.role .. "\n" .. m.content .. "<|im_end|>\n"
      end
    end
    if add_generation_prompt then out[#out + 1] = "<|im_start|>assistant\n" end
    return concat(out)
  end
end

-- Qwen2.5-Math (Qwen/Qwen2.5-Math-1.5B tokenizer_config.json): the paper's training template.
M.qwen25_math = M.chatml("Please reason step by step, and put your final answer within \\boxed{}.")

-- Qwen2.5-Instruct's default system line.
M.qwen25 = M.chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- SmolLM2-Instruct's default system line (its GGUF's tokenizer.chat_template; docs/real-model.md).
M.smollm2 = M.chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face")

-- Llama-3 Instruct (Meta-Llama-3-8B-Instruct tokenizer_config.json): <|begin_of_text|> once, then
-- <|start_header_id|>role<|end_header_id|>\n\n + trimmed content + <|eot_id|> per message.
function M.llama3(messages, add_generation_prompt)
  local out = {}
  for i = 1, #messages do
    local m = messages[i]
    if i == 1 then out[#out + 1] = "<|begin_of_text|>" end
    out[#out + 1] = "<|start_header_id|>" .. m.role .. "<|end_header_id|>\n\n" .. trim(m.content) .. "<|eot_id|>"
  end
  if add_generation_prompt then out[#out + 1] = "<|start_header_id|>assistant<|end_header_id|>\n\n" end
  return concat(out)
end

return M
