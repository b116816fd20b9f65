-- Linear warm-up to a peak, then constant:
--   require("schedules.warmup_linear"){ peak = 1e-6, warmup = 10 }
-- value = peak * step / warmup for step < warmup, else peak (the warm-up half of Hugging Face
-- transformers' get_constant_schedule_with_warmup).
return function(opts)
  if type(opts) ~= "table" or type(opts.peak) ~= "number" then
    error("schedules.warmup_linear expects { peak = number, warmup = steps }", 2)
  end
  local peak, warmup = opts.peak, opts.warmup or 0
  return function(step, total)
    if step < warmup then return peak * step / warmup end
    return peak
  end
end
