-- The paper's loss mix (verl defaults it keeps): pg - 0.001 * entropy + 0.001 * low_var_kl.
-- The host minimises sum(coefficient * term): a negative entropy coefficient rewards entropy.
return function(step, terms)
  return { pg = 1.0, entropy = -0.001, kl = 0.001 }
end
