// Limits of one generation request and of the engine's options, checked before anything is
// allocated from them: a sample count, a token limit or a thread count far beyond any real run
// fails with the parameter named instead of trapping on overflow or aborting on allocation.
// Not here: sampling parameters (SamplingParams.validate) and the KV-cache budget itself.
import Foundation
import VerityTensor

/// Upper bounds on request sizes and engine options.
public enum GenerationLimits {
    /// Samples in one request (prompts × n).
    public static let maxSamples = 1 << 20
    /// New tokens per sample.
    public static let maxNewTokens = 1 << 24
    /// Rows decoded together.
    public static let maxBatch = 1 << 16
    /// Threads the engine will start: more than this is never faster and can exhaust the process.
    public static var maxThreads: Int { max(1, Parallel.cores) * 4 }
}

extension GenerationRequest {
    /// Checks the counts and sampling parameters; throws `SamplingError.badParameter` naming the parameter.
    public func validate() throws {
        try sampling.validate()
        guard (1...GenerationLimits.maxSamples).contains(samplesPerPrompt) else {
            throw SamplingError.badParameter(
                name: "n", value: "\(samplesPerPrompt)", detail: "must be in 1...\(GenerationLimits.maxSamples)")
        }
        guard (1...GenerationLimits.maxNewTokens).contains(maxNewTokens) else {
            throw SamplingError.badParameter(
                name: "max_tokens", value: "\(maxNewTokens)", detail: "must be in 1...\(GenerationLimits.maxNewTokens)")
        }
        let (total, overflow) = prompts.count.multipliedReportingOverflow(by: samplesPerPrompt)
        guard !overflow, total <= GenerationLimits.maxSamples else {
            throw SamplingError.badParameter(
                name: "n", value: "\(samplesPerPrompt)",
                detail:
                    "\(prompts.count) prompts × n samples is more than \(GenerationLimits.maxSamples) in one request")
        }
        if let forcedLengths {
            guard forcedLengths.count == total else {
                throw SamplingError.badParameter(
                    name: "forced_lengths", value: "\(forcedLengths.count) lengths",
                    detail: "must give one length per sample (\(total))")
            }
            if let bad = forcedLengths.first(where: { !(1...maxNewTokens).contains($0) }) {
                throw SamplingError.badParameter(
                    name: "forced_lengths", value: "\(bad)", detail: "each must be in 1...\(maxNewTokens) (max_tokens)")
            }
        }
    }
}

extension EngineOptions {
    /// Checks threads, batch size and memory budget; throws `SamplingError.badParameter` naming the option.
    public func validate() throws {
        guard (1...GenerationLimits.maxThreads).contains(threads) else {
            throw SamplingError.badParameter(
                name: "threads", value: "\(threads)",
                detail: "must be in 1...\(GenerationLimits.maxThreads) (\(Parallel.cores) cores here)")
        }
        guard (1...GenerationLimits.maxBatch).contains(maxBatch) else {
            throw SamplingError.badParameter(
                name: "max_batch", value: "\(maxBatch)", detail: "must be in 1...\(GenerationLimits.maxBatch)")
        }
        guard memoryBudgetBytes > 0 else {
            throw SamplingError.badParameter(
                name: "kv_budget", value: "\(memoryBudgetBytes) bytes", detail: "must be positive")
        }
    }
}
