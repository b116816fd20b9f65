-- Recipe helpers. merge(base, overrides) writes overrides into base and returns it: a table-valued
-- override that is a record (not a list, not empty) merges key by key into a table already at that key,
-- so `{ optimizer = { lr = 3e-5 } }` keeps the other optimizer settings; anything else replaces. Shared
-- recipes (Scripts/recipes/demo/grpo.lua, real/smollm2_grpo.lua) use it as `require("grpo") { ... }`.
local M = {}

function M.merge(base, overrides)
  for k, v in pairs(overrides) do
    if type(v) == "table" and type(base[k]) == "table" and v[1] == nil and next(v) ~= nil then
      M.merge(base[k], v)
    else
      base[k] = v
    end
  end
  return base
end

return M
