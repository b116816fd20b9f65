// Reflection: the share of responses that use self-reflection words, one of the behaviours the paper
// tracks as 1-shot RLVR trains (Wang et al. 2025 count how often responses say "rethink", "recheck"
// and "recalculate", the words of `ReflectionWords.paper`). Our default list adds a few close words
// (re-evaluate, re-examine, double-check, verify), so the default rate is higher than the paper's
// count; pass `ReflectionWords.paper` to follow the paper. A word matches case-insensitively at the
// start of a word, with any ending ("recheck" matches "Rechecking"; "verify" does not match "verified").
// Not a classifier of reasoning: a lexical count only.
import Foundation

// MARK: - Words

/// Lists of self-reflection words.
public enum ReflectionWords {
    /// The words the paper counts: rethink, recheck, recalculate.
    public static let paper = ["rethink", "recheck", "recalculate"]
    /// The default list: the paper's words plus re-evaluate, re-examine, double-check and verify.
    public static let `default` = paper + ["re-evaluate", "re-examine", "double-check", "verify"]

    /// Whether `text` uses one of `words` (case-insensitive, at the start of a word, any ending).
    public static func uses(_ text: String, words: [String]) -> Bool {
        let lower = text.lowercased()
        for word in words where !word.isEmpty {
            let w = word.lowercased()
            var from = lower.startIndex
            while let r = lower.range(of: w, range: from..<lower.endIndex) {
                if r.lowerBound == lower.startIndex || !lower[lower.index(before: r.lowerBound)].isLetter {
                    return true
                }
                from = r.upperBound
            }
        }
        return false
    }
}
