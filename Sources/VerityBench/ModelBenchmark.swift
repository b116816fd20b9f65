// ModelBenchmark: the measurements behind `verity bench model`. It times sgemm on the model's
// largest product shape (the limit), then a no-grad forward and a forward+backward of a randomly
// initialised model (mean NLL through the fused head+loss, after untimed warm-up steps), and reports tokens/s and model-FLOPs
// utilisation against that sgemm rate, with the CPU share other processes took. Medians of repeats.
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityVerify
import VerityLua
import VerityTensor

// MARK: - Configuration

/// What to measure.
public struct ModelBenchmarkOptions: Sendable {
    /// Sequences per batch (B).
    public var batch = 8
    /// Tokens per sequence (T).
    public var sequence = 256
    /// Timed repetitions (median reported).
    public var repeats = 3
    /// Untimed forward+backward steps first (fill the buffer pool and caches, as a training run's steady state).
    public var warmup = 1
    /// Threads for BLAS and kernels.
    public var threads = 2
    /// Seed of the random weights and tokens.
    public var seed: UInt64 = 1
    /// Time each op's forward and backward during the forward+backward repeats (OpProfiler).
    public var profile = false

    /// Default options: B 8, T 256, 3 repeats, 2 threads.
    public init() {}
}

/// The model shape the benchmark uses: Qwen2.5-0.5B (hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate 4864, vocab 151936, tied).
public func qwen25HalfBShape(layers: Int = 24) -> ModelConfig {
    builtInQwen2Shape(
        "Qwen2.5-0.5B", hidden: 896, intermediate: 4864, layers: layers, heads: 14, ropeTheta: 1_000_000,
        maxPositions: 32768)
}

/// Qwen2.5-Math-1.5B's shape (Tests/Fixtures/configs/qwen2.5-math-1.5b) with `layers` decoder layers.
public func qwen25Math15BShape(layers: Int = 28) -> ModelConfig {
    builtInQwen2Shape(
        "Qwen2.5-Math-1.5B", hidden: 1536, intermediate: 8960, layers: layers, heads: 12, ropeTheta: 10000,
        maxPositions: 4096)
}

/// A Qwen2.5-family config (2 KV heads, vocab 151,936, tied embeddings) with the given sizes.
func builtInQwen2Shape(
    _ name: String, hidden: Int, intermediate: Int, layers: Int, heads: Int, ropeTheta: Double, maxPositions: Int
) -> ModelConfig {
    let json = """
        {"model_type":"qwen2","hidden_size":\(hidden),"intermediate_size":\(intermediate),"num_hidden_layers":\(layers),
         "num_attention_heads":\(heads),"num_key_value_heads":2,"vocab_size":151936,"rms_norm_eps":1e-6,
         "rope_theta":\(ropeTheta),"tie_word_embeddings":true,"max_position_embeddings":\(maxPositions),"hidden_act":"silu"}
        """
    guard let c = try? ModelConfig.decode(Data(json.utf8), file: "(built-in \(name) shape)") else {
        preconditionFailure("built-in config must decode")
    }
    return c
}

// MARK: - Result

/// Figures of one benchmark run (JSON keys in snake_case).
public struct ModelBenchmarkResult: Codable, Sendable {
    /// The benchmark's name ("model").
    public var benchmark = "model"
    /// The model shape measured, in words.
    public var shape: String
    /// Sequences per batch.
    public var batch: Int
    /// Tokens per sequence.
    public var sequence: Int
    /// Threads for BLAS and kernels.
    public var threads: Int
    /// Timed repetitions.
    public var repeats: Int
    /// Untimed warm-up steps before them.
    public var warmup: Int
    /// Parameters of the random model.
    public var parameters: Int
    /// [M, N, K] of the sgemm limit (the model's largest product).
    public var sgemm_shape: [Int]
    /// The limit: median sgemm GFLOP/s over the run.
    public var sgemm_gflops: Double
    /// Each sgemm measurement (one before each repeat).
    public var sgemm_gflops_all: [Double]
    /// Model FLOPs per token of a forward.
    public var flops_per_token_forward: Double
    /// Model FLOPs per token of forward+backward.
    public var flops_per_token_train: Double
    /// How the model FLOPs are counted.
    public var flops_formula: String
    /// Median seconds of a no-grad forward of the batch (with token log-probs).
    public var forward_seconds: Double
    /// Forward tokens per second.
    public var forward_tokens_per_s: Double
    /// Forward model-FLOPs utilisation against the sgemm rate.
    public var forward_mfu: Double
    /// Median seconds of forward+backward of the batch.
    public var train_seconds: Double
    /// Forward+backward tokens per second.
    public var train_tokens_per_s: Double
    /// Forward+backward model-FLOPs utilisation against the sgemm rate.
    public var train_mfu: Double
    /// Each forward+backward time.
    public var train_seconds_all: [Double]
    /// Each forward time.
    public var forward_seconds_all: [Double]
    /// Share of all cores other processes used during the run (nil off Linux).
    public var other_processes_cpu_share: Double?
    /// OpenBLAS build description.
    public var blas: String
    /// Per-op seconds of the last forward+backward repeat, when profiled.
    public var profile: [OpProfiler.Entry]?
}

// MARK: - Running

/// Runs the model benchmark; `log` receives progress lines.
public enum ModelBenchmark {

