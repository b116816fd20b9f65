-- Fixed-label reward for the paper's label-robustness runs: grades every response against a label
-- the recipe supplies instead of the example's answer. Use:
--   reward = require("rewards.fixed_label")("12.7")            -- profile "paper"
--   reward = require("rewards.fixed_label")("12.7", "verity")  -- another grader profile
return function(label, profile)
  if type(label) ~= "string" then
    error("rewards.fixed_label expects the label as a string, got " .. type(label), 2)
  end
  profile = profile or "paper"
  return function(sample)
    local correct = verity.math.grade(sample.response, label, profile)
    return correct and 1.0 or 0.0
  end
end
