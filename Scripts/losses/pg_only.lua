-- Policy-gradient loss alone: no entropy bonus, no KL to the reference model.
return function(step, terms)
  return { pg = 1.0 }
end