    /// GFLOP/s of C[m×n] = A[m×k]·B[n×k]ᵀ, median of `repeats` after a warm-up.
    public static func sgemmGFlops(m: Int, n: Int, k: Int, repeats: Int) -> Double {
        var g = SeededGenerator(seed: 3)
        let a = Tensor.normal([m, k], generator: &g), b = Tensor.normal([n, k], generator: &g)
        let c = Tensor(zeros: [m, n])
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, c: c.data, ldc: n)
        var rates: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = CPUShareProbe.now()
            BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, c: c.data, ldc: n)
            rates.append(2 * Double(m) * Double(n) * Double(k) / (CPUShareProbe.now() - t0) / 1e9)
        }
        return median(rates)
    }

    /// Measures sgemm, forward and forward+backward on a random model of `config`'s shape.
    public static func run(config: ModelConfig, options o: ModelBenchmarkOptions, log: (String) -> Void) throws
        -> ModelBenchmarkResult
    {
        BLAS.setThreads(o.threads)
        MemoryTuning.reuseFreedMemory()
        let probe = CPUShareProbe()
        let tokens = o.batch * o.sequence
        let c = config
        let sg = [tokens, c.intermediateSize, c.hiddenSize]
        var sgemmRates = [sgemmGFlops(m: sg[0], n: sg[1], k: sg[2], repeats: 5)]
        log("sgemm \(sg): \(String(format: "%.1f", sgemmRates[0])) GFLOP/s")
        var gen = SeededGenerator(seed: o.seed)
        let model = TransformerModel.random(config: c, std: 0.02, generator: &gen)
        let ids = (0..<tokens).map { _ in Int32(gen.next() % UInt64(c.vocabSize)) }
        var targets = ids
        targets.removeFirst()
        targets.append(0)
        // Model FLOPs: every weight matrix (and the output projection) once per token, 2 FLOPs per multiply-add,
        // plus causal attention (Q·Kᵀ and P·V over T/2 keys on average); backward is twice the forward.
        let nonEmbedding = c.parameterShapes.filter { $0.1.count == 2 && $0.0 != "model.embed_tokens.weight" }.reduce(0)
        { $0 + $1.1.reduce(1, *) }
        let matmulParams = Double(nonEmbedding + c.vocabSize * c.hiddenSize)
        let attn = 2.0 * 2.0 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim) * Double(o.sequence) / 2
        let fwdFlops = 2 * matmulParams + attn
        let trainFlops = 3 * fwdFlops
        /// One forward+backward step of mean NLL through the fused head+loss (the trainers' path).
        func trainStep() throws {
            model.zeroGrad()
            let h = try model.hiddenStates(ids: ids, batch: o.batch, trainable: true)
            let scale = -1 / Float(tokens)
            let (loss, _, _) = model.tokenLoss(hidden: h, targets: targets, trainable: true) { _, lp, _ in
                (scale * lp, scale, 0)
            }
            loss.backward()
        }
        for w in 0..<max(0, o.warmup) {
            let t0 = CPUShareProbe.now()
            try trainStep()
            log("warm-up \(w + 1): forward+backward \(String(format: "%.2f", CPUShareProbe.now() - t0)) s (untimed)")
        }
        var fwd: [Double] = [], train: [Double] = []
        for r in 0..<max(1, o.repeats) {
            if r > 0 { sgemmRates.append(sgemmGFlops(m: sg[0], n: sg[1], k: sg[2], repeats: 3)) }
            var t0 = CPUShareProbe.now()
            do {
                let h = try model.hiddenStates(ids: ids, batch: o.batch, trainable: false)
                let (lp, _) = model.tokenLogProbs(hidden: h, targets: targets, trainable: false)
                precondition(lp.value.count == tokens)
            }
            fwd.append(CPUShareProbe.now() - t0)
            OpProfiler.enabled = o.profile
            OpProfiler.reset()
            t0 = CPUShareProbe.now()
            try trainStep()
            train.append(CPUShareProbe.now() - t0)
            OpProfiler.enabled = false
            log(
                "repeat \(r + 1): forward \(String(format: "%.2f", fwd.last ?? 0)) s, forward+backward \(String(format: "%.2f", train.last ?? 0)) s"
            )
        }
        model.zeroGrad()
        // The limit: median of the sgemm rates measured before each repeat, so a busy spell hits both sides alike.
        let gflops = median(sgemmRates)
        let fs = median(fwd), ts = median(train)
        let ftps = Double(tokens) / fs, ttps = Double(tokens) / ts
        return ModelBenchmarkResult(
            shape:
                "Qwen2.5-0.5B (hidden \(c.hiddenSize), \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads, \(c.numKeyValueHeads) KV heads, intermediate \(c.intermediateSize), vocab \(c.vocabSize), tied)",
            batch: o.batch, sequence: o.sequence, threads: o.threads, repeats: o.repeats, warmup: o.warmup,
            parameters: model.parameterCount,
            sgemm_shape: sg, sgemm_gflops: gflops, sgemm_gflops_all: sgemmRates,
            flops_per_token_forward: fwdFlops, flops_per_token_train: trainFlops,
            flops_formula: "forward = 2*(weight-matrix params + V*C) + 2*L*H*D*T (causal attention); train = 3*forward",
            forward_seconds: fs, forward_tokens_per_s: ftps, forward_mfu: ftps * fwdFlops / (gflops * 1e9),
            train_seconds: ts, train_tokens_per_s: ttps, train_mfu: ttps * trainFlops / (gflops * 1e9),
            train_seconds_all: train, forward_seconds_all: fwd,
            other_processes_cpu_share: probe.otherProcessesShare(), blas: BLAS.configDescription,
            profile: o.profile ? OpProfiler.report() : nil)
    }
}
