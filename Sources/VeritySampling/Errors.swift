// Errors: what the sampler reports when a request, a file or the memory budget cannot be served.
// Each message names the input (file and line, prompt index, parameter) and the value at fault.
// Internal invariants use `precondition`, not these.
import Foundation

// MARK: - Errors

/// Errors from the rollout engine and its input readers.
public enum SamplingError: Error, CustomStringConvertible, Equatable {
    /// A prompt with no tokens.
    case emptyPrompt(index: Int)
    /// A prompt token outside the vocabulary.
    case tokenOutOfRange(prompt: Int, id: Int, vocab: Int)
    /// A sampling or engine parameter out of range.
    case badParameter(name: String, value: String, detail: String)
    /// One row (its prompt's cache plus its generated tokens) needs more memory than the whole budget.
    case rowDoesNotFit(prompt: Int, promptTokens: Int, maxNewTokens: Int, neededBytes: Int, budgetBytes: Int)
    /// A prompts file or generation_config.json that cannot be read.
    case badFile(file: String, line: Int?, detail: String)
    /// The model produced NaN or +∞ logits for a row (diverged or corrupt weights).
    case nonFiniteLogits(prompt: Int, sample: Int, token: Int)
    /// The sampler's packed weights were made from an older version of the parameters (with `StaleWeightsPolicy.fail`).
    case staleWeights(packedVersion: UInt64, storeVersion: UInt64)

    /// A readable message naming the input at fault.
    public var description: String {
        switch self {
        case .emptyPrompt(let i): return "prompt \(i) has no tokens"
        case .tokenOutOfRange(let p, let id, let v):
            return "prompt \(p): token id \(id) is outside the vocabulary 0..<\(v)"
        case .badParameter(let n, let v, let d): return "\(n) = \(v): \(d)"
        case .rowDoesNotFit(let p, let t, let m, let need, let budget):
            return "prompt \(p) (\(t) tokens + \(m) new tokens) needs \(mib(need)) of KV cache for a single row, "
                + "but the memory budget is \(mib(budget)); raise the budget (--kv-budget-mb) or lower --max-tokens"
        case .badFile(let f, let l, let d): return l.map { "\(f):\($0): \(d)" } ?? "\(f): \(d)"
        case .nonFiniteLogits(let p, let s, let t):
            return
                "prompt \(p) sample \(s), new token \(t): the model's logits are NaN or infinite (diverged or corrupt weights?)"
        case .staleWeights(let packed, let now):
            return
                "the sampler's packed weights are from parameter version \(packed) but the model is at version \(now): "
                + "call refreshWeights() after an optimizer step (or use the repack policy)"
        }
    }
}

extension SamplingError: LocalizedError {
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

func mib(_ bytes: Int) -> String {
    bytes >= 1_048_576
        ? String(format: "%.1f MiB", Double(bytes) / 1_048_576) : String(format: "%.1f KiB", Double(bytes) / 1024)
}
