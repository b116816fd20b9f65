// SampleBenchmark: the measurements behind `verity bench sample`. On a randomly initialised model
// of Qwen2.5-0.5B's shape it times decode at several batch sizes (forced length, EOS ignored) and
// the prefix-sharing case (one long prompt × many samples, sharing on and off), each against the
// roofline measured in the same run (probes before each repeat and after the last): compute
// bound = sgemm FLOP/s / (2 × matmul parameters per token), memory bound = read bandwidth ×
// batch / weight bytes read per step; the limit is the smaller. Medians of repeats, with the CPU
// share other processes took. It does not run PyTorch (Scripts/bench/sample_torch.py is the
// side-by-side peer).
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityVerify
import VerityLua
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
    /// Which prefix-sharing runs (true: on, false: off), so a long run can be split into pieces.
    public var sharingModes = [true, false]
    /// Skip the decode runs (e.g. to run only the prefix-sharing case).
    public var skipDecode = false
    /// Weight stores to measure (the sharing run uses the first).
    public var weights: [WeightFormat] = [.float32]
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

    /// Defaults: the issue's figures (batches 1/8/64, 64-token prompts, 128 new tokens; 512 × 64 sharing), 3 repeats, 2 threads.
    public init() {}
}

// MARK: - Results

/// One decode measurement.
public struct DecodeFigure: Codable, Sendable {
    public var batch: Int
    public var kernel: String
    public var weights: String
    public var weight_bytes_per_step: Int
    public var decode_tokens_per_s: Double
    public var decode_tokens_per_s_all: [Double]
    public var compute_bound_tokens_per_s: Double
    public var memory_bound_tokens_per_s: Double
    public var roofline_tokens_per_s: Double
    public var fraction_of_roofline: Double
    public var fraction_of_memory_bound: Double
    public var prefill_seconds: Double
    /// The sgemm probe (GFLOP/s) taken before each repeat and after the last; the compute bound uses their median.
    public var sgemm_gflops_window: [Double]
    /// The bandwidth probe (GB/s) taken at the same moments; the memory bound uses their median.
    public var read_bandwidth_gbs_window: [Double]
    public var other_processes_cpu_share: Double?
}

/// The prefix-sharing measurement.
public struct SharingFigure: Codable, Sendable {
    public var weights: String
    public var repeats_per_mode: Int
    public var prompt_tokens: Int
    public var samples: Int
    public var new_tokens: Int
    public var shared_prefill_tokens: Int?
    public var unshared_prefill_tokens: Int?
    public var prefill_work_ratio: Double?
    public var shared_prefill_seconds: Double?
    public var unshared_prefill_seconds: Double?
    public var shared_total_seconds: Double?
    public var unshared_total_seconds: Double?
    public var total_time_ratio: Double?
    public var shared_tokens_per_s: Double?
    public var unshared_tokens_per_s: Double?
    public var shared_peak_kv_mib: Double?
    public var unshared_peak_kv_mib: Double?
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
    public var bf16_logprob_max_abs_error_vs_f32: Double?
    public var bf16_logprob_error_tokens: Int?
    public var roofline_formula: String
    public var decode: [DecodeFigure]
    public var sharing: SharingFigure?
    public var pack_seconds: [String: Double]
    public var other_processes_cpu_share: Double?
    public var blas: String
}

// MARK: - Running

/// Runs the sampling benchmark.
public enum SampleBenchmark {

    /// A progress callback that logs about every 10% of the run's maximum tokens (and at most every 5 s).
    static func stepLogger(_ log: @escaping (String) -> Void, _ label: String) -> (GenerationProgress) -> Void {
        var nextFraction = 0.1, lastTime = 0.0
        return { p in
            let f = Double(p.generatedTokens) / Double(max(1, p.maxTokens))
            guard f >= nextFraction || p.elapsed - lastTime >= 5 else { return }
            while nextFraction <= f { nextFraction += 0.1 }
            lastTime = p.elapsed
            let eta = f > 0 ? p.elapsed * (1 - f) / f : 0
            log(
                String(
                    format: "  %@: %d/%d tokens, %.1f tokens/s, %.0f s elapsed, ETA %.0f s", label, p.generatedTokens,
                    p.maxTokens,
                    Double(p.generatedTokens) / max(p.elapsed, 1e-9), p.elapsed, eta))
        }
    }

