// TrainBenchmark: the measurement behind `verity bench train`. One GRPO step of the real trainer
// (VerityTraining.Trainer, run from a generated recipe) on a randomly initialised model of
// Qwen2.5-0.5B's shape: P prompts of exactly `promptTokens` tokens (the real Qwen2.5 tokenizer) ×
// n samples forced to `newTokens` new tokens, the paper's reward (boxed answer) and loss mix (pg,
// entropy, low_var_kl against a frozen reference). It reports the step's time split (rollout,
// reward, reference log-probs, update), the update's FLOP/s as a fraction of the sgemm rate measured
// in the same run, and the peak resident memory. With `lengths` the responses are forced to lengths drawn
// from a distribution (real batches vary) and the update may pack its rows (`maxTokensPerMicroBatch`); the
// result then counts the tokens the algorithm needs against those computed (padding), and the update's
// FLOP/s on the needed ones only. `repeatPrompt` puts one prompt in several rows (the 1-shot shape). It
// does not run TRL (Scripts/bench/grpo_trl.py is the side-by-side peer).
import Foundation
import VerityMeasure
import VerityTensor
import VerityModel
import VerityTokenizer
import VerityLua
import VerityTraining

/// What `verity bench train` measures.
public struct TrainBenchmarkOptions: Sendable {
    /// Prompts per step.
    public var prompts = 8
    /// Samples per prompt.
    public var samples = 8
    /// Tokens per prompt.
    public var promptTokens = 64
    /// New tokens per sample (forced: EOS ignored).
    public var newTokens = 256
    /// Sequences per forward pass of the update.
    public var microBatch = 8
    /// Decoder layers (24: the real shape).
    public var layers = 24
    /// Threads.
    public var threads = 2
    /// A folder with the Qwen2.5 tokenizer (tokenizer.json or vocab.json + merges.txt).
    public var tokenizer = "Tests/Fixtures/qwen2.5-tokenizer"
    /// Response lengths (nil: every response `newTokens` long).
    public var lengths: ResponseLengths? = nil
    /// The seed the lengths are drawn with.
    public var seed: UInt64 = 0
    /// Rows that repeat each prompt (the 1-shot shape: `prompts = 1`, `repeatPrompt = 16`).
    public var repeatPrompt = 1
    /// The update's token budget per packed micro-batch (0: `microBatch` left-padded rows).
    public var maxTokensPerMicroBatch = 0
    /// With packing, whether sequences of a micro-batch that share a prompt hold it once (`update.share_prompt`).
    public var sharePrompt = true
    /// Activation recompute per layer in the update (`update.recompute`).
    public var recompute = false
    /// The model shape: "qwen2.5-0.5b" or "qwen2.5-math-1.5b" (the paper's model), random weights.
    public var shape = "qwen2.5-0.5b"
    /// LoRA adapters of this rank on all seven projections (alpha = 2 x rank), the base as the reference; 0: full
    /// fine-tuning.
    public var loraRank = 0
    /// How the reference (under LoRA: the frozen base) holds its layers' matrices (`reference.dtype`).
    public var referenceDType = WeightDType.f32

    /// The issue's settings: 8 prompts × 8 samples, 64-token prompts, 256 new tokens, 2 threads.
    public init() {}
}

/// Figures of one run (JSON keys in snake_case).
public struct TrainBenchmarkResult: Codable, Sendable {
    /// "train".
    public var benchmark = "train"
    /// The model shape, in words.
    public var shape: String
    /// prompts × samples, prompt and new tokens, threads.
    public var prompts: Int, samples: Int, prompt_tokens: Int, new_tokens: Int, threads: Int
    /// The step's parts, in seconds.
    public var seconds_total: Double, seconds_rollout: Double, seconds_reward: Double, seconds_logprobs: Double,
        seconds_update: Double
    /// New tokens per second of the rollout.
    public var rollout_tokens_per_s: Double
    /// Tokens through the update's forward+backward that the algorithm needs (padding not counted), their FLOPs
    /// (3 × forward: 2 × weight-matrix params per token + causal attention per sequence) and FLOP/s.
    public var update_tokens: Int, update_flops: Double, update_gflops: Double
    /// sgemm GFLOP/s measured before and after the step (median), and the update's fraction of it.
    public var sgemm_gflops: Double, update_fraction_of_sgemm: Double
    /// Peak resident memory of the process (MiB).
    public var peak_rss_mb: Double
    /// The response-length spec ("fixed:N" when not given), rows per prompt, and the update's packing budget (0: off).
    public var lengths: String = "", repeat_prompt: Int = 1, max_tokens_per_micro_batch: Int = 0
    /// Tokens of the batch (prompt + response of every row, over epochs), token positions the update's forwards
    /// computed (padding included, each shared prompt once), the padded share of those, and the prompt tokens a shared
    /// prefix spared (`real_tokens - prefix_tokens_saved` are the ones the algorithm needs to compute).
    public var real_tokens: Int = 0, computed_tokens: Int = 0, padding_fraction: Double = 0,
        prefix_tokens_saved: Int = 0
    /// Whether shared prompts were computed once.
    public var share_prompt: Bool = false
    /// Whether the update recomputed each layer in its backward (activation recompute).
    public var recompute: Bool = false
    /// The LoRA rank (0: full fine-tuning), and the memory plan's estimated peak (MiB) to hold against `peak_rss_mb`.
    public var lora_rank: Int = 0, memory_plan_mb: Double = 0
    /// `reference.dtype`: how the reference (under LoRA, the frozen base) holds its layers' matrices.
    public var reference_dtype: String = "f32"
    /// Whether `peak_rss_mb` counts from after the random model was written (VmHWM reset; false: the whole process).
    public var peak_rss_reset_after_setup: Bool = false
    /// The FLOPs of the same update with every prompt computed once per row (as a trainer without prefix sharing
    /// does, padding not counted), and that work per second as a fraction of sgemm: above 1 where sharing spares work.
    public var update_flops_unshared: Double = 0, update_effective_fraction_of_sgemm: Double = 0
    /// The forced response lengths, in (prompt, sample) order: a peer given them sees the same batch.
    public var response_lengths: [Int] = []
    /// Share of the CPU other processes took during the step.
    public var other_cpu_share: Double?
}

