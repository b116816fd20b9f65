-- String helpers for plugins. last_boxed(text) returns the inside of the last \boxed{...} in text
-- (braces matched, nested braces kept) or nil when there is none or it never closes; this is the
-- box-finding rule of the paper's training reward (grader RULES.md D.2) in plain Lua, used by the
-- format-only reward. Not here: answer normalisation or equivalence (verity.math does those).
local M = {}
local find, sub, byte = string.find, string.sub, string.byte

function M.last_boxed(text)
  local start, pos = nil, 1
  while true do
    local s = find(text, "\\boxed", pos, true)
    if s == nil then break end
    start, pos = s, s + 1
  end
  if start == nil then return nil end
  local open = find(text, "{", start, true)
  if open == nil or open ~= start + 6 then return nil end
  local depth = 0
  for i = open, #text do
    local c = byte(text, i)
    if c == 123 then
      depth = depth + 1
    elseif c == 125 then
      depth = depth - 1
      if depth == 0 then return sub(text, open + 1, i - 1) end
    end
  end
  return nil
end

return M
