-- Cosine decay with linear warm-up, as Hugging Face transformers'
-- get_cosine_schedule_with_warmup (half a cosine), plus an optional floor as a fraction of the
-- peak (verl's min_lr_ratio):
--   require("schedules.cosine"){ peak = 1e-6, warmup = 10, min_ratio = 0.0 }
local cos, pi, max = math.cos, math.pi, math.max

return function(opts)
  if type(opts) ~= "table" or type(opts.peak) ~= "number" then
    error("schedules.cosine expects { peak = number, warmup = steps, min_ratio = fraction }", 2)
  end
  local peak, warmup, floor = opts.peak, opts.warmup or 0, opts.min_ratio or 0.0
  return function(step, total)
    if step < warmup then return peak * step / warmup end
    local progress = (step - warmup) / max(1, total - warmup)
    local f = max(0.0, 0.5 * (1.0 + cos(pi * progress)))
    return peak * (floor + (1.0 - floor) * f)
  end
end
