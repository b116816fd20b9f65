// MemoryPlan: the estimated peak memory of a training run, by component, from the model's config.json
// and the recipe alone (no weights are read). These are the numbers `verity check --memory` prints and
// the first line of `verity train` shows. A run whose estimate exceeds the memory available
// (/proc/meminfo's MemAvailable, or --memory-limit-gb) is refused before anything is written, with the
// settings that would shrink the largest parts named.
// The components follow what the code allocates:
// - the store (and the adapters' store under LoRA);
// - the gradient block and AdamW's two moments;
// - the reference copy (float32, or its layers' matrices in bfloat16);
// - the sampler's weights (none: it reads the model in place), its KV cache (bounded by its budget) and its
//   logits rows;
// - the update's activations for one micro-batch (every tensor a layer's forward keeps for the backward,
//   or only the residual stream under recompute);
// - the chunked output head;
// - PPO's critic;
// - the process itself (runtime, Lua, tokenizer), measured.
// `peak_rss_mb` in metrics.jsonl is the measured peak to hold it against (docs/training.md gives the figures).
// Not here: anything that reads the weights, or a promise on the allocator's fragmentation.
import Foundation
import VerityLua
import VerityModel
import VerityTensor
import VeritySampling

// MARK: - Plan

/// The estimated peak memory of a run, by component (bytes).
public struct MemoryPlan: Sendable, Equatable {
    /// One part of the estimate.
    public struct Component: Sendable, Equatable {
        /// What it is ("trainable weights", "optimizer state (AdamW)", ...).
        public var name: String
        /// Its bytes at the peak.
        public var bytes: Double
        /// How it was counted, for people.
        public var detail: String
    }

    /// The parts, in the order they are printed.
    public var components: [Component]

    /// Their sum: the estimated peak.
    public var totalBytes: Double { components.reduce(0) { $0 + $1.bytes } }

    /// The component named `name`, if any.
    public func bytes(_ name: String) -> Double? { components.first { $0.name == name }?.bytes }

    /// What the update keeps per token per decoder layer for its backward, in floats (Qwen2/Llama layer, as the training
    /// executor runs it): the layer's input, both norms' outputs, q/k/v and their rotated q/k, the attention output,
    /// o_proj's output, the residual sum, gate, up, SwiGLU's output and down's output.
    static func activationFloatsPerTokenLayer(_ c: ModelConfig) -> Double {
        let hd = Double(c.numAttentionHeads * c.headDim), kd = Double(c.numKeyValueHeads * c.headDim)
        return 6 * Double(c.hiddenSize) + 3 * hd + 3 * kd + 3 * Double(c.intermediateSize)
            + 2 + Double(c.numAttentionHeads)
    }

