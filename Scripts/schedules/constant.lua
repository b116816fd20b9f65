-- Constant schedule: require("schedules.constant")(value) -> function(step, total) -> value.
return function(value)
  if type(value) ~= "number" then
    error("schedules.constant expects a number, got " .. type(value), 2)
  end
  return function(step, total)
    return value
  end
end
