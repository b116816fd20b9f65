// EvalBenchmark: the measurement behind `verity bench eval`. `verity eval`'s own pipeline (Lua prompt
// plugin, tokenizer, batched sampler with prefix sharing, detokenizer, grader, output files) on a
// randomly initialised model of Qwen2.5-0.5B's shape: `items` MATH500 items, every response forced to
// `newTokens` tokens. It reports items/s and tokens/s of the whole pipeline beside the sampler's own
// tokens/s (its prefill + decode seconds, counted inside the same run), so the pipeline's overhead is
// the difference (goal: under 5% of the time).
import Foundation
import VerityMeasure
import VerityTensor
import VerityModel
import VerityEval

/// What `verity bench eval` measures.
public struct EvalBenchmarkOptions: Sendable {
    /// MATH500 items.
    public var items = 64
    /// New tokens per response (forced).
    public var newTokens = 256
    /// Decoder layers (24: the real shape).
    public var layers = 24
    /// Threads.
    public var threads = 2
    /// The folder holding math500.jsonl.
    public var data = "data/eval"
    /// A folder with the Qwen2.5 tokenizer.
    public var tokenizer = "Tests/Fixtures/qwen2.5-tokenizer"

    /// The settings: 64 items, 256 new tokens, 2 threads.
    public init() {}
}

/// Figures of one run (JSON keys in snake_case).
public struct EvalBenchmarkResult: Codable, Sendable {
    /// "eval".
    public var benchmark = "eval"
    /// Items, new tokens per item, threads.
    public var items: Int, new_tokens: Int, threads: Int
    /// Wall seconds of the whole evaluation, and of it inside the sampler.
    public var seconds_total: Double, seconds_sampler: Double
    /// Throughput of the pipeline.
    public var items_per_s: Double, tokens_per_s: Double
    /// The sampler's own tokens/s (generated tokens / its seconds).
    public var sampler_tokens_per_s: Double
    /// Share of the time outside the sampler (prompt rendering, tokenizing, grading, files).
    public var pipeline_overhead_fraction: Double
    /// Share of the CPU other processes took.
    public var other_cpu_share: Double?
}

/// `verity bench eval`.
public enum EvalBenchmark {
    /// One measured evaluation.
    public static func run(options o: EvalBenchmarkOptions, log: @escaping (String) -> Void) throws
        -> EvalBenchmarkResult
    {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("verity-bench-eval-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        let modelDir = root.appendingPathComponent("model")
        _ = try writeRandomModel(to: modelDir, shape: "qwen2.5-0.5b", layers: o.layers, tokenizer: o.tokenizer, log: log)
        var settings = EvalSettings()
        settings.benchmarks = ["math500"]
        settings.limit = o.items
        settings.maxTokens = o.newTokens
        let plan = try EvalPlan(catalog: BenchmarkCatalog(directory: URL(fileURLWithPath: o.data)), settings: settings)
        var eo = EvalOptions()
        eo.threads = o.threads
        eo.forceLength = true
        eo.log = log
        let evaluator = try Evaluator(model: modelDir, plan: plan, options: eo)
        let probe = CPUShareProbe()
        let t0 = CPUShareProbe.now()
        _ = try evaluator.run(out: root.appendingPathComponent("out"))
        let total = CPUShareProbe.now() - t0
        let w = evaluator.work
        return EvalBenchmarkResult(
            items: o.items, new_tokens: o.newTokens, threads: o.threads, seconds_total: total,
            seconds_sampler: w.samplerSeconds, items_per_s: Double(o.items) / total,
            tokens_per_s: Double(w.generatedTokens) / total,
            sampler_tokens_per_s: Double(w.generatedTokens) / max(w.samplerSeconds, 1e-9),
            pipeline_overhead_fraction: 1 - w.samplerSeconds / total, other_cpu_share: probe.otherProcessesShare())
    }
}