    /// The estimate for a run of `recipe` on a model of `config`. `klAtStart`: the loss mix gives KL a coefficient at
    /// step 0 (a reference is needed). `processBytes`: the resident memory of the process before the run (runtime,
    /// Lua state, recipe); `tokenizerBytes`: the tokenizer file's size (its tables take about 4x it in memory).
    public static func estimate(
        config c: ModelConfig, recipe r: Recipe, klAtStart: Bool, processBytes: Double, tokenizerBytes: Double,
        engine: EngineOptions = EngineOptions()
    ) -> MemoryPlan {
        let f = 4.0
        let shapes = c.parameterShapes
        let total = Double(shapes.reduce(0) { $0 + $1.1.reduce(1, *) })
        let layers = Double(c.numHiddenLayers), cw = Double(c.hiddenSize), v = Double(c.vocabSize)
        // Matrices the sampler packs: every layer's seven projections and the output head.
        let hd = Double(c.numAttentionHeads * c.headDim), kd = Double(c.numKeyValueHeads * c.headDim)
        let perLayerMatrices = cw * hd * 2 + cw * kd * 2 + 3 * cw * Double(c.intermediateSize)
        let matrices = layers * perLayerMatrices
        // A model whose layers' matrices are frozen in bfloat16: those at 2 bytes, the rest (embedding, norms, biases)
        // at 4, and the widened float32 scratch of the largest matrix, in the forward and again in the backward.
        let largest = max(cw * hd, Double(c.intermediateSize) * cw)
        let halfModel = matrices * 2 + (total - matrices) * f + 2 * largest * f
        let bf16 = r.reference.dtype == .bf16
        var parts: [Component] = []
        func add(_ name: String, _ bytes: Double, _ detail: String) {
            parts.append(Component(name: name, bytes: bytes, detail: detail))
        }
        // Trained parameters: the model, or the adapters under LoRA.
        var trained = total
        if let lora = r.lora {
            let targets = Set(lora.targets.compactMap { LoRATarget(name: $0) })
            var perLayer = 0.0
            for t in targets {
                let (out, inp): (Double, Double) =
                    switch t {
                    case .q: (hd, cw)
                    case .k, .v: (kd, cw)
                    case .o: (cw, hd)
                    case .gate, .up: (Double(c.intermediateSize), cw)
                    case .down: (cw, Double(c.intermediateSize))
                    }
                perLayer += Double(lora.rank) * (out + inp)
            }
            trained = layers * perLayer
            add(
                "frozen weights", bf16 ? halfModel : total * f,
                String(
                    format: bf16
                        ? "%.0fM base parameters, the layers' matrices in bfloat16 (reference.dtype)"
                        : "%.0fM base parameters, float32", total / 1e6))
            add("trainable weights", trained * f, String(format: "LoRA rank %d: %.2fM adapter parameters", lora.rank, trained / 1e6))
        } else {
            add("trainable weights", total * f, String(format: "%.0fM parameters, float32", total / 1e6))
        }
        add("gradients", trained * f, "one float per trained parameter")
        add("optimizer state (AdamW)", 2 * trained * f, "two moments per trained parameter")
        let reference = klAtStart && r.lora == nil
        add(
            "reference", reference ? (bf16 ? halfModel : total * f) : 0,
            reference
                ? (bf16
                    ? "a copy, its layers' matrices in bfloat16 (the loss mix gives kl a coefficient at step 0)"
                    : "a float32 copy (the loss mix gives kl a coefficient at step 0)")
                : r.lora != nil && klAtStart ? "the base with the adapters off: no copy" : "none (no kl term at step 0)")
        let samplerCopy =
            engine.weights == .float32 ? 0 : ((r.lora != nil && bf16 ? 0 : matrices) + v * cw) * 2
        add(
            "sampler weights", samplerCopy,
            engine.weights == .float32
                ? "none: the sampler reads the model's weights in place" : "its bfloat16 packed copy")
        // KV cache: each prompt once, each sample's response, bounded by the engine's budget.
        let rows = Double(r.train.batchSize * r.rollout.n)
        let prompts = Double(r.train.batchSize), promptLen = Double(r.rollout.maxPromptTokens)
        let kvPerPosition = layers * 2 * kd * f
        let kv = min((prompts * promptLen + rows * Double(r.rollout.maxTokens)) * kvPerPosition, Double(engine.memoryBudgetBytes))
        let sft = r.algorithm == .sft
        add(
            "sampler KV cache", sft ? 0 : kv,
            sft ? "none (SFT samples nothing)" : "each prompt once and each response at its cap, within the engine's budget")
        let decodeRows = min(rows, Double(engine.maxBatch))
        add(
            "sampler logits", sft ? 0 : decodeRows * v * f * 2,
            sft ? "none (SFT samples nothing)" : "logits and probabilities of the rows decoded together")
        // The update's micro-batch: packed by a token budget, else micro_batch_size rows at the longest length (SFT:
        // its packed rows, else one example at sft.max_tokens per row).
        let seq = sft ? Double(r.sft.maxTokens) : promptLen + Double(r.rollout.maxTokens)
        let tokens =
            sft
            ? (r.sft.packTokens > 0 ? Double(r.sft.packTokens) : seq) * Double(r.update.microBatchSize)
            : r.update.maxTokensPerMicroBatch > 0
                ? max(Double(r.update.maxTokensPerMicroBatch), seq) : Double(r.update.microBatchSize) * seq
        let perLayer = activationFloatsPerTokenLayer(c)
        let kept = r.update.recompute ? layers * cw + 2 * perLayer : (layers + 1) * perLayer
        add(
            "activations", tokens * kept * f,
            "\(Int(tokens)) tokens per micro-batch x "
                + (r.update.recompute
                    ? "the residual stream of every layer and one layer's activations (recompute)"
                    : "every layer's activations"))
        let chunk = Double(Kernels.headChunkRows(vocab: c.vocabSize))
        add("logits head", (min(chunk, tokens) * v * 2 + tokens * cw * 2) * f, "one chunk of logits and its gradient")
        if r.algorithm == .ppo {
            add(
                "critic", total * f * 4 + tokens * kept * f,
                "the critic's weights, gradients, AdamW moments and activations")
        }
        add("process", processBytes + 4 * tokenizerBytes, "runtime, Lua, recipe and tokenizer (measured)")
        return MemoryPlan(components: parts)
    }