    /// Measures rooflines, decode at each batch size, and prefix sharing; `log` receives progress lines.
    public static func run(options o: SampleBenchmarkOptions, log: @escaping (String) -> Void) throws
        -> SampleBenchmarkResult
    {
        let probe = CPUShareProbe()
        let c = qwen25HalfBShape(layers: o.layers)
        BLAS.setThreads(o.threads)
        // The machine's speed can drift during a long run (a VM's sgemm rate was seen to move 106-186 GFLOP/s in one
        // session), so each decode figure takes its own probes before every repeat and after the last (the medians give
        // its roofline); these first probes are the run's summary figures.
        let sgemmProbe = { ModelBenchmark.sgemmGFlops(m: 512, n: c.intermediateSize, k: c.hiddenSize, repeats: 5) }
        let bandwidthProbe = { DecodeKernels.readBandwidth(megabytes: 1024, repeats: 5, threads: o.threads) }
        let gflops = sgemmProbe()
        let bandwidth = bandwidthProbe()
        log(String(format: "sgemm %.1f GFLOP/s, read bandwidth %.1f GB/s", gflops, bandwidth))
        var gen = SeededGenerator(seed: o.seed)
        let model = TransformerModel.random(config: c, std: 0.02, generator: &gen)
        // Parameters read per token: every weight matrix plus the output projection (the tied embedding, used as lm_head).
        let matmul =
            c.parameterShapes.filter { $0.1.count == 2 && $0.0 != "model.embed_tokens.weight" }.reduce(0) {
                $0 + $1.1.reduce(1, *)
            }
            + c.vocabSize * c.hiddenSize
        let bytes = matmul * 4
        func prompts(_ count: Int, _ length: Int) -> [[Int32]] {
            (0..<count).map { _ in (0..<length).map { _ in Int32(gen.next() % UInt64(c.vocabSize)) } }
        }
        var figures: [DecodeFigure] = []
        var packSeconds: [String: Double] = [:]
        /// An engine over `model` with the given options (weights packed once per format and kept).
        var engines: [WeightFormat: RolloutEngine] = [:]
        func engine(_ fmt: WeightFormat, configure: (inout EngineOptions) -> Void) -> RolloutEngine {
            var opts = EngineOptions()
            opts.threads = o.threads
            opts.weights = fmt
            configure(&opts)
            if let e = engines[fmt] { e.options = opts; return e }
            log("packing \(fmt.rawValue) weights")
            let t0 = CPUShareProbe.now()
            let e = RolloutEngine(model: model, eosTokenIds: [], options: opts)
            packSeconds[fmt.rawValue] = CPUShareProbe.now() - t0
            engines[fmt] = e
            return e
        }
        var variants: [(Int, WeightFormat, Int?)] = []
        if !o.skipDecode {
            for fmt in o.weights { variants += o.batches.map { ($0, fmt, nil) } }
            if let t = o.sgemmMinRows, o.weights.contains(.float32) {
                variants += o.batches.filter { $0 >= t }.map { ($0, .float32, t) }
            }
        }
        for (b, fmt, sg) in variants {
            let p = CPUShareProbe()
            let eng = engine(fmt) {
                $0.maxBatch = b; $0.sgemmMinRows = sg
            }
            let req = GenerationRequest(
                prompts: prompts(b, o.promptTokens), maxNewTokens: o.newTokens, sampling: .greedy, ignoreEOS: true)
            var rates: [Double] = [], prefill: [Double] = [], sgemmWindow: [Double] = [], bandwidthWindow: [Double] = []
            let label = sg == nil ? "exact \(fmt.rawValue)" : "sgemm f32"
            for r in 0..<max(1, o.repeats) {
                sgemmWindow.append(sgemmProbe())
                bandwidthWindow.append(bandwidthProbe())
                let st = try eng.generate(req, progress: stepLogger(log, "batch \(b) (\(label)) repeat \(r + 1)")).stats
                rates.append(Double(st.decodeRowSteps) / st.decodeSeconds)
                prefill.append(st.prefillSeconds)
                log(
                    String(
                        format: "batch %d (%@) repeat %d: %.2f decode tokens/s, prefill %.2f s", b, label, r + 1,
                        rates.last ?? 0, st.prefillSeconds))
            }
            sgemmWindow.append(sgemmProbe())
            bandwidthWindow.append(bandwidthProbe())
            log(
                String(
                    format: "batch %d probes: sgemm %@ GFLOP/s, bandwidth %@ GB/s", b,
                    sgemmWindow.map { String(format: "%.1f", $0) }.joined(separator: " "),
                    bandwidthWindow.map { String(format: "%.1f", $0) }.joined(separator: " ")))
            let wbytes = matmul * fmt.bytesPerWeight
            let computeBound = median(sgemmWindow) * 1e9 / (2 * Double(matmul))
            let memoryBound = median(bandwidthWindow) * 1e9 * Double(b) / Double(wbytes)
            let limit = min(computeBound, memoryBound)
            let m = median(rates)
            figures.append(
                DecodeFigure(
                    batch: b,
                    kernel: sg == nil ? "exact \(fmt.rawValue) (batch-invariant panel kernel)" : "sgemm (OpenBLAS)",
                    weights: fmt.rawValue, weight_bytes_per_step: wbytes,
                    decode_tokens_per_s: m, decode_tokens_per_s_all: rates,
                    compute_bound_tokens_per_s: computeBound, memory_bound_tokens_per_s: memoryBound,
                    roofline_tokens_per_s: limit, fraction_of_roofline: m / limit,
                    fraction_of_memory_bound: m / memoryBound,
                    prefill_seconds: median(prefill), sgemm_gflops_window: sgemmWindow,
                    read_bandwidth_gbs_window: bandwidthWindow,
                    other_processes_cpu_share: p.otherProcessesShare(cores: o.threads)))
        }
        // bfloat16 log-prob error: sample with the bf16 store, score the same tokens with the float32 trainer forward.
        var bf16Error: Double? = nil, bf16Tokens: Int? = nil
        if o.weights.contains(.bfloat16) && !o.skipDecode {
            let eng = engine(.bfloat16) {
                $0.maxBatch = 8; $0.sgemmMinRows = nil
            }
            let req = GenerationRequest(
                prompts: prompts(8, 16), maxNewTokens: 16, sampling: SamplingParams(temperature: 1), seed: 5,
                ignoreEOS: true)
            let out = try eng.generate(req)
            var worst: Float = 0, count = 0
            for sm in out.samples {
                let seq = req.prompts[sm.promptIndex] + sm.tokens
                let hidden = try model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false)
                let (lp, _) = model.tokenLogProbs(hidden: hidden, targets: Array(seq.dropFirst()), trainable: false)
                for (x, y) in zip(sm.logprobs, lp.value.values.suffix(sm.tokens.count)) {
                    worst = max(worst, abs(x - y)); count += 1
                }
            }
            bf16Error = Double(worst)
            bf16Tokens = count
            log(String(format: "bf16 vs float32 log-prob, max abs over %d tokens: %.3g", count, Double(worst)))
        }
        var sharing: SharingFigure? = nil
        if !o.skipSharing && !o.sharingModes.isEmpty {
            let p = CPUShareProbe()
            let prompt = prompts(1, o.sharedPromptTokens)
            let fmt = o.weights.first ?? .float32
            var runs: [Bool: GenerationStats] = [:]
            var totals: [Bool: Double] = [:]
            for share in o.sharingModes {
                let eng = engine(fmt) {
                    $0.maxBatch = o.sharedSamples; $0.sharePrefixes = share; $0.sgemmMinRows = nil
                }
                let req = GenerationRequest(
                    prompts: prompt, samplesPerPrompt: o.sharedSamples, maxNewTokens: o.sharedNewTokens,
                    sampling: SamplingParams(temperature: 1), seed: 1, ignoreEOS: true)
                let t0 = CPUShareProbe.now()
                runs[share] = try eng.generate(req, progress: stepLogger(log, "sharing \(share ? "on" : "off")")).stats
                totals[share] = CPUShareProbe.now() - t0
                log(
                    String(
                        format: "sharing %@: prefill %d tokens in %.2f s, total %.2f s", share ? "on" : "off",
                        runs[share]?.prefillTokens ?? 0, runs[share]?.prefillSeconds ?? 0, totals[share] ?? 0))
            }
            let on = runs[true], off = runs[false], ton = totals[true], toff = totals[false]
            var ratio: Double? = nil, timeRatio: Double? = nil
            if let on, let off { ratio = Double(off.prefillTokens) / Double(max(1, on.prefillTokens)) }
            if let ton, let toff { timeRatio = toff / ton }
            sharing = SharingFigure(
                weights: fmt.rawValue, repeats_per_mode: 1, prompt_tokens: o.sharedPromptTokens,
                samples: o.sharedSamples,
                new_tokens: o.sharedNewTokens,
                shared_prefill_tokens: on?.prefillTokens, unshared_prefill_tokens: off?.prefillTokens,
                prefill_work_ratio: ratio,
                shared_prefill_seconds: on?.prefillSeconds, unshared_prefill_seconds: off?.prefillSeconds,
                shared_total_seconds: ton, unshared_total_seconds: toff, total_time_ratio: timeRatio,
                shared_tokens_per_s: on.flatMap { st in ton.map { Double(st.generatedTokens) / $0 } },
                unshared_tokens_per_s: off.flatMap { st in toff.map { Double(st.generatedTokens) / $0 } },
                shared_peak_kv_mib: on.map { Double($0.peakCacheBytes) / 1_048_576 },
                unshared_peak_kv_mib: off.map { Double($0.peakCacheBytes) / 1_048_576 },
                other_processes_cpu_share: p.otherProcessesShare(cores: o.threads))
        }
        return SampleBenchmarkResult(
            shape:
                "Qwen2.5-0.5B (hidden \(c.hiddenSize), \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads, \(c.numKeyValueHeads) KV heads, intermediate \(c.intermediateSize), vocab \(c.vocabSize), tied), float32",
            threads: o.threads, repeats: o.repeats, prompt_tokens: o.promptTokens, new_tokens: o.newTokens,
            matmul_parameters: matmul, weight_bytes_per_step: bytes, sgemm_gflops: gflops,
            read_bandwidth_gbs: bandwidth,
            skinny_kernel_avx2: DecodeKernels.panelProductUsesAVX2,
            bf16_logprob_max_abs_error_vs_f32: bf16Error, bf16_logprob_error_tokens: bf16Tokens,
            roofline_formula:
                "min(sgemm FLOP/s / (2 * matmul_parameters), bandwidth * batch / weight_bytes_per_step) tokens/s",
            decode: figures, sharing: sharing, pack_seconds: packSeconds,
            other_processes_cpu_share: probe.otherProcessesShare(cores: o.threads), blas: BLAS.configDescription)
    }
}
