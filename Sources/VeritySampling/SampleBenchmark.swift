// SampleBenchmark: the measurements behind `verity bench sample`. On a randomly initialised model
// of Qwen2.5-0.5B's shape it times decode at several batch sizes (forced length, EOS ignored) and
// the prefix-sharing case (one long prompt × many samples, sharing on and off), each against the
// roofline measured in the same run: compute bound = sgemm FLOP/s / (2 × matmul parameters per
// token), memory bound = read bandwidth × batch / weight bytes read per step; the limit is the
// smaller. Medians of repeats, with the CPU share other processes took. It does not run PyTorch
// (Scripts/bench/sample_torch.py is the side-by-side peer).
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel

// MARK: - Options

/// What to measure.
public struct SampleBenchmarkOptions: Sendable {
    /// Decode batch sizes.
    public var batches = [1, 8, 64]
    /// Prompt tokens per row in the decode runs.
    public var promptTokens = 64
    /// New tokens per row (forced).
    public var newTokens = 128
    /// Prompt tokens of the prefix-sharing run.
    public var sharedPromptTokens = 512
    /// Samples of the prefix-sharing run.
    public var sharedSamples = 64
    /// New tokens per sample in the prefix-sharing run.
    public var sharedNewTokens = 128
    /// Skip the prefix-sharing runs.
    public var skipSharing = false
    /// Timed repetitions (medians reported).
    public var repeats = 3
    /// Threads.
    public var threads = 2
    /// Decoder layers (24: the real shape).
    public var layers = 24
    /// Also time batches ≥ this with sgemm decode (batch-dependent rounding) beside the exact kernel (nil: off).
    public var sgemmMinRows: Int? = 64
    /// Seed of the random weights and prompts.
    public var seed: UInt64 = 1

    /// Defaults: the figures (batches 1/8/64, 64-token prompts, 128 new tokens; 512 × 64 sharing), 3 repeats, 2 threads.
    public init() {}
}

// MARK: - Results

/// One decode measurement.
public struct DecodeFigure: Codable, Sendable {
    public var batch: Int
    public var kernel: String
    public var decode_tokens_per_s: Double
    public var decode_tokens_per_s_all: [Double]
    public var compute_bound_tokens_per_s: Double
    public var memory_bound_tokens_per_s: Double
    public var roofline_tokens_per_s: Double
    public var fraction_of_roofline: Double
    public var fraction_of_memory_bound: Double
    public var prefill_seconds: Double
    public var other_processes_cpu_share: Double?
}

/// The prefix-sharing measurement.
public struct SharingFigure: Codable, Sendable {
    public var prompt_tokens: Int
    public var samples: Int
    public var new_tokens: Int
    public var shared_prefill_tokens: Int
    public var unshared_prefill_tokens: Int
    public var prefill_work_ratio: Double
    public var shared_prefill_seconds: Double
    public var unshared_prefill_seconds: Double
    public var shared_total_seconds: Double
    public var unshared_total_seconds: Double
    public var shared_tokens_per_s: Double
    public var unshared_tokens_per_s: Double
    public var shared_peak_kv_mib: Double
    public var unshared_peak_kv_mib: Double
    public var other_processes_cpu_share: Double?
}

/// Figures of one `verity bench sample` run (JSON keys in snake_case).
public struct SampleBenchmarkResult: Codable, Sendable {
    public var benchmark = "sample"
    public var shape: String
    public var threads: Int
    public var repeats: Int
    public var prompt_tokens: Int
    public var new_tokens: Int
    public var matmul_parameters: Int
    public var weight_bytes_per_step: Int
    public var sgemm_gflops: Double
    public var read_bandwidth_gbs: Double
    public var skinny_kernel_avx2: Bool
    public var roofline_formula: String
    public var decode: [DecodeFigure]
    public var sharing: SharingFigure?
    public var other_processes_cpu_share: Double?
    public var blas: String
}

// MARK: - Running

