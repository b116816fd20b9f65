// Trainer: the GRPO-family training loop of `verity train` (GRPO, Dr.GRPO, RLOO, REINFORCE++), one
// step as DESIGN.md's "One GRPO step" lays it out: a batch of examples (repeated and shuffled by the
// recipe's seed), prompts rendered by the Lua prompt plugin and chat format, n rollouts per prompt
// from the rollout engine, rewards from the Lua reward plugin, advantages, then for each epoch and
// mini-batch a forward over left-padded prompt+response rows in micro-batches with the fused
// per-token objective (coefficients from the Lua loss mix), global-norm clipping and AdamW with the
// schedule's learning rate. The engine reads the policy's weights in place, so every rollout samples
// from the current policy (its version is checked). Metrics go to metrics.jsonl and a progress line; checkpoints are written atomically and a
// run resumes exactly from the latest one. PPO adds a critic (Critic.swift) and GAE advantages.
import Foundation
import VerityCore
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityLua
import VerityJSON
import VerityVerify
import VerityEval
import VerityDistributed
#if canImport(Glibc)
    import Glibc
#endif

/// How a training run is driven (what the recipe does not say).
public struct TrainerOptions {
    /// The run folder (metrics, checkpoints, resolved recipe).
    public var runDirectory: URL
    /// Continue from the latest checkpoint in the run folder.
    public var resume = false
    /// Threads for the sampler and the products.
    public var threads = Parallel.cores
    /// Stop after this many steps in this process (nil: run to the recipe's `steps`).
    public var maxSteps: Int? = nil
    /// Where progress lines go.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Steps in a row whose gradient may be non-finite (each skips its update) before the run stops.
    public var maxNonFiniteSteps = 3
    /// Write every step's samples to samples/step-N.jsonl.
    public var writeSamples = true
    /// Generate to `rollout.max_tokens` regardless of EOS (benchmarks force a fixed length).
    public var ignoreEOS = false
    /// Benchmarks: each sample's response length, forced (with `ignoreEOS`), in the rollout's (prompt, sample) order.
    public var forcedLengths: [Int]? = nil
    /// Hand the buffer pool's cached memory back between the rollout and the update when it holds more than this many
    /// bytes (their shapes differ, so on a tight machine one phase's cache would crowd the other); default: an eighth of
    /// physical memory.
    public var releaseCachedBuffersAbove = Int(ProcessInfo.processInfo.physicalMemory / 8)
    /// The memory plan's estimated peak (`MemoryPlan.totalBytes`), reported beside `peak_rss_mb` as `memory_plan_mb`.
    public var memoryPlanBytes: Double? = nil
    /// The ranks of a data-parallel job (DataParallel.swift); one process alone by default. Rank 0 writes the run folder.
    public var communicator: Communicator = LocalCommunicator()

    /// Options for a run in `runDirectory`.
    public init(runDirectory: URL) { self.runDirectory = runDirectory }
}

/// Errors of a training run, naming the file, key or value at fault.
public struct TrainingError: Error, CustomStringConvertible, LocalizedError {
    /// What is wrong.
    public var message: String
    /// An error with `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
    /// The same text as `description`.
    public var errorDescription: String? { message }
}

/// A run stopped by a request (SIGINT) after writing a checkpoint; the CLI exits 130.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    /// The step the checkpoint holds.
    public var step: Int
    /// What happened.
    public var description: String { "interrupted: checkpoint written at step \(step); continue with --resume" }
}

/// The GRPO-family trainer over one loaded recipe.
public final class Trainer {
    /// The recipe, its Lua state and its data.
    public let loaded: LoadedRecipe
    /// The policy.
    public let model: TransformerModel
    /// The frozen reference policy (loaded only when the loss mix gives KL a non-zero coefficient at step 0; under LoRA
    /// none is loaded: the base with the adapters switched off is the reference).
    public let reference: TransformerModel?
    /// Whether the KL term's reference is the policy's own base with its LoRA adapters switched off.
    public let referenceIsBase: Bool
    /// Whether a reference policy is available for the KL term.
    public var hasReference: Bool { reference != nil || referenceIsBase }
    /// PPO's critic (nil for the critic-free algorithms).
    public let critic: ValueModel?
    /// The sampler over the policy's parameter store.
    public let engine: RolloutEngine
    /// The model's tokenizer.
    public let tokenizer: Tokenizer
    /// The optimizer.
    public let optimizer: AdamW
    /// The objective's surrogate, KL estimator and aggregation.
    public let objective: Objective
    /// Which examples each step draws.
    public internal(set) var sampler: BatchSampler
    /// Steps completed.
    public internal(set) var step = 0
    /// The model folder.
    public let modelDirectory: URL
    let options: TrainerOptions
    var prompts: [Int: (text: String, ids: [Int32], table: LuaTableRef)] = [:]
    var lastTerms: [String: Double] = [:]
    var nonFiniteInARow = 0
    /// Set (from any thread or a signal handler) to stop after the current step with a checkpoint.
    public let stopRequest = StopFlag()
    /// The samples of the last step (prompt index, response, reward, extracted answer), for samples/step-N.jsonl.
    var lastSamples: [String] = []
    /// Each example's training accuracy every time it was drawn (the share of its n samples with a positive
    /// reward), by example position; written to history.json for `verity select`.
    public internal(set) var history: [Int: [Double]] = [:]
    /// Each example's mean response length when last drawn (balances a data-parallel rollout; not checkpointed).
    var responseLengthMean: [Int: Double] = [:]

    /// A trainer for `loaded` (the model folder resolved against the current directory, then the recipe's folder).
    public init(loaded: LoadedRecipe, options: TrainerOptions) throws {
        self.loaded = loaded
        self.options = options
        // The products and kernels of the update use the run's threads too, not only the sampler.
        BLAS.setThreads(max(1, options.threads))
        let r = loaded.recipe
        modelDirectory = try Trainer.resolve(r.model, key: "model", recipe: r)
        // Under LoRA the frozen base is the reference: `reference.dtype = "bf16"` holds its layers' matrices in bfloat16.
        model = try TransformerModel.load(
            directory: modelDirectory, frozenMatricesInBF16: r.lora != nil && r.reference.dtype == .bf16)
        model.recompute = r.update.recompute
        if let lora = r.lora {
            // PEFT's initialisation (B = 0: the policy starts equal to the base), drawn from the run seed.
            var g = SeededGenerator(seed: SeededGenerator.mix(UInt64(bitPattern: Int64(r.seed)) ^ 0x4C6F_5241))
            do {
                model.attach(
                    try LoRAAdapters.initialized(
                        for: model, settings: Trainer.loraSettings(lora), generator: &g, source: r.file))
            } catch let e as ModelError {
                if case .badConfig(_, let key, let detail) = e {
                    throw TrainingError("\(r.file): lora.\(key): \(detail)")
                }
                throw e
            }
        }
        let tokDir =
            r.tokenizer.isEmpty ? modelDirectory : try Trainer.resolve(r.tokenizer, key: "tokenizer", recipe: r)
        tokenizer = try Tokenizer(folder: tokDir)
        let gen = try GenerationConfig.load(directory: modelDirectory)
        var eo = EngineOptions()
        eo.threads = max(1, options.threads)
        engine = RolloutEngine(
            model: model, eosTokenIds: Array(Set(model.config.eosTokenIds + gen.eosTokenIds)).sorted(), options: eo)
        let terms = Dictionary(uniqueKeysWithValues: knownLossTerms.map { ($0, 0.0) })
        let mix0 = try r.lossMix(step: 0, terms: terms, in: loaded.state)
        let wantsReference = (mix0["kl"] ?? 0) != 0
        referenceIsBase = wantsReference && r.lora != nil
        reference =
            wantsReference && r.lora == nil
            ? try TransformerModel.load(directory: modelDirectory, frozenMatricesInBF16: r.reference.dtype == .bf16)
            : nil
        let adam = AdamWConfig(
            beta1: r.optimizer.betas.0, beta2: r.optimizer.betas.1, eps: r.optimizer.eps,
            weightDecay: r.optimizer.weightDecay)
        optimizer = AdamW(count: model.trainableStore.count, config: adam)
        critic =
            r.algorithm == .ppo
            ? try ValueModel(
                directory: r.critic.model.isEmpty
                    ? modelDirectory : try Trainer.resolve(r.critic.model, key: "critic.model", recipe: r),
                config: adam)
            : nil
        critic?.body.recompute = r.update.recompute
        let agg = Aggregation(rawValue: r.update.lossAggregation) ?? .tokenMean
        objective = Objective(
            policy: PolicyLoss(
                clip: r.update.clipRatio, clipHigh: r.update.clipRatioHigh > 0 ? r.update.clipRatioHigh : nil,
                dualClip: r.update.dualClip > 0 ? r.update.dualClip : nil),
            kl: r.kl.estimator, aggregation: agg)
        sampler = BatchSampler(
            count: loaded.trainExamples.count, repeatTo: r.train.repeatTo, shuffle: r.train.shuffle,
            seed: UInt64(bitPattern: Int64(r.seed)))
    }

