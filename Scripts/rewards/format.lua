-- Format-only reward: 1 when the response contains a closed \boxed{...}, else 0, whatever is
-- inside. Used to separate "learned the format" from "learned the answer".
local text = require "lib.text"

return function(sample)
  return text.last_boxed(sample.response) ~= nil and 1.0 or 0.0
end
