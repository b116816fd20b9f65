-- Shared by the paper's recipes in this folder: a function that returns the settings of the main
-- run, Scripts/recipes/paper/pi1.lua (data/README.md section 4), with the given overrides merged in.
-- pi1.lua stays the one place that writes the paper's settings; every other recipe here states only
-- what its experiment changes:
--
--   local paper = require "common"
--   return paper {
--     name = "pi2-grpo",
--     description = "...",                      -- required: pi1's description would mislead
--     train = { data = "data/train/pi2.jsonl" }, -- merged: the other train settings stay pi1's
--   }
--
-- Merge rules: an override that is a table of named keys (such as `train` or `rollout`) is merged
-- key by key into pi1's table of that name; anything else (a number, a string, a function, a list
-- such as `eval.sets` or `optimizer.betas`) replaces pi1's value whole. pi1's table is copied first,
-- so recipes never change one another.
--
-- Finding the files: `require` searches the recipe's own folder first, then the bundled Scripts/.
-- A recipe in this folder writes `require "common"` and gets this file and pi1.lua as they are in
-- the working tree. A recipe elsewhere writes `require "recipes.paper.common"` (the bundled copy,
-- current as of the last `swift build`); pi1 then comes from the bundle too, unless the recipe's
-- own folder has a pi1.lua.
local found, pi1 = pcall(require, "pi1")
if not found then
  if not tostring(pi1):find("module 'pi1' not found", 1, true) then error(pi1, 0) end
  pi1 = require "recipes.paper.pi1"
end

local function is_list(t)
  return next(t) == nil or t[1] ~= nil
end

local function copy(value)
  if type(value) ~= "table" then return value end
  local out = {}
  for k, v in pairs(value) do out[k] = copy(v) end
  return out
end

local function merge(base, overrides, path)
  for k, v in pairs(overrides) do
    if type(k) ~= "string" then
      error("paper recipe override " .. path .. ": expected named keys, got " .. type(k) .. " key", 3)
    end
    local current = base[k]
    if type(v) == "table" and not is_list(v) and type(current) == "table" and not is_list(current) then
      merge(current, v, path .. k .. ".")
    else
      base[k] = copy(v)
    end
  end
end

return function(overrides)
  if type(overrides) ~= "table" then
    error("the paper's common settings expect a table of overrides, got " .. type(overrides), 2)
  end
  if type(overrides.description) ~= "string" or overrides.description == "" then
    error("a paper recipe must give its own `description` (pi1's would describe another run)", 2)
  end
  local recipe = copy(pi1)
  recipe.name = nil  -- absent: the recipe file's name, unless the overrides give one
  merge(recipe, overrides, "")
  return recipe
end