    /// The model's LoRA settings from the recipe's `lora` table (targets already checked by the recipe's decoder).
    static func loraSettings(_ lora: Recipe.LoRA) -> LoRASettings {
        LoRASettings(rank: lora.rank, alpha: lora.alpha, targets: lora.targets.compactMap { LoRATarget(name: $0) })
    }

    /// A path from the recipe: as given when it exists (relative to the current directory), else beside the recipe.
    static func resolve(_ path: String, key: String, recipe: Recipe) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { return URL(fileURLWithPath: path) }
        let beside = URL(fileURLWithPath: recipe.file).deletingLastPathComponent().appendingPathComponent(path)
        if fm.fileExists(atPath: beside.path) { return beside }
        throw TrainingError(
            "\(recipe.file): \(key) = \"\(path)\": no such folder (looked in the current directory and beside the recipe)"
        )
    }

    // MARK: Prompts

    /// The rendered prompt of example `i` (rendered and tokenized once).
    func prompt(_ i: Int) throws -> (text: String, ids: [Int32], table: LuaTableRef) {
        if let p = prompts[i] { return p }
        let r = loaded.recipe, state = loaded.state
        let table = state.makeTable(loaded.trainExamples[i])
        let text = try RecipeLoader.renderPrompt(r.prompt, chatFormat: r.chatFormat, example: table, state: state)
        let ids = tokenizer.encodeInt32(text)
        let p = (text, ids, table)
        prompts[i] = p
        return p
    }

    // MARK: Step

    /// One training step; returns its metrics. The step is its data flow, one phase after another, each a method
    /// that tests can drive alone: settings (learning rate and loss mix from the recipe), batch (examples and their
    /// prompts), rollout (the sampler), rewards (the recipe's reward on every sample), advantages (per algorithm,
    /// with the critic's values for PPO), update (the policy's epochs x mini-batches x micro-batches, the reference
    /// pass and the critic), metrics.
    public func trainStep() throws -> [String: Double] {
        let t0 = Date(), c0 = comm.secondsInCollectives
        let settings = try stepSettings()
        let batch = try nextBatch()
        let rollout = try self.rollout(batch)
        let rewards = try self.rewards(rollout, batch)
        let advantages = try self.advantages(rollout, batch, rewards)
        let update = try self.update(rollout, batch, advantages, settings)
        step += 1
        var m = stepMetrics(
            settings: settings, batch: batch, rollout: rollout, rewards: rewards, advantages: advantages,
            update: update, seconds: Date().timeIntervalSince(t0))
        if comm.size > 1 {
            // Time in collectives, waiting for slower ranks included, and the largest peak over ranks.
            m["ranks"] = Double(comm.size)
            m["seconds_comm"] = comm.secondsInCollectives - c0
            m["peak_rss_mb_max_rank"] = try comm.allReduceMax([m["peak_rss_mb"] ?? 0])[0]
        }
        return m
    }

    /// The step's learning rate and loss mix, from the recipe's schedules (Lua), after reseeding Lua's generators
    /// from (run seed, step).
    struct StepSettings {
        var lr: Double
        var mix: [String: Double]
        var coefficients: LossCoefficients
    }

    func stepSettings() throws -> StepSettings {
        let r = loaded.recipe, state = loaded.state
        try state.seed(run: UInt64(bitPattern: Int64(r.seed)), step: step)
        let lr = try r.learningRate(step: step, in: state)
        let mix = try r.lossMix(step: step, terms: lastTerms, in: state)
        let coefficients = LossCoefficients(
            pg: mix["pg"] ?? 0, entropy: mix["entropy"] ?? 0, kl: hasReference ? (mix["kl"] ?? 0) : 0,
            sft: mix["sft"] ?? 0)
        if (mix["kl"] ?? 0) != 0 && !hasReference {
            throw TrainingError(
                "\(r.file): the loss mix gives kl = \(mix["kl"] ?? 0) at step \(step), but it gave 0 at step 0, so no reference model was loaded"
            )
        }
        return StepSettings(lr: lr, mix: mix, coefficients: coefficients)
    }

    /// The step's examples with their rendered prompts; over-long prompts are skipped and counted (or stop the run).
    struct StepBatch {
        var rows: [(example: Int, prompt: (text: String, ids: [Int32], table: LuaTableRef))]
        var skipped: Int
    }

    func nextBatch() throws -> StepBatch {
        let r = loaded.recipe
        let indices = sampler.next(r.train.batchSize)
        var batch = StepBatch(rows: [], skipped: 0)
        for i in indices {
            let p = try prompt(i)
            if p.ids.count > r.rollout.maxPromptTokens {
                if r.rollout.longPrompt == "stop" {
                    throw TrainingError(
                        "\(loaded.trainData.path): example \(i + 1) has a prompt of \(p.ids.count) tokens, over "
                            + "rollout.max_prompt_tokens = \(r.rollout.maxPromptTokens) (rollout.long_prompt = \"stop\")"
                    )
                }
                batch.skipped += 1
                continue
            }
            batch.rows.append((i, p))
        }
        guard !batch.rows.isEmpty else {
            throw TrainingError(
                "\(r.file): every prompt of step \(step) is longer than rollout.max_prompt_tokens = \(r.rollout.maxPromptTokens)"
            )
        }
        return batch
    }

    /// The sampler's n samples of every prompt, and the [samples, T] response layout the later phases share.
    struct StepRollout {
        var gen: GenerationResult
        var seconds: Double
        /// Prompt + response ids of each sample, and the prompt's length.
        var sequences: [[Int32]]
        var promptLengths: [Int]
        /// 1 at each sample's response tokens, over [samples, longest response].
        var mask: TokenMatrix
    }

    func rollout(_ batch: StepBatch) throws -> StepRollout {
        let r = loaded.recipe
        var req = GenerationRequest(
            prompts: batch.rows.map(\.prompt.ids), samplesPerPrompt: r.rollout.n, maxNewTokens: r.rollout.maxTokens,
            sampling: SamplingParams(
                temperature: Float(r.rollout.temperature), topK: r.rollout.topK,
                topP: Float(r.rollout.topP)),
            seed: SeededGenerator.mix(UInt64(bitPattern: Int64(r.seed)) ^ SeededGenerator.mix(UInt64(step))))
        req.firstPromptIndex = 0
        req.ignoreEOS = options.ignoreEOS
        req.forcedLengths = options.forcedLengths
        let tr = Date()
        let gen =
            comm.size > 1
            ? try distributedGenerate(req, batch)
            : try engine.generate(req, detokenizer: tokenizer.detokenizerFactory(skipSpecialTokens: true))
        let seconds = Date().timeIntervalSince(tr)
        let tmax = gen.samples.map(\.tokens.count).max() ?? 1
        var mask = TokenMatrix(rows: gen.samples.count, columns: tmax)
        for (b, s) in gen.samples.enumerated() { for t in 0..<s.tokens.count { mask[b, t] = 1 } }
        return StepRollout(
            gen: gen, seconds: seconds,
            sequences: gen.samples.map { batch.rows[$0.promptIndex].prompt.ids + $0.tokens },
            promptLengths: gen.samples.map { batch.rows[$0.promptIndex].prompt.ids.count }, mask: mask)
    }

    /// The recipe's reward on every sample (a reward error stops the step or scores 0, by `rollout.reward_error`),
    /// the reward's own metrics averaged over samples, and each example's accuracy appended to the history.
    struct StepRewards {
        var scores: [Double]
        var extra: [String: Double]
        var errors: Int
        var seconds: Double
    }

    func rewards(_ rollout: StepRollout, _ batch: StepBatch) throws -> StepRewards {
        let r = loaded.recipe, state = loaded.state, gen = rollout.gen, rows = batch.rows
        let trw = Date()
        var out = StepRewards(scores: [], extra: [:], errors: 0, seconds: 0)
        let grader = Grader(profile: GradingProfile(rawValue: r.grader) ?? .paper)
        lastSamples = []
        for s in gen.samples {
            let row = rows[s.promptIndex], ex = loaded.trainExamples[row.example]
            let sample = RewardSample(
                response: s.text ?? "", answer: ex["answer"]?.text ?? "", problem: ex["problem"]?.text ?? "",
                prompt: row.prompt.text, example: row.prompt.table, finishReason: s.finishReason.rawValue,
                tokens: s.tokens.count)
            let res: RewardResult
            do { res = try r.reward(sample, in: state) } catch {
                guard r.rollout.rewardError == "zero" else {
                    throw TrainingError(
                        "step \(step + 1), example \(row.example + 1), sample \(s.sampleIndex): \(error)")
                }
                options.log(
                    "step \(step + 1), example \(row.example + 1), sample \(s.sampleIndex): reward error scored 0: \(error)"
                )
                out.errors += 1
                out.scores.append(0)
                continue
            }
            guard res.reward.isFinite else {
                throw TrainingError(
                    "\(r.file): the reward returned \(res.reward) for prompt \(s.promptIndex) sample \(s.sampleIndex) of step \(step)"
                )
            }
            out.scores.append(res.reward)
            for (k, v) in res.metrics { out.extra[k, default: 0] += v / Double(gen.samples.count) }
            if options.writeSamples {
                let extracted = grader.extract(s.text ?? "").map(jsonStringLiteral) ?? "null"
                lastSamples.append(
                    "{\"example\":\(row.example),\"sample\":\(s.sampleIndex),\"prompt\":\(jsonStringLiteral(row.prompt.text)),"
                        + "\"response\":\(jsonStringLiteral(s.text ?? "")),\"reward\":\(res.reward),\"extracted\":\(extracted),"
                        + "\"answer\":\(jsonStringLiteral(ex["answer"]?.text ?? "")),\"finish_reason\":\"\(s.finishReason.rawValue)\","
                        + "\"tokens\":\(s.tokens.count)}")
            }
        }
        out.seconds = Date().timeIntervalSince(trw)
        var correct = [Int](repeating: 0, count: rows.count), drawn = correct
        for (s, score) in zip(gen.samples, out.scores) {
            drawn[s.promptIndex] += 1
            if score > 0 { correct[s.promptIndex] += 1 }
        }
        for (k, row) in rows.enumerated() where drawn[k] > 0 {
            history[row.example, default: []].append(Double(correct[k]) / Double(drawn[k]))
        }
        if BufferPool.cached > options.releaseCachedBuffersAbove { BufferPool.releaseCached() }
        return out
    }

    /// Advantages over the [samples, T] response matrix, and for PPO the critic's values at the rollout and the GAE
    /// returns its value loss aims at.
    struct StepAdvantages {
        var advantages: TokenMatrix
        var rolloutValues: TokenMatrix
        var returns: TokenMatrix
    }

    func advantages(_ rollout: StepRollout, _ batch: StepBatch, _ rewards: StepRewards) throws -> StepAdvantages {
        let r = loaded.recipe, gen = rollout.gen, mask = rollout.mask, scores = rewards.scores
        let tmax = mask.columns
        // Groups: each batch row's n samples (the paper's code), or every sample of the same example.
        let group =
            r.advantage.groupBy == "example"
            ? gen.samples.map { batch.rows[$0.promptIndex].example } : gen.samples.map(\.promptIndex)
        var rolloutValues = TokenMatrix(rows: mask.rows, columns: tmax), returns = rolloutValues
        let advantages: TokenMatrix
        switch r.algorithm {
        case .sft:
            throw TrainingError("\(r.file): an SFT recipe has no rollouts (its steps are sftStep's)")
        case .grpo where r.advantage.normalizeStd:
            advantages = Advantages.outcome(
                .grpo, scores: scores, group: group, mask: mask, epsilon: r.advantage.epsilon)
        case .grpo, .drGRPO:
            advantages = Advantages.outcome(.drGRPO, scores: scores, group: group, mask: mask)
        case .rloo:
            advantages = Advantages.outcome(.rloo, scores: scores, group: group, mask: mask)
        case .reinforcePlusPlus:
            var tokenRewards = TokenMatrix(rows: mask.rows, columns: tmax)
            for (b, s) in gen.samples.enumerated() { tokenRewards[b, s.tokens.count - 1] = scores[b] }
            advantages = Advantages.reinforcePlusPlus(rewards: tokenRewards, mask: mask, gamma: 1)
        case .ppo:
            // GAE on the critic's values at the positions that predict each response token; the outcome reward on the last.
            guard let critic else { throw TrainingError("ppo without a critic") }
            var tokenRewards = TokenMatrix(rows: mask.rows, columns: tmax)
            let sequences = rollout.sequences, promptLengths = rollout.promptLengths
            // Data-parallel: each rank scores its share; the others' entries are 0 until the sum over ranks.
            for micro in try microBatches(rollout, share(rollout, sequences.indices)) {
                let v = try critic.values(micro.batch)
                for (j, b) in micro.members.enumerated() {
                    for t in 0..<gen.samples[b].tokens.count {
                        rolloutValues[b, t] = Double(v[micro.flatIndex(j, token: promptLengths[b] + t - 1)])
                    }
                }
            }
            if comm.size > 1 { try rolloutValues.values.withUnsafeMutableBufferPointer { try comm.allReduceSum($0) } }
            for (b, s) in gen.samples.enumerated() { tokenRewards[b, s.tokens.count - 1] = scores[b] }
            let g = Advantages.gae(
                rewards: tokenRewards, values: rolloutValues, mask: mask, gamma: r.critic.gamma,
                lambda: r.critic.lambda)
            var a = g.advantages
            for i in a.values.indices { a.values[i] *= mask.values[i] }
            advantages = a
            returns = g.returns
        }
        return StepAdvantages(advantages: advantages, rolloutValues: rolloutValues, returns: returns)
    }

    /// What the update phase measured: the objective's metrics summed over tokens (epoch 0), the last gradient norm,
    /// optimizer steps taken and skipped, the critic's value loss, and where the time went.
    struct StepUpdate {
        var sums: [String: Double] = [:]
        var tokens = 0.0
        var gradNorm = 0.0
        var updates = 0
        var skipped = 0
        var valueLoss = 0.0, valueClipped = 0.0, valueTokens = 0.0
        var miniBatches = 0
        /// Token positions the policy's forwards computed (rows × padded length, over every epoch), padding included.
        var computedTokens = 0.0
        /// Prompt tokens a shared prefix spared the policy's forwards (over every epoch).
        var prefixTokensSaved = 0.0
        var logprobSeconds = 0.0
        var seconds = 0.0
    }

    /// Epochs x mini-batches (prompts x n sequences) x micro-batches: the reference's no-grad pass, the policy's
    /// fused loss and backward, one optimizer step per mini-batch, then the critic on the same mini-batch.
    func update(
        _ rollout: StepRollout, _ batch: StepBatch, _ adv: StepAdvantages, _ settings: StepSettings
    ) throws -> StepUpdate {
        let r = loaded.recipe, sequences = rollout.sequences
        var u = StepUpdate()
        let perMini = min(r.update.miniBatchSize, batch.rows.count) * r.rollout.n
        u.miniBatches = (sequences.count + perMini - 1) / perMini
        let tu = Date()
        for epoch in 0..<r.update.epochs {
            for start in stride(from: 0, to: sequences.count, by: perMini) {
                let members = start..<min(sequences.count, start + perMini)
                // Data-parallel: this rank's share of the mini-batch, weighted by the whole mini-batch's token counts;
                // the gradients are then summed over ranks.
                let mine = share(rollout, members)
                let whole = miniBatchWeights(rollout, members)
                let weights = mine == members ? whole : Trainer.rows(whole, mine, first: members.lowerBound)
                model.zeroGrad()
                if !mine.isEmpty {
                    try accumulatePolicyGradient(
                        rollout, adv, members: mine, weights: weights, coefficients: settings.coefficients,
                        metrics: epoch == 0, into: &u)
                }
                try reduceGradients(model.trainableStore)
                u.gradNorm = model.trainableStore.gradientNorm()
                guard try acceptGradient(norm: u.gradNorm) else {
                    u.skipped += 1
                    continue
                }
                if r.optimizer.maxGradNorm > 0 {
                    model.trainableStore.clipGradients(maxNorm: r.optimizer.maxGradNorm)
                }
                optimizer.step(model.trainableStore, lr: settings.lr)
                u.updates += 1
                // The critic on the same mini-batch: clipped value loss against the GAE returns.
                if let critic {
                    critic.zeroGrad()
                    if !mine.isEmpty {
                        try accumulateCriticGradient(
                            rollout, adv, members: mine, weights: weights, valueCoefficient: settings.mix["value"] ?? 1,
                            metrics: epoch == 0, into: &u)
                    }
                    try reduceGradients(critic.body.store)
                    try reduceGradients(critic.head)
                    if critic.step(lr: r.critic.lr, maxNorm: r.optimizer.maxGradNorm) == nil {
                        options.log("step \(step + 1): the critic's gradient is not finite; its update is skipped")
                    }
                }
            }
        }
        try reduceUpdateMetrics(&u)
        u.seconds = Date().timeIntervalSince(tu) - u.logprobSeconds
        if BufferPool.cached > options.releaseCachedBuffersAbove { BufferPool.releaseCached() }
        return u
    }

    /// The aggregation's per-token weights [members, T] of one mini-batch (row j is sample members.lowerBound + j).
    func miniBatchWeights(_ rollout: StepRollout, _ members: Range<Int>) -> TokenMatrix {
        let mask = rollout.mask, tmax = mask.columns
        var miniMask = TokenMatrix(rows: members.count, columns: tmax)
        for (j, b) in members.enumerated() { for t in 0..<tmax { miniMask[j, t] = mask[b, t] } }
        return objective.aggregation.weights(mask: miniMask, normalizer: Double(loaded.recipe.rollout.maxTokens))
    }

    /// The policy's loss over one mini-batch, micro-batch by micro-batch, with the gradients accumulated in the
    /// store (not zeroed here) and, when `metrics`, the objective's metrics summed into `u`. The reference's log-probs
    /// come from a no-grad forward over the same micro-batch. `maxTokens` and `sharePrompt` override
    /// `update.max_tokens_per_micro_batch` and `update.share_prompt` (the packing tests compare the layouts).
    func accumulatePolicyGradient(
        _ rollout: StepRollout, _ adv: StepAdvantages, members: Range<Int>, weights: TokenMatrix,
        coefficients: LossCoefficients, metrics: Bool, maxTokens: Int? = nil, sharePrompt: Bool? = nil,
        into u: inout StepUpdate
    ) throws {
        let gen = rollout.gen, promptLengths = rollout.promptLengths, first = members.lowerBound
        for micro in try microBatches(rollout, members, maxTokens: maxTokens, sharePrompt: sharePrompt) {
            let batch = micro.batch
            let count = batch.rows * batch.length
            u.computedTokens += Double(count)
            u.prefixTokensSaved += Double(micro.prefixTokensSaved)
            var a = [Double](repeating: 0, count: count), old = a, w = a
            var ref: [Double]? = hasReference ? a : nil
            // Reference log-probs: a no-grad forward of the frozen model over the same rows (under LoRA, the policy's
            // base with the adapters switched off).
            var refLP: [Float] = []
            if hasReference {
                let tl = Date()
                let refModel = reference ?? model
                let h = try refModel.hiddenStates(batch, trainable: false, adapters: false)
                refLP =
                    refModel.tokenLogProbs(hidden: h, targets: batch.nextTokenTargets, trainable: false)
                    .logprobs.value.values
                u.logprobSeconds += Date().timeIntervalSince(tl)
            }
            for (j, b) in micro.members.enumerated() {
                let s = gen.samples[b], miniRow = b - first
                for t in 0..<s.tokens.count {
                    let flat = micro.flatIndex(j, token: promptLengths[b] + t - 1)
                    a[flat] = adv.advantages[b, t]
                    old[flat] = Double(s.logprobs[t])
                    w[flat] = weights[miniRow, t]
                    if ref != nil { ref?[flat] = Double(refLP[flat]) }
                }
            }
            // The first epoch is on-policy: old log-probs are the sampler's, which equal the trainer's within 1e-5
            // (metrics report the gap); later epochs compare with them too, as PPO does.
            let ob = ObjectiveBatch(advantages: a, oldLogprobs: old, refLogprobs: ref, weights: w)
            let (lp, ent) = try lossBackward(batch, ob, coefficients)
            if metrics {
                let m = objective.metrics(ob, logprobs: lp, entropy: ent)
                let k = m["tokens"] ?? 0
                for (name, v) in m where name != "tokens" { u.sums[name, default: 0] += v * k }
                u.tokens += k
            }
        }
    }

    /// The policy's forward over `batch` with the objective fused into the output head, and its backward (gradients
    /// accumulate in the store); returns the per-token log-probs and entropies [B·T]. The RL update and SFT share it.
    func lossBackward(_ batch: TokenBatch, _ ob: ObjectiveBatch, _ coefficients: LossCoefficients) throws
        -> (logprobs: [Float], entropy: [Float])
    {
        let h = try model.hiddenStates(batch, trainable: true)
        let (loss, lp, ent) = model.tokenLoss(
            hidden: h, targets: batch.nextTokenTargets, trainable: true, loss: objective.tokenTerm(ob, coefficients))
        loss.backward()
        return (lp.values, ent.values)
    }

    /// The critic's clipped value loss over one mini-batch, with its gradients accumulated (not zeroed here).
    func accumulateCriticGradient(
        _ rollout: StepRollout, _ adv: StepAdvantages, members: Range<Int>, weights: TokenMatrix,
        valueCoefficient: Double, metrics: Bool, maxTokens: Int? = nil, sharePrompt: Bool? = nil,
        into u: inout StepUpdate
    ) throws {
        guard let critic else { return }
        let gen = rollout.gen, promptLengths = rollout.promptLengths, first = members.lowerBound
        let vl = ValueLoss(clip: loaded.recipe.critic.valueClip)
        for micro in try microBatches(rollout, members, maxTokens: maxTokens, sharePrompt: sharePrompt) {
            let batch = micro.batch
            let count = batch.rows * batch.length
            var old = [Double](repeating: 0, count: count), ret = old, w = old
            for (j, b) in micro.members.enumerated() {
                for t in 0..<gen.samples[b].tokens.count {
                    let flat = micro.flatIndex(j, token: promptLengths[b] + t - 1)
                    old[flat] = adv.rolloutValues[b, t]
                    ret[flat] = adv.returns[b, t]
                    w[flat] = weights[b - first, t] * valueCoefficient
                }
            }
            let res = try critic.accumulateLoss(batch, rolloutValues: old, returns: ret, weights: w, loss: vl)
            if metrics {
                u.valueLoss += res.loss
                u.valueClipped += res.clipped
                u.valueTokens += res.tokens
            }
        }
    }

    /// One forward's worth of a mini-batch: the rollout samples it holds and their token batch.
    struct MicroBatch {
        /// Rollout sample indices, in the order their sequences sit in the batch.
        var members: [Int]
        var batch: TokenBatch
        /// Per member: its row, and where its sequence starts within the row's real tokens (0 unless packed).
        var rows: [Int]
        var offsets: [Int]
        /// Per member: its leading tokens held in a shared prefix segment of the row, not in its own (0 unless shared).
        var shared: [Int]

        /// The flat [B·T] index of token `token` of member `j`'s sequence (a token after its shared prefix, if any).
        func flatIndex(_ j: Int, token: Int) -> Int {
            precondition(token >= shared[j], "token \(token) of member \(j) sits in the shared prefix")
            return batch.flatIndex(row: rows[j], token: offsets[j] + token - shared[j])
        }

        /// Tokens of the row's prefix segments themselves.
        var prefixTokens = 0
        /// Prompt tokens the shared prefixes spared (a prefix computed once instead of once per sequence).
        var prefixTokensSaved: Int { shared.reduce(0, +) - prefixTokens }
    }

    /// The micro-batches of `members`: `update.micro_batch_size` left-padded rows each, or, with a token budget
    /// (`update.max_tokens_per_micro_batch`, or `maxTokens`), the sequences packed first-fit in order into one row of
    /// at most that many tokens (a longer one alone), attending only to themselves: no compute on padding. With
    /// `update.share_prompt` (or `sharePrompt`), sequences of one micro-batch with the same prompt hold it once: the
    /// prompt less its last token (whose position predicts the first response token, so each sequence keeps it) is a
    /// prefix segment that they continue.
    func microBatches(
        _ rollout: StepRollout, _ members: Range<Int>, maxTokens: Int? = nil, sharePrompt: Bool? = nil
    ) throws -> [MicroBatch] {
        let r = loaded.recipe, sequences = rollout.sequences
        let budget = maxTokens ?? r.update.maxTokensPerMicroBatch
        guard budget > 0 else {
            return try stride(from: members.lowerBound, to: members.upperBound, by: r.update.microBatchSize).map {
                let micro = Array($0..<min(members.upperBound, $0 + r.update.microBatchSize))
                return MicroBatch(
                    members: micro, batch: try TokenBatch(sequences: micro.map { sequences[$0] }),
                    rows: Array(0..<micro.count), offsets: Array(repeating: 0, count: micro.count),
                    shared: Array(repeating: 0, count: micro.count))
            }
        }
        // The prefix a sequence may share: its prompt less the last token (none for a one-token prompt).
        let share = sharePrompt ?? r.update.sharePrompt
        let prefixes: [[Int32]?] = members.map { b in
            let n = rollout.promptLengths[b] - 1
            return share && n > 0 ? Array(sequences[b][0..<n]) : nil
        }
        let bins = Trainer.packSharing(
            members.map { sequences[$0].count }, prefixes: prefixes, capacity: budget)
        return try bins.map { bin in
            // Layout: sequences in bin order, except that those of a shared prefix follow it, grouped where it first
            // appears; a prefix only one sequence of the bin has is not split off.
            var counts: [[Int32]: Int] = [:]
            for i in bin { if let p = prefixes[i] { counts[p, default: 0] += 1 } }
            var segments: [[Int32]] = [], prefixOf: [Int?] = [], micro: [Int] = []
            var offsets: [Int] = [], shared: [Int] = [], placed = Set<Int>(), at = 0, prefixTokens = 0
            for i in bin where !placed.contains(i) {
                let b = members.lowerBound + i
                guard let p = prefixes[i], counts[p, default: 0] > 1 else {
                    placed.insert(i)
                    segments.append(sequences[b]); prefixOf.append(nil)
                    micro.append(b); offsets.append(at); shared.append(0)
                    at += sequences[b].count
                    continue
                }
                let head = segments.count
                segments.append(p); prefixOf.append(nil)
                at += p.count
                prefixTokens += p.count
                for k in bin where !placed.contains(k) && prefixes[k] == p {
                    placed.insert(k)
                    let c = members.lowerBound + k
                    segments.append(Array(sequences[c][p.count...])); prefixOf.append(head)
                    micro.append(c); offsets.append(at); shared.append(p.count)
                    at += sequences[c].count - p.count
                }
            }
            let sharing = prefixOf.contains { $0 != nil }
            var mb = MicroBatch(
                members: micro,
                batch: try TokenBatch(packedRows: [segments], prefixOf: sharing ? [prefixOf] : nil),
                rows: Array(repeating: 0, count: micro.count), offsets: offsets, shared: shared)
            mb.prefixTokens = prefixTokens
            return mb
        }
    }

    /// The step's metrics (names as verl's where they exist); also keeps the loss terms the next step's mix sees.
    func stepMetrics(
        settings: StepSettings, batch: StepBatch, rollout: StepRollout, rewards: StepRewards,
        advantages adv: StepAdvantages, update u: StepUpdate, seconds: Double
    ) -> [String: Double] {
        let r = loaded.recipe, gen = rollout.gen, scores = rewards.scores, advantages = adv.advantages
        var m: [String: Double] = [:]
        for (k, v) in u.sums { m[k] = v / max(u.tokens, 1) }
        for (k, v) in rewards.extra { m["reward/" + k] = v }
        let newTokens = gen.samples.reduce(0) { $0 + $1.tokens.count }
        let meanReward = scores.reduce(0, +) / Double(scores.count)
        m["step"] = Double(step)
        m["reward_mean"] = meanReward
        m["reward_std"] =
            (scores.reduce(0) { $0 + ($1 - meanReward) * ($1 - meanReward) } / Double(max(scores.count, 1)))
            .squareRoot()
        m["accuracy"] = Double(scores.filter { $0 > 0 }.count) / Double(scores.count)
        m["zero_adv_fraction"] =
            Double((0..<advantages.rows).filter { advantages[$0, 0] == 0 }.count) / Double(max(advantages.rows, 1))
        m["response_length_mean"] = Double(newTokens) / Double(gen.samples.count)
        m["response_length_max"] = Double(gen.samples.map(\.tokens.count).max() ?? 0)
        m["truncated_fraction"] =
            Double(gen.samples.filter { $0.finishReason == .length }.count) / Double(gen.samples.count)
        m["lr"] = settings.lr
        m["grad_norm"] = u.gradNorm
        m["seconds"] = seconds
        m["seconds_rollout"] = rollout.seconds
        m["seconds_reward"] = rewards.seconds
        // Old log-probs are the sampler's (equal to the trainer's within 1e-5): no extra pass; this is the reference's.
        m["seconds_logprobs"] = u.logprobSeconds
        m["update_tokens"] = Double(rollout.sequences.reduce(0) { $0 + $1.count }) * Double(r.update.epochs)
        // What the policy's forwards computed, padding included (packed micro-batches compute none).
        m["update_computed_tokens"] = u.computedTokens
        // Prompt tokens computed once for several sequences instead of once each (update.share_prompt).
        m["update_prefix_tokens_saved"] = u.prefixTokensSaved
        let needed = (m["update_tokens"] ?? 0) - u.prefixTokensSaved
        m["update_padding_fraction"] = u.computedTokens > 0 ? 1 - needed / u.computedTokens : 0
        m["seconds_update"] = u.seconds
        m["tokens_per_s"] = Double(newTokens) / max(rollout.seconds, 1e-9)
        m["peak_rss_mb"] = Trainer.peakRSSMegabytes()
        if let plan = options.memoryPlanBytes { m["memory_plan_mb"] = plan / 1_048_576 }
        m["skipped_prompts"] = Double(batch.skipped)
        m["reward_errors"] = Double(rewards.errors)
        m["skipped_updates"] = Double(u.skipped)
        m["optimizer_steps"] = Double(u.updates)
        if critic != nil {
            m["vf_loss"] = u.valueLoss / Double(max(1, u.miniBatches))
            m["vf_clipfrac"] = u.valueClipped / max(u.valueTokens, 1)
            m["values_mean"] = Aggregation.tokenMean.aggregate(adv.rolloutValues, mask: rollout.mask)
        }
        if let pg = m["pg_loss_weighted"] { m["pg_loss"] = pg; m["pg_loss_weighted"] = nil }
        lastTerms = ["pg": m["pg_loss"] ?? 0, "entropy": m["entropy"] ?? 0, "kl": m["kl"] ?? 0]
        return m
    }

    /// Whether an update with this gradient norm may go ahead. A non-finite loss or gradient skips the update (the
    /// weights stay as they were), is logged and counted, and stops the run after `maxNonFiniteSteps` in a row.
    func acceptGradient(norm: Double) throws -> Bool {
        guard !norm.isFinite else {
            nonFiniteInARow = 0
            return true
        }
        nonFiniteInARow += 1
        options.log(
            "step \(step + 1): the gradient norm is \(norm) (NaN or infinite loss); update skipped "
                + "(\(nonFiniteInARow) in a row, the run stops at \(options.maxNonFiniteSteps))")
        if nonFiniteInARow >= options.maxNonFiniteSteps {
            throw TrainingError(
                "step \(step + 1): \(nonFiniteInARow) steps in a row with a non-finite gradient; the run stops "
                    + "(the last checkpoint is intact)")
        }
        return false
    }

    // MARK: Run

    /// Runs to the recipe's `steps` (or `options.maxSteps` more), writing metrics, progress lines and checkpoints.
    @discardableResult
    public func run() throws -> [[String: Double]] {
        let r = loaded.recipe
        let fm = FileManager.default
        let dir = options.runDirectory
        // Data-parallel: rank 0 alone reads the checkpoint and writes the run folder; the others take its state.
        var handle: FileHandle?, board: TensorBoardWriter?
        if isRoot {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            if options.resume {
                try restoreLatest()
            } else if fm.fileExists(atPath: dir.appendingPathComponent("metrics.jsonl").path) {
                throw TrainingError(
                    "\(dir.path) already holds a run (metrics.jsonl); pass --resume to continue it or choose another --run-dir"
                )
            }
            try RunRecord.write(loaded, to: dir)
            let metricsURL = dir.appendingPathComponent("metrics.jsonl")
            if !fm.fileExists(atPath: metricsURL.path) { try AtomicFile.write(Data(), to: metricsURL) }
            handle = try FileHandle(forWritingTo: metricsURL)
            try handle?.seekToEnd()
            board = try TensorBoardWriter(directory: dir.appendingPathComponent("tensorboard"))
        }
        defer { try? handle?.close() }
        try synchronizeRanks(resumed: options.resume)
        let last = min(r.steps, options.maxSteps.map { step + $0 } ?? r.steps)
        // Evaluation inside training (greedy by default, the paper's validation): before the first step when
        // eval.before_train is set, then every eval.every steps, on a checkpoint of that step.
        let plan: EvalPlan? =
            (r.eval.every > 0 || r.eval.beforeTrain) && !loaded.evalSets.isEmpty
            ? try EvalPlan(
                recipe: loaded, catalog: BenchmarkCatalog(directory: URL(fileURLWithPath: "data/eval")),
                adjust: { $0.alsoGrade = [.qwenEval] })  // format-agnostic accuracy beside the recipe's grader
            : nil
        if let plan, r.eval.beforeTrain, step == 0 {
            var m = try evaluate(plan, model: modelDirectory, step: 0)
            m["step"] = 0
            try handle?.write(contentsOf: Data((Trainer.jsonLine(m) + "\n").utf8))
            try board?.write(step: 0, scalars: m.filter { $0.key != "step" })
        }
        var all: [[String: Double]] = []
        let start = Date(), firstStep = step
        while step < last {
            var m = try r.algorithm == .sft ? sftStep() : trainStep()
            // The last step is always evaluated when there is an eval plan (summary.json's "after").
            let evalNow = plan != nil && ((r.eval.every > 0 && step % r.eval.every == 0) || step == r.steps)
            let saveNow = (r.saveEvery > 0 && step % r.saveEvery == 0) || step == r.steps || evalNow
            if saveNow { try checkpointOnRoot() }
            if let plan, evalNow {
                let ck = options.runDirectory.appendingPathComponent("checkpoints/step-\(step)")
                for (k, v) in try evaluate(plan, model: ck, step: step) { m[k] = v }
            }
            all.append(m)
            let stopping = try anyRankStopping()
            if isRoot {
                try handle?.write(contentsOf: Data((Trainer.jsonLine(m) + "\n").utf8))
                try board?.write(step: step, scalars: m.filter { $0.key != "step" })
                let done = step - firstStep, per = Date().timeIntervalSince(start) / Double(max(done, 1))
                try writeHistory()
                if options.writeSamples {
                    let sdir = dir.appendingPathComponent("samples")
                    try fm.createDirectory(at: sdir, withIntermediateDirectories: true)
                    try AtomicFile.write(
                        Data((lastSamples.joined(separator: "\n") + "\n").utf8),
                        to: sdir.appendingPathComponent("step-\(step).jsonl"))
                }
                let eta = Trainer.duration(per * Double(r.steps - step))
                if r.algorithm == .sft {
                    options.log(
                        String(
                            format: "step %d/%d  loss %.4f  entropy %.3f  grad %.2f  lr %.2e  %.1fs  %.0f tok/s  ETA %@",
                            step,
                            r.steps, m["sft_loss"] ?? 0, m["entropy"] ?? 0, m["grad_norm"] ?? 0, m["lr"] ?? 0,
                            m["seconds"] ?? 0, m["tokens_per_s"] ?? 0, eta))
                } else {
                    options.log(
                        String(
                            format: "step %d/%d  reward %.3f  acc %.3f  entropy %.3f  %.1fs  %.0f tok/s  ETA %@", step,
                            r.steps, m["reward_mean"] ?? 0, m["accuracy"] ?? 0, m["entropy"] ?? 0, m["seconds"] ?? 0,
                            m["tokens_per_s"] ?? 0, eta))
                }
            }
            if stopping && step < last {
                try checkpointOnRoot()
                throw TrainingInterrupted(step: step)
            }
        }
        if step == r.steps && isRoot { try writeSummary() }
        try comm.barrier()
        return all
    }

    /// Writes summary.json from metrics.jsonl (so a resumed run counts every step): steps, seconds (training and
    /// evaluation), and each eval set's accuracy before training (step 0) and after (the last evaluation).
    @discardableResult
    public func writeSummary() throws -> RunSummary {
        let url = options.runDirectory.appendingPathComponent("metrics.jsonl")
        let lines = try JSONLines.read(url).compactMap { line -> [String: Double]? in
            guard case .object(let o) = line.value else { return nil }
            return o.compactMapValues(\.doubleValue)
        }
        var summary = RunSummary(run: loaded.recipe.name, steps: step)
        summary.grader = loaded.recipe.grader
        var lenient: [String: RunSummary.Eval] = [:], reflection: [String: RunSummary.Eval] = [:]
        for m in lines {
            summary.seconds += (m["seconds"] ?? 0) + (m["seconds_eval"] ?? 0)
            let stepOfLine = Int(m["step"] ?? 0)
            for (k, v) in m where k.hasPrefix("eval/") {
                let rest = k.dropFirst(5)
                guard let slash = rest.lastIndex(of: "/") else { continue }
                let set = String(rest[..<slash])
                func note(_ table: inout [String: RunSummary.Eval]) {
                    var e = table[set] ?? RunSummary.Eval()
                    if stepOfLine == 0 { e.before = v } else { (e.after, e.afterStep) = (v, stepOfLine) }
                    table[set] = e
                }
                switch rest[rest.index(after: slash)...] {
                case "accuracy": note(&summary.eval)
                case "accuracy_lenient": note(&lenient)
                case "reflection_rate": note(&reflection)
                default: break
                }
            }
        }
        summary.evalLenient = lenient.isEmpty ? nil : lenient
        summary.reflectionRate = reflection.isEmpty ? nil : reflection
        if let first = lines.first(where: { ($0["step"] ?? 0) >= 1 }), let last = lines.last {
            summary.trainRewardFirst = first["reward_mean"]
            summary.trainRewardLast = last["reward_mean"]
            summary.trainAccuracyLast = last["accuracy"]
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(summary), to: options.runDirectory.appendingPathComponent("summary.json"))
        return summary
    }

    /// Evaluates the model folder `model` with the recipe's eval plan into eval/step-N/; returns eval/<set>/accuracy metrics.
    func evaluate(_ plan: EvalPlan, model: URL, step: Int) throws -> [String: Double] {
        var eo = EvalOptions()
        eo.threads = max(1, options.threads)
        eo.log = options.log
        let t0 = Date()
        // Data-parallel: the ranks that can read the model folder (all of them on a shared file system, else rank 0
        // alone) grade a part of each set each (EvalShard); rank 0 writes, and its figures are every rank's.
        if comm.size > 1 {
            let readable = try comm.allGather(
                FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path))
            let parts = readable.indices.filter { readable[$0] || $0 == 0 }
            eo.shard = EvalShard(
                part: parts.firstIndex(of: comm.rank) ?? parts.count, count: parts.count,
                agree: { ids in try self.comm.broadcast(ids) },
                gather: { records in try self.comm.allGather(records).flatMap { $0 } })
            var m: [String: Double] = [:]
            if parts.contains(comm.rank) {
                let summary = try Evaluator(model: model, plan: plan, options: eo)
                    .run(out: isRoot ? options.runDirectory.appendingPathComponent("eval/step-\(step)") : nil)
                m = evalMetrics(summary, step: step, seconds: Date().timeIntervalSince(t0))
            } else {
                // A rank without the folder still takes part in each set's two collectives.
                for _ in plan.sets {
                    _ = try eo.shard?.agree([])
                    _ = try eo.shard?.gather([])
                }
            }
            return try comm.broadcast(m)
        }
        let summary = try Evaluator(model: model, plan: plan, options: eo)
            .run(out: options.runDirectory.appendingPathComponent("eval/step-\(step)"))
        return evalMetrics(summary, step: step, seconds: Date().timeIntervalSince(t0))
    }

    /// The eval/<set>/accuracy metrics of a summary, and the progress line.
    func evalMetrics(_ summary: EvalSummary, step: Int, seconds: Double) -> [String: Double] {
        var m: [String: Double] = [:]
        for res in summary.results {
            m["eval/\(res.name)/accuracy"] = res.accuracy
            if let lenient = res.accuracyByGrader?[GradingProfile.qwenEval.rawValue] {
                m["eval/\(res.name)/accuracy_lenient"] = lenient
            }
            m["eval/\(res.name)/reflection_rate"] = res.reflectionRate
        }
        if let avg = summary.average { m["eval/average"] = avg }
        m["seconds_eval"] = seconds
        options.log(
            "eval at step \(step): "
                + summary.results.map { "\($0.name) \(String(format: "%.3f", $0.accuracy))" }.joined(separator: ", "))
        return m
    }

    /// The process's peak resident memory in MiB (VmHWM; 0 where /proc is absent).
    static func peakRSSMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? "\(t / 3600)h\(String(format: "%02d", t % 3600 / 60))m"
            : (t >= 60 ? "\(t / 60)m\(String(format: "%02d", t % 60))s" : "\(t)s")
    }

    static func jsonLine(_ m: [String: Double]) -> String {
        "{"
            + m.keys.sorted().map { k in
                let v = m[k] ?? 0
                return jsonStringLiteral(k) + ":"
                    + (v.isFinite ? (v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)") : "null")
            }.joined(separator: ",") + "}"
    }

    /// The key of example `i` in history.json: its `index` field when it has an integer one (as the paper's
    /// data), else its 0-based position in the data file.
    func historyKey(_ i: Int) -> String {
        loaded.trainExamples[i]["index"]?.intValue.map(String.init) ?? String(i)
    }

    /// Writes history.json: every training example in file order with its accuracy list (empty when never drawn),
    /// in the layout of the paper's acc_step_500.json.
    func writeHistory() throws {
        let h = AccuracyHistory(
            entries: loaded.trainExamples.indices.map { (historyKey($0), history[$0] ?? []) })
        try AtomicFile.write(
            Data(h.jsonText().utf8), to: options.runDirectory.appendingPathComponent("history.json"))
    }

    // MARK: Checkpoints

    /// What a resume needs besides the weights.
    struct State: Codable {
        var step: Int
        var sampler: BatchSampler
        var adamStep: Int
        var lastTerms: [String: Double]
        var recipeName: String
        var parameterCount: Int
        var criticAdamStep: Int?
        /// Accuracy history by example position (absent in checkpoints written before it existed).
        var history: [Int: [Double]]?
    }

    /// Writes `checkpoints/step-N/`: a Hugging Face folder (config.json, model.safetensors, tokenizer files; under LoRA,
    /// PEFT's adapter_config.json and adapter_model.safetensors instead of the weights), the optimizer's moments
    /// (optimizer.safetensors) and trainer.json; built in a temporary folder and renamed into place.
    public func saveCheckpoint() throws {
        let fm = FileManager.default
        let root = options.runDirectory.appendingPathComponent("checkpoints")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let final = root.appendingPathComponent("step-\(step)")
        let tmp = root.appendingPathComponent(".step-\(step).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        if let adapters = model.adapters {
            // PEFT's layout: the adapters alone, naming the base folder; config.json beside them for the tools that
            // read a model's shape.
            try adapters.save(to: tmp, baseModel: modelDirectory.standardizedFileURL.path)
            try fm.copyItem(at: modelDirectory.appendingPathComponent("config.json"), to: tmp.appendingPathComponent("config.json"))
        } else {
            try model.save(to: tmp, dtype: .f32)
        }
        for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "vocab.json", "merges.txt"] {
            let src = modelDirectory.appendingPathComponent(f)
            if fm.fileExists(atPath: src.path) { try fm.copyItem(at: src, to: tmp.appendingPathComponent(f)) }
        }
        let m = Tensor(shape: [optimizer.firstMoment.count], values: optimizer.firstMoment)
        let v = Tensor(shape: [optimizer.secondMoment.count], values: optimizer.secondMoment)
        try SafeTensorsWriter.write(
            [("exp_avg", m), ("exp_avg_sq", v)], to: tmp.appendingPathComponent("optimizer.safetensors"), dtype: .f32)
        if let critic {
            let cdir = tmp.appendingPathComponent("critic")
            try critic.body.save(to: cdir, dtype: .f32)
            try SafeTensorsWriter.write(
                critic.head.namedValues, to: cdir.appendingPathComponent("value_head.safetensors"), dtype: .f32)
            try SafeTensorsWriter.write(
                [
                    (
                        "body.exp_avg",
                        Tensor(shape: [critic.body.store.count], values: critic.bodyOptimizer.firstMoment)
                    ),
                    (
                        "body.exp_avg_sq",
                        Tensor(shape: [critic.body.store.count], values: critic.bodyOptimizer.secondMoment)
                    ),
                    ("head.exp_avg", Tensor(shape: [critic.head.count], values: critic.headOptimizer.firstMoment)),
                    ("head.exp_avg_sq", Tensor(shape: [critic.head.count], values: critic.headOptimizer.secondMoment)),
                ], to: cdir.appendingPathComponent("optimizer.safetensors"), dtype: .f32)
        }
        let st = State(
            step: step, sampler: sampler, adamStep: optimizer.step, lastTerms: lastTerms,
            recipeName: loaded.recipe.name,
            parameterCount: model.trainableStore.count, criticAdamStep: critic?.bodyOptimizer.step, history: history)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(st), to: tmp.appendingPathComponent("trainer.json"))
        if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
        try fm.moveItem(at: tmp, to: final)
    }

    /// The latest complete checkpoint folder of the run, if any.
    public func latestCheckpoint() -> URL? {
        let root = options.runDirectory.appendingPathComponent("checkpoints")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let steps = names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }
            .filter {
                FileManager.default.fileExists(atPath: root.appendingPathComponent("step-\($0)/trainer.json").path)
            }
        return steps.max().map { root.appendingPathComponent("step-\($0)") }
    }

    /// Restores weights, optimizer, data position and step from the latest checkpoint, and cuts metrics.jsonl back to it.
    func restoreLatest() throws {
        guard let ck = latestCheckpoint() else {
            throw TrainingError(
                "\(options.runDirectory.path): --resume, but the run has no checkpoint (checkpoints/step-N/trainer.json)"
            )
        }
        let st: State
        do {
            st = try JSONDecoder().decode(State.self, from: Data(contentsOf: ck.appendingPathComponent("trainer.json")))
        } catch {
            throw TrainingError("\(ck.path)/trainer.json: cannot be read: \(error.localizedDescription)")
        }
        let trained = model.trainableStore
        guard st.parameterCount == trained.count, TransformerModel.holdsAdapters(ck) == (model.adapters != nil) else {
            let what = model.adapters == nil ? "the recipe's model" : "the recipe's LoRA adapters"
            throw TrainingError(
                "\(ck.path): the checkpoint has \(st.parameterCount) trained parameters"
                    + (TransformerModel.holdsAdapters(ck) ? " (LoRA adapters)" : "") + ", \(what) \(trained.count)")
        }
        if let adapters = model.adapters {
            let (saved, _) = try LoRAAdapters.readConfig(directory: ck)
            guard saved == adapters.settings else {
                throw TrainingError(
                    "\(ck.path)/adapter_config.json: the checkpoint's adapters (rank \(saved.rank), alpha \(saved.alpha), "
                        + "targets \(saved.targets.map(\.rawValue))) do not match the recipe's lora table (rank "
                        + "\(adapters.settings.rank), alpha \(adapters.settings.alpha), targets "
                        + "\(adapters.settings.targets.map(\.rawValue)))")
            }
            try adapters.loadValues(from: ck)
        } else {
            let weights = try SafeTensorsCheckpoint(directory: ck)
            for (name, v) in zip(model.store.names, model.store.variables) {
                let t = try weights.tensor(name, shape: v.shape)
                v.value.data.update(from: t.data, count: t.count)
            }
            model.store.bumpVersion()
        }
        let opt = try SafeTensorsFile(url: ck.appendingPathComponent("optimizer.safetensors"))
        optimizer.restore(
            firstMoment: try opt.tensor("exp_avg").values, secondMoment: try opt.tensor("exp_avg_sq").values,
            step: st.adamStep)
        if let critic {
            let cdir = ck.appendingPathComponent("critic")
            let body = try SafeTensorsCheckpoint(directory: cdir)
            for (name, v) in zip(critic.body.store.names, critic.body.store.variables) {
                let t = try body.tensor(name, shape: v.shape)
                v.value.data.update(from: t.data, count: t.count)
            }
            critic.body.store.bumpVersion()
            let head = try SafeTensorsFile(url: cdir.appendingPathComponent("value_head.safetensors"))
            for (name, v) in zip(critic.head.names, critic.head.variables) {
                let t = try head.tensor(name)
                v.value.data.update(from: t.data, count: t.count)
            }
            let o = try SafeTensorsFile(url: cdir.appendingPathComponent("optimizer.safetensors"))
            let cstep = st.criticAdamStep ?? 0
            critic.bodyOptimizer.restore(
                firstMoment: try o.tensor("body.exp_avg").values, secondMoment: try o.tensor("body.exp_avg_sq").values,
                step: cstep)
            critic.headOptimizer.restore(
                firstMoment: try o.tensor("head.exp_avg").values, secondMoment: try o.tensor("head.exp_avg_sq").values,
                step: cstep)
        }
        sampler = st.sampler
        step = st.step
        lastTerms = st.lastTerms
        history = st.history ?? [:]
        // Metrics written after the checkpoint are dropped: the resumed run writes those steps again.
        let url = options.runDirectory.appendingPathComponent("metrics.jsonl")
        if let lines = try? JSONLines.read(url) {
            let kept = lines.filter { ($0.value["step"]?.doubleValue ?? 0) <= Double(step) }
            let text = kept.map { line -> String in
                guard case .object(let o) = line.value else { return "" }
                return Trainer.jsonLine(o.compactMapValues(\.doubleValue))
            }.joined(separator: "\n")
            try AtomicFile.write(Data((text.isEmpty ? "" : text + "\n").utf8), to: url)
        }
        options.log("resumed from \(ck.path) at step \(step)")
    }
}