    /// The estimate for `loaded` (its model's config.json and tokenizer, this process's resident memory).
    public static func forRecipe(_ loaded: LoadedRecipe) throws -> MemoryPlan {
        let r = loaded.recipe
        let dir = try Trainer.resolve(r.model, key: "model", recipe: r)
        let base = TransformerModel.holdsAdapters(dir) ? try TransformerModel.adapterBase(dir) : dir
        let config = try ModelConfig.load(from: base.appendingPathComponent("config.json"))
        let tokDir = r.tokenizer.isEmpty ? base : (try? Trainer.resolve(r.tokenizer, key: "tokenizer", recipe: r)) ?? base
        let tokBytes =
            (try? FileManager.default.attributesOfItem(atPath: tokDir.appendingPathComponent("tokenizer.json").path)[
                .size] as? NSNumber)?.doubleValue ?? 0
        let terms = Dictionary(uniqueKeysWithValues: knownLossTerms.map { ($0, 0.0) })
        let mix0 = try r.lossMix(step: 0, terms: terms, in: loaded.state)
        return estimate(
            config: config, recipe: r, klAtStart: (mix0["kl"] ?? 0) != 0,
            processBytes: MemoryPlan.residentBytes(), tokenizerBytes: tokBytes)
    }

    // MARK: Limits

    /// The memory this machine has available now (/proc/meminfo MemAvailable), or nil where it cannot be read.
    public static func availableBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return nil }
        return kb * 1024
    }

    /// This process's resident memory now (VmRSS; 0 where /proc is absent).
    public static func residentBytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return 0 }
        return kb * 1024
    }

    /// Throws when the estimate exceeds `limit` bytes, naming the limit's source and the settings that shrink the
    /// largest parts.
    public func check(limit: Double, source: String, recipe r: Recipe) throws {
        guard totalBytes > limit else { return }
        var advice: [String] = []
        let big = components.sorted { $0.bytes > $1.bytes }.prefix(3).map(\.name)
        for name in big {
            switch name {
            case "activations", "logits head":
                if !r.update.recompute { advice.append("update.recompute = true") }
                advice.append(
                    r.update.maxTokensPerMicroBatch > 0
                        ? "a smaller update.max_tokens_per_micro_batch"
                        : "a smaller update.micro_batch_size (or update.max_tokens_per_micro_batch)")
            case "trainable weights", "gradients", "optimizer state (AdamW)":
                if r.lora == nil { advice.append("lora = { rank = 16 } (train adapters, not the model)") }
            case "reference":
                if r.reference.dtype == .f32 { advice.append("reference = { dtype = \"bf16\" }") }
                advice.append("lora (the base is then the reference, with no copy) or no kl term")
            case "frozen weights":
                if r.reference.dtype == .f32 { advice.append("reference = { dtype = \"bf16\" } (the frozen base in bfloat16)") }
            case "sampler KV cache", "sampler logits":
                advice.append("a smaller train.batch_size, rollout.n or rollout.max_tokens")
            default: break
            }
        }
        var seen = Set<String>()
        let unique = advice.filter { seen.insert($0).inserted }
        throw TrainingError(
            "\(r.file): the run needs about \(MemoryPlan.gib(totalBytes)) (largest: "
                + big.map { "\($0) \(MemoryPlan.gib(bytes($0) ?? 0))" }.joined(separator: ", ")
                + "), over the \(MemoryPlan.gib(limit)) \(source); to fit, try "
                + unique.joined(separator: "; ") + " (`verity check \(r.file) --memory` shows every part)")
    }

    // MARK: Printing

    /// "12.3 GiB".
    public static func gib(_ bytes: Double) -> String { String(format: "%.2f GiB", bytes / 1_073_741_824) }

    /// One line: the total and its parts over 1% of it.
    public var summaryLine: String {
        "memory plan: about \(MemoryPlan.gib(totalBytes)) at the peak ("
            + components.filter { $0.bytes > totalBytes / 100 }.map { "\($0.name) \(MemoryPlan.gib($0.bytes))" }
            .joined(separator: ", ") + ")"
    }

    /// A table of every part, for `verity check --memory`.
    public var table: [String] {
        func row(_ name: String, _ bytes: Double, _ detail: String) -> String {
            let size = MemoryPlan.gib(bytes)
            return "  " + name.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(0, 11 - size.count)) + size + (detail.isEmpty ? "" : "  " + detail)
        }
        return components.map { row($0.name, $0.bytes, $0.detail) } + [row("total (estimated peak)", totalBytes, "")]
    }
}