/// Runs the sampling benchmark.
public enum SampleBenchmark {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Measures rooflines, decode at each batch size, and prefix sharing; `log` receives progress lines.
    public static func run(options o: SampleBenchmarkOptions, log: (String) -> Void) throws -> SampleBenchmarkResult {
        let probe = CPUShareProbe()
        let c = qwen25HalfBShape(layers: o.layers)
        BLAS.setThreads(o.threads)
        let gflops = ModelBenchmark.sgemmGFlops(m: 512, n: c.intermediateSize, k: c.hiddenSize, repeats: 5)
        let bandwidth = DecodeKernels.readBandwidth(megabytes: 1024, repeats: 5, threads: o.threads)
        log(String(format: "sgemm %.1f GFLOP/s, read bandwidth %.1f GB/s", gflops, bandwidth))
        var gen = SeededGenerator(seed: o.seed)
        let model = TransformerModel.random(config: c, std: 0.02, generator: &gen)
        // Parameters read per token: every weight matrix plus the output projection (the tied embedding, used as lm_head).
        let matmul = c.parameterShapes.filter { $0.1.count == 2 && $0.0 != "model.embed_tokens.weight" }.reduce(0) { $0 + $1.1.reduce(1, *) }
            + c.vocabSize * c.hiddenSize
        let bytes = matmul * 4
        let computeBound = gflops * 1e9 / (2 * Double(matmul))
        func prompts(_ count: Int, _ length: Int) -> [[Int32]] {
            (0..<count).map { _ in (0..<length).map { _ in Int32(gen.next() % UInt64(c.vocabSize)) } }
        }
        var figures: [DecodeFigure] = []
        var variants: [(Int, Int?)] = o.batches.map { ($0, nil) }
        if let t = o.sgemmMinRows { variants += o.batches.filter { $0 >= t }.map { ($0, t) } }
        for (b, sg) in variants {
            let p = CPUShareProbe()
            var opts = EngineOptions()
            opts.threads = o.threads
            opts.maxBatch = b
            opts.sgemmMinRows = sg
            let engine = RolloutEngine(model: model, eosTokenIds: [], options: opts)
            let req = GenerationRequest(prompts: prompts(b, o.promptTokens), maxNewTokens: o.newTokens, sampling: .greedy, ignoreEOS: true)
            var rates: [Double] = [], prefill: [Double] = []
            for r in 0..<max(1, o.repeats) {
                let st = try engine.generate(req).stats
                rates.append(Double(st.decodeRowSteps) / st.decodeSeconds)
                prefill.append(st.prefillSeconds)
                log(String(format: "batch %d (%@) repeat %d: %.2f decode tokens/s, prefill %.2f s", b, sg == nil ? "exact" : "sgemm", r + 1, rates.last ?? 0, st.prefillSeconds))
            }
            let memoryBound = bandwidth * 1e9 * Double(b) / Double(bytes)
            let limit = min(computeBound, memoryBound)
            let m = median(rates)
            figures.append(DecodeFigure(batch: b, kernel: sg == nil ? "exact (batch-invariant skinny kernel)" : "sgemm (OpenBLAS)",
                                        decode_tokens_per_s: m, decode_tokens_per_s_all: rates,
                                        compute_bound_tokens_per_s: computeBound, memory_bound_tokens_per_s: memoryBound,
                                        roofline_tokens_per_s: limit, fraction_of_roofline: m / limit, fraction_of_memory_bound: m / memoryBound,
                                        prefill_seconds: median(prefill), other_processes_cpu_share: p.otherProcessesShare(cores: o.threads)))
        }
        var sharing: SharingFigure? = nil
        if !o.skipSharing {
            let p = CPUShareProbe()
            let prompt = prompts(1, o.sharedPromptTokens)
            var runs: [Bool: GenerationStats] = [:]
            var totals: [Bool: Double] = [:]
            for share in [true, false] {
                var opts = EngineOptions()
                opts.threads = o.threads
                opts.maxBatch = o.sharedSamples
                opts.sharePrefixes = share
                opts.sgemmMinRows = o.sgemmMinRows
                let engine = RolloutEngine(model: model, eosTokenIds: [], options: opts)
                let req = GenerationRequest(prompts: prompt, samplesPerPrompt: o.sharedSamples, maxNewTokens: o.sharedNewTokens,
                                            sampling: SamplingParams(temperature: 1), seed: 1, ignoreEOS: true)
                let t0 = CPUShareProbe.now()
                runs[share] = try engine.generate(req).stats
                totals[share] = CPUShareProbe.now() - t0
                log(String(format: "sharing %@: prefill %d tokens in %.2f s, total %.2f s", share ? "on" : "off",
                           runs[share]?.prefillTokens ?? 0, runs[share]?.prefillSeconds ?? 0, totals[share] ?? 0))
            }
            if let on = runs[true], let off = runs[false], let ton = totals[true], let toff = totals[false] {
                sharing = SharingFigure(prompt_tokens: o.sharedPromptTokens, samples: o.sharedSamples, new_tokens: o.sharedNewTokens,
                                        shared_prefill_tokens: on.prefillTokens, unshared_prefill_tokens: off.prefillTokens,
                                        prefill_work_ratio: Double(off.prefillTokens) / Double(max(1, on.prefillTokens)),
                                        shared_prefill_seconds: on.prefillSeconds, unshared_prefill_seconds: off.prefillSeconds,
                                        shared_total_seconds: ton, unshared_total_seconds: toff,
                                        shared_tokens_per_s: Double(on.generatedTokens) / ton, unshared_tokens_per_s: Double(off.generatedTokens) / toff,
                                        shared_peak_kv_mib: Double(on.peakCacheBytes) / 1_048_576, unshared_peak_kv_mib: Double(off.peakCacheBytes) / 1_048_576,
                                        other_processes_cpu_share: p.otherProcessesShare(cores: o.threads))
            }
        }
        return SampleBenchmarkResult(
            shape: "Qwen2.5-0.5B (hidden \(c.hiddenSize), \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads, \(c.numKeyValueHeads) KV heads, intermediate \(c.intermediateSize), vocab \(c.vocabSize), tied), float32",
            threads: o.threads, repeats: o.repeats, prompt_tokens: o.promptTokens, new_tokens: o.newTokens,
            matmul_parameters: matmul, weight_bytes_per_step: bytes, sgemm_gflops: gflops, read_bandwidth_gbs: bandwidth,
            skinny_kernel_avx2: DecodeKernels.panelProductUsesAVX2,
            roofline_formula: "min(sgemm FLOP/s / (2 * matmul_parameters), bandwidth * batch / weight_bytes_per_step) tokens/s",
            decode: figures, sharing: sharing, other_processes_cpu_share: probe.otherProcessesShare(cores: o.threads), blas: BLAS.configDescription)
    }
}