/// A flag a signal handler or another thread sets to ask a run to stop after its current step.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// A flag that is not set.
    public init() {}
    /// Sets the flag.
    public func set() { lock.lock(); value = true; lock.unlock() }
    /// Whether the flag is set.
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// summary.json: what a run did, in a few numbers.
public struct RunSummary: Codable, Equatable, Sendable {
    /// One eval set's accuracy before training (step 0, when `eval.before_train` is set) and after (last evaluation).
    public struct Eval: Codable, Equatable, Sendable {
        public var before: Double?
        public var after: Double?
        /// The step of the "after" evaluation.
        public var afterStep: Int?
        enum CodingKeys: String, CodingKey {
            case before, after
            case afterStep = "after_step"
        }
    }
    /// The recipe's name.
    public var run: String
    /// Steps completed.
    public var steps: Int
    /// Seconds of training and evaluation, summed over metrics.jsonl (a resumed run counts each part once).
    public var seconds = 0.0
    /// Eval sets by name.
    public var eval: [String: Eval] = [:]
    /// The recipe's grader, which `eval` uses (nil in summaries written before it was recorded).
    public var grader: String?
    /// The same evaluations graded format-agnostically (grader `qwen-eval`: a boxed answer, else "the answer is N",
    /// else the last number), by set.
    public var evalLenient: [String: Eval]?
    /// The share of evaluation responses that use a self-reflection word (`reflection_rate` of `verity eval`), by set.
    public var reflectionRate: [String: Eval]?
    /// Mean reward of the first and last steps, and the last step's accuracy.
    public var trainRewardFirst: Double?, trainRewardLast: Double?, trainAccuracyLast: Double?

