-- The paper's training reward: 1 when the last \boxed{} of the response is equivalent to the gold
-- answer under the recipe's `grader` profile ("paper" = DeepScaleR's rule, RULES.md part D), else 0; no format
-- reward. verl grades the decoded prompt + response; the prompt's own "\boxed{}" only matters when
-- the response has no box, which scores 0 either way, so the response alone is graded here.
return function(sample)
  local correct = verity.math.grade(sample.response, sample.answer)
  return correct and 1.0 or 0.0
end
