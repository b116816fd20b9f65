-- Entropy loss alone (the paper's "entropy-loss only" ablation, no reward signal): minimises
-- -0.001 * entropy, i.e. raises the policy's token entropy.
return function(step, terms)
  return { entropy = -0.001 }
end