    enum CodingKeys: String, CodingKey {
        case run, steps, seconds, eval, grader
        case evalLenient = "eval_lenient"
        case reflectionRate = "reflection_rate"
        case trainRewardFirst = "train_reward_first"
        case trainRewardLast = "train_reward_last"
        case trainAccuracyLast = "train_accuracy_last"
    }

    /// A summary of `steps` steps of `run`.
    public init(run: String, steps: Int) {
        self.run = run
        self.steps = steps
    }

    /// The lines a run prints last.
    public var lines: [String] {
        var out = [String(format: "summary: %d steps in %.0f s", steps, seconds)]
        if let a = trainRewardFirst, let b = trainRewardLast {
            out[0] += String(format: "; training reward %.3f -> %.3f", a, b)
        }
        let f = { (v: Double?) in v.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        func line(_ label: String, _ e: Eval) -> String {
            var line = "\(label): before \(f(e.before)), after \(f(e.after))"
            if let a = e.before, let b = e.after { line += String(format: " (%+.1f points)", 100 * (b - a)) }
            return line
        }
        for name in eval.keys.sorted() {
            // The recipe's grader, then the format-agnostic one, then the reflection rate, set by set.
            out.append(line("eval \(name)" + (grader.map { " (grader \($0))" } ?? ""), eval[name]!))
            if let e = evalLenient?[name] { out.append(line("eval \(name) (format-agnostic, grader qwen-eval)", e)) }
            if let e = reflectionRate?[name] { out.append(line("reflection_rate \(name)", e)) }
        }
        return out
    }
}