/// `verity bench train`.
public enum TrainBenchmark {
    /// Runs one measured step (after writing the random model and recipe to a temporary folder).
    public static func run(options o: TrainBenchmarkOptions, log: @escaping (String) -> Void) throws
        -> TrainBenchmarkResult
    {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("verity-bench-train-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        let modelDir = root.appendingPathComponent("model")
        let c = try writeRandomModel(to: modelDir, shape: o.shape, layers: o.layers, tokenizer: o.tokenizer, log: log)
        let tok = try Tokenizer(folder: modelDir)
        // Prompts of exactly `promptTokens` tokens: a distinct first word, then " x" tokens.
        var lines: [String] = []
        for p in 0..<o.prompts {
            var text = "Problem\(p):"
            while tok.encode(text).count < o.promptTokens { text += " x" }
            guard tok.encode(text).count == o.promptTokens else {
                throw TrainingError("cannot build a \(o.promptTokens)-token prompt")
            }
            lines.append("{\"prompt\": \(jsonStringLiteral(text)), \"answer\": \"1\"}")
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: root.appendingPathComponent("data.jsonl"))
        let rows = o.prompts * o.repeatPrompt
        let forced = o.lengths?.draw(count: rows * o.samples, seed: o.seed)
        let maxNew = o.lengths?.maximum ?? o.newTokens
        let recipe = """
            return {
              name = "bench-train", model = "\(modelDir.path)",
              train = { data = "\(root.path)/data.jsonl", batch_size = \(rows), repeat_to = \(rows), shuffle = false, required_fields = { "prompt", "answer" } },
              prompt = require "prompts.raw", reward = require "rewards.boxed_equal", grader = "paper", algorithm = "grpo",
              rollout = { n = \(o.samples), temperature = 1.0, max_tokens = \(maxNew), max_prompt_tokens = \(o.promptTokens) },
              optimizer = { lr = 1e-6, weight_decay = 0.01, max_grad_norm = 1.0 },
              update = { mini_batch_size = \(rows), micro_batch_size = \(o.microBatch), max_tokens_per_micro_batch = \(o.maxTokensPerMicroBatch), share_prompt = \(o.sharePrompt), recompute = \(o.recompute) },
              \(o.loraRank > 0 ? "lora = { rank = \(o.loraRank), alpha = \(2 * o.loraRank) }," : "")
              reference = { dtype = "\(o.referenceDType.rawValue)" },
              loss = require "losses.paper", steps = 1, seed = 0,
            }
            """
        let recipeURL = root.appendingPathComponent("bench.lua")
        try Data(recipe.utf8).write(to: recipeURL)
        let loaded = try RecipeLoader.load(path: recipeURL.path, services: .standard(tokenizer: tok))
        var to = TrainerOptions(runDirectory: root.appendingPathComponent("run"))
        to.threads = o.threads
        to.ignoreEOS = true
        to.writeSamples = false
        to.forcedLengths = forced
        to.log = log
        BufferPool.releaseCached()
        // The peak is the step's: writing the random model (a whole float32 store, 6.2 GB on the 1.5B shape) is setup.
        let peakReset = resetPeakResident()
        let plan = try MemoryPlan.forRecipe(loaded)
        log(plan.summaryLine)
        to.memoryPlanBytes = plan.totalBytes
        let trainer = try Trainer(loaded: loaded, options: to)
        let seq = o.promptTokens + maxNew
        let sg = [
            o.maxTokensPerMicroBatch > 0 ? o.maxTokensPerMicroBatch : o.microBatch * seq, c.intermediateSize,
            c.hiddenSize,
        ]
        BLAS.setThreads(o.threads)
        let before = ModelBenchmark.sgemmGFlops(m: sg[0], n: sg[1], k: sg[2], repeats: 3)
        log("sgemm \(sg): \(String(format: "%.1f", before)) GFLOP/s; running one GRPO step")
        let probe = CPUShareProbe()
        let m = try trainer.trainStep()
        let share = probe.otherProcessesShare()
        let after = ModelBenchmark.sgemmGFlops(m: sg[0], n: sg[1], k: sg[2], repeats: 3)
        let nonEmbedding = c.parameterShapes.filter { $0.1.count == 2 && $0.0 != "model.embed_tokens.weight" }.reduce(0)
        { $0 + $1.1.reduce(1, *) }
        let matmulParams = Double(nonEmbedding + c.vocabSize * c.hiddenSize)
        // FLOPs on the tokens the algorithm needs: per sequence, 2 x matmul params per token and causal attention
        // (QK^T and AV, 2 x 2 x layers x heads x head dim x len^2 / 2); x3 for forward and backward (one epoch). A shared
        // prompt (every bench prompt has the same length, shared less its last token) is computed once per micro-batch:
        // each spared copy takes its tokens' matmuls and their causal attention off.
        let lengths = (forced ?? Array(repeating: o.newTokens, count: rows * o.samples)).map { o.promptTokens + $0 }
        let attention = 2.0 * 2.0 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim)
        let perSeq = lengths.reduce(0.0) { total, len in
            total + 2 * matmulParams * Double(len) + attention * Double(len) * Double(len) / 2
        }
        let tokens = Int(m["update_tokens"] ?? 0)
        let saved = Int(m["update_prefix_tokens_saved"] ?? 0)
        let shared = Double(max(o.promptTokens - 1, 1))
        let spared = Double(saved) * 2 * matmulParams + Double(saved) / shared * attention * shared * shared / 2
        // Under LoRA the backward needs dx only (the frozen weights take no gradient): forward + one product, x2.
        let passes = o.loraRank > 0 ? 2.0 : 3.0
        let unshared = passes * perSeq
        let flops = unshared - passes * spared
        let upd = m["seconds_update"] ?? 0
        let gflops = flops / max(upd, 1e-9) / 1e9
        let limit = median([before, after])
        let computed = Int(m["update_computed_tokens"] ?? 0)
        var result = TrainBenchmarkResult(
            shape:
                "\(o.shape == "qwen2.5-math-1.5b" ? "Qwen2.5-Math-1.5B" : "Qwen2.5-0.5B") (\(c.numHiddenLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize)), random weights",
            prompts: o.prompts, samples: o.samples, prompt_tokens: o.promptTokens, new_tokens: o.newTokens,
            threads: o.threads,
            seconds_total: m["seconds"] ?? 0, seconds_rollout: m["seconds_rollout"] ?? 0,
            seconds_reward: m["seconds_reward"] ?? 0,
            seconds_logprobs: m["seconds_logprobs"] ?? 0, seconds_update: upd,
            rollout_tokens_per_s: m["tokens_per_s"] ?? 0,
            update_tokens: tokens, update_flops: flops, update_gflops: gflops, sgemm_gflops: limit,
            update_fraction_of_sgemm: gflops / limit, peak_rss_mb: m["peak_rss_mb"] ?? 0, other_cpu_share: share)
        result.lengths = o.lengths?.spec ?? "fixed:\(o.newTokens)"
        result.repeat_prompt = o.repeatPrompt
        result.max_tokens_per_micro_batch = o.maxTokensPerMicroBatch
        result.real_tokens = tokens
        result.computed_tokens = computed
        result.padding_fraction = computed > 0 ? 1 - Double(tokens - saved) / Double(computed) : 0
        result.prefix_tokens_saved = saved
        result.share_prompt = o.sharePrompt && o.maxTokensPerMicroBatch > 0
        result.recompute = o.recompute
        result.lora_rank = o.loraRank
        result.reference_dtype = o.referenceDType.rawValue
        result.peak_rss_reset_after_setup = peakReset
        result.memory_plan_mb = plan.totalBytes / 1_048_576
        result.update_flops_unshared = unshared
        result.update_effective_fraction_of_sgemm = unshared / max(upd, 1e-9) / 1e9 / limit
        result.response_lengths = forced ?? []
        return result
    }
}

/// Writes a randomly initialised model of `shape` ("qwen2.5-0.5b" or "qwen2.5-math-1.5b"; float32) and the tokenizer
/// files of `tokenizer` to `directory`.
func writeRandomModel(to directory: URL, shape: String, layers: Int, tokenizer: String, log: (String) -> Void) throws
    -> ModelConfig
{
    let fm = FileManager.default
    let c = shape == "qwen2.5-math-1.5b" ? qwen25Math15BShape(layers: layers) : qwen25HalfBShape(layers: layers)
    var gen = SeededGenerator(seed: 1)
    log("writing a random \(c.numHiddenLayers)-layer \(shape)-shaped model to \(directory.path)")
    try TransformerModel.random(config: c, std: 0.02, generator: &gen).save(to: directory, dtype: .f32)
    let tokDir = URL(fileURLWithPath: tokenizer)
    for f in ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"]
    where fm.fileExists(atPath: tokDir.appendingPathComponent(f).path) {
        try fm.copyItem(at: tokDir.appendingPathComponent(f), to: directory.appendingPathComponent(f))
    }
    return c
}
