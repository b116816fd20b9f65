// Recipes: the typed `Recipe` the trainer consumes, written once. Each settings struct declares
// its fields with their defaults, its coding keys (the recipe's names, which are also the list of
// valid keys) and a `Decodable` init that reads each key and checks its range, so a recipe value
// is decoded by `LuaValueDecoder` (RecipeDecoder.swift) into Swift values in one pass: unknown
// keys, wrong types, missing required keys and out-of-range values are errors with file:line. The
// resolved table written into the run folder is the typed recipe encoded back. Also: `--set
// key.path=value` overrides, and the checked calls the trainer makes each step (learning rate,
// schedules, loss mix). Conventions: 0 means "off" for every optional count or limit (`top_k`,
// `eval.every`, `repeat_to`, `save_every`, `max_grad_norm`); counts are `Int`, real values `Double`.
// Not here: loading files and dry runs (RecipeLoader.swift).
import Foundation
import VerityVerify

// MARK: - Choices

/// Advantage estimators a recipe may name (`algorithm`).
public enum Algorithm: String, CaseIterable, Encodable, Sendable {
    /// Group mean and standard deviation (DeepSeekMath).
    case grpo
    /// Group mean only (Dr. GRPO).
    case drGRPO = "dr_grpo"
    /// Leave-one-out baseline.
    case rloo
    /// Discounted returns, whitened over the batch.
    case reinforcePlusPlus = "reinforce++"
    /// PPO with a critic and GAE.
    case ppo
    /// Supervised fine-tuning on given responses (`verity sft`; the `sft` table says which field).
    case sft
}

/// KL estimators a recipe may name (`kl.estimator`; verl's names, `low_var_kl` is k3 clamped to [-10, 10]).
/// KL estimators by verl's names (`kl_penalty`): d = logp − ref; k2 is another name for mse and k3 for low_var_kl, as in
/// verl. The per-token math is VerityTraining's (`KLEstimator.token(logp:ref:)`).
/// How frozen weights are held: float32 (exact), or bfloat16 (half the memory, widened to float32 per product).
public enum WeightDType: String, CaseIterable, Codable, Sendable {
    /// float32.
    case f32
    /// bfloat16 (round to nearest even, once, at load).
    case bf16
}

public enum KLEstimator: String, CaseIterable, Encodable, Sendable {
    /// d (the log ratio).
    case k1
    /// |d|.
    case abs
    /// ½·d².
    case mse
    /// ½·d² (verl's alias of mse).
    case k2
    /// e^(−d) + d − 1 clamped to [−10, 10] (verl's alias of low_var_kl).
    case k3
    /// e^(−d) + d − 1 clamped to [−10, 10] (low variance, always ≥ 0).
    case lowVarKL = "low_var_kl"
}

/// Advantage estimator names a recipe may use.
public let knownAlgorithms = Algorithm.allCases.map(\.rawValue)
/// KL estimator names a recipe may use.
public let knownKLEstimators = KLEstimator.allCases.map(\.rawValue)
/// Grader profile names a recipe may use (`grader`; VerityVerify's profiles).
public let knownGraders = GradingProfile.allCases.map(\.rawValue)

// MARK: - Limits

/// Upper bounds that keep sizes far from overflow and allocation failure; each is far above any
/// real run (the paper: n = 8, 3,072 tokens, 128 prompts, 2,000 steps).
enum RecipeLimits {
    static let samplesPerPrompt = 4096
    static let tokens = 1 << 20
    static let batch = 1 << 16
    static let steps = 1_000_000_000
    static let epochs = 1000
}

// MARK: - Typed recipe

/// A validated recipe: typed settings and checked plugin handles (see DESIGN.md, "The Lua contract").
public struct Recipe {
    /// Training data settings (`train`).
    public struct Train: Equatable, Codable {
        /// JSONL file of examples, as written in the recipe (required).
        public var data: String
        /// Repeat the examples to this many rows per epoch (0 = off: no repetition).
        public var repeatTo = 0
        /// Prompts per step.
        public var batchSize = 128
        /// Shuffle with the run's seed.
        public var shuffle = true
        /// Fields every data line must carry, each non-null and not a blank string.
        public var requiredFields = ["answer"]

        /// Settings for `data` with every default.
        public init(data: String) { self.data = data }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case data, repeatTo = "repeat_to", batchSize = "batch_size", shuffle, requiredFields = "required_fields"
        }

        /// Reads and checks the `train` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            data = try c.decode(String.self, forKey: .data)
            try c.check(data, .data, "a non-empty path") { !$0.isEmpty }
            repeatTo = try c.value(.repeatTo, or: repeatTo, "an integer from 0 (off) to \(RecipeLimits.batch * 1024)") {
                (0...(RecipeLimits.batch * 1024)).contains($0)
            }
            batchSize = try c.value(.batchSize, or: batchSize, "an integer from 1 to \(RecipeLimits.batch)") {
                (1...RecipeLimits.batch).contains($0)
            }
            shuffle = try c.value(.shuffle, or: shuffle)
            requiredFields = try c.value(.requiredFields, or: requiredFields, "a list of non-empty field names") {
                $0.allSatisfy { !$0.isEmpty }
            }
        }
    }

    /// Evaluation settings (`eval`).
    public struct Eval: Codable {
        /// Evaluate every this many steps (0 = off: never during training).
        public var every = 0
        /// Evaluate once before the first step.
        public var beforeTrain = false
        /// JSONL files of evaluation sets.
        public var sets: [String] = []
        /// Prompt plugin for evaluation (nil: the training prompt).
        public var prompt: PromptPlugin?
        /// Sampling temperature (0 = greedy).
        public var temperature = 0.0
        /// Samples per problem.
        public var samples = 1
        /// Maximum new tokens.
        public var maxTokens = 3072
        /// Fields every line of every set must carry, each non-null and not a blank string.
        public var requiredFields = ["answer"]

        /// Settings with every default (no evaluation).
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case every, beforeTrain = "before_train", sets, prompt, temperature, samples, maxTokens = "max_tokens"
            case requiredFields = "required_fields"
        }

        /// Reads and checks the `eval` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            every = try c.value(.every, or: every, "an integer from 0 (off) to \(RecipeLimits.steps)") {
                (0...RecipeLimits.steps).contains($0)
            }
            beforeTrain = try c.value(.beforeTrain, or: beforeTrain)
            sets = try c.value(.sets, or: sets, "a list of non-empty paths") { $0.allSatisfy { !$0.isEmpty } }
            if every > 0 || beforeTrain {
                try c.check(sets, .sets, "at least one set, since eval.every or eval.before_train asks for evaluation")
                { !$0.isEmpty }
            }
            prompt = try c.decodeIfPresent(PromptPlugin.self, forKey: .prompt)
            temperature = try c.value(.temperature, or: temperature, "a number ≥ 0 (0 = greedy)") { $0 >= 0 }
            samples = try c.value(.samples, or: samples, "an integer from 1 to \(RecipeLimits.samplesPerPrompt)") {
                (1...RecipeLimits.samplesPerPrompt).contains($0)
            }
            maxTokens = try c.value(.maxTokens, or: maxTokens, "an integer from 1 to \(RecipeLimits.tokens)") {
                (1...RecipeLimits.tokens).contains($0)
            }
            requiredFields = try c.value(.requiredFields, or: requiredFields, "a list of non-empty field names") {
                $0.allSatisfy { !$0.isEmpty }
            }
        }
    }

    /// Advantage settings (`advantage`).
    public struct Advantage: Equatable, Codable {
        /// Added to the group standard deviation.
        public var epsilon = 1e-6
        /// Divide by the group standard deviation (GRPO) or not (Dr.GRPO).
        public var normalizeStd = true
        /// What a group is: "row" (each batch row's n samples, as the paper's code: 128 copies of pi1 = 128 groups of n) or
        /// "example" (every sample of the same training example in the batch).
        public var groupBy = "row"

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case epsilon, normalizeStd = "normalize_std", groupBy = "group_by"
        }

        /// Reads and checks the `advantage` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            epsilon = try c.value(.epsilon, or: epsilon, "a number ≥ 0") { $0 >= 0 }
            normalizeStd = try c.value(.normalizeStd, or: normalizeStd)
            groupBy = try c.value(.groupBy, or: groupBy, "\"row\" or \"example\"") { ["row", "example"].contains($0) }
        }
    }

    /// Rollout (sampling) settings (`rollout`); the sampler's conventions (`top_k` 0 = off).
    public struct Rollout: Equatable, Codable {
        /// Samples per prompt.
        public var n = 8
        /// Sampling temperature (0 = greedy).
        public var temperature = 1.0
        /// Nucleus probability, in (0, 1] (1 = off).
        public var topP = 1.0
        /// Top-k (0 = off).
        public var topK = 0
        /// Maximum response tokens.
        public var maxTokens = 3072
        /// Maximum prompt tokens.
        public var maxPromptTokens = 1024
        /// A prompt longer than `max_prompt_tokens`: "skip" it (counted in `skipped_prompts`) or "stop" the run.
        public var longPrompt = "skip"
        /// A reward script error on one sample: "stop" the run (with the sample named) or score it "zero" (logged, counted).
        public var rewardError = "stop"

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case n, temperature, topP = "top_p", topK = "top_k", maxTokens = "max_tokens", maxPromptTokens =
                "max_prompt_tokens"
            case longPrompt = "long_prompt", rewardError = "reward_error"
        }

        /// Reads and checks the `rollout` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            n = try c.value(.n, or: n, "an integer from 1 to \(RecipeLimits.samplesPerPrompt)") {
                (1...RecipeLimits.samplesPerPrompt).contains($0)
            }
            temperature = try c.value(.temperature, or: temperature, "a number ≥ 0 (0 = greedy)") { $0 >= 0 }
            topP = try c.value(.topP, or: topP, "a number in (0, 1] (1 = off)") { $0 > 0 && $0 <= 1 }
            topK = try c.value(.topK, or: topK)
            try c.check(
                topK, .topK, "an integer ≥ 0 (0 = off)",
                hint: topK == -1 ? "Verity writes \"off\" as 0 (verl and vLLM write -1)" : nil
            ) { $0 >= 0 }
            maxTokens = try c.value(.maxTokens, or: maxTokens, "an integer from 1 to \(RecipeLimits.tokens)") {
                (1...RecipeLimits.tokens).contains($0)
            }
            maxPromptTokens = try c.value(
                .maxPromptTokens, or: maxPromptTokens, "an integer from 1 to \(RecipeLimits.tokens)"
            ) {
                (1...RecipeLimits.tokens).contains($0)
            }
            longPrompt = try c.value(.longPrompt, or: longPrompt, "\"skip\" or \"stop\"") {
                ["skip", "stop"].contains($0)
            }
            rewardError = try c.value(.rewardError, or: rewardError, "\"stop\" or \"zero\"") {
                ["stop", "zero"].contains($0)
            }
        }
    }

    /// AdamW settings (`optimizer`).
    public struct Optimizer: Equatable, Codable {
        /// Learning rate (when no `schedules.lr` is given).
        public var lr = 1e-6
        /// Adam betas.
        public var betas = (0.9, 0.999)
        /// Adam epsilon.
        public var eps = 1e-8
        /// Decoupled weight decay.
        public var weightDecay = 0.01
        /// Global gradient-norm clip (0 = off).
        public var maxGradNorm = 1.0

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case lr, betas, eps, weightDecay = "weight_decay", maxGradNorm = "max_grad_norm"
        }

        /// Reads and checks the `optimizer` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lr = try c.value(.lr, or: lr, "a number ≥ 0") { $0 >= 0 }
            let pair = try c.value(.betas, or: [betas.0, betas.1])
            guard pair.count == 2 else {
                throw RecipeIssue(
                    c.codingPath + [CodingKeys.betas],
                    .wrongType(expected: "a list of 2 numbers", got: "a list of \(pair.count)"))
            }
            try c.check(pair, .betas, "two numbers in [0, 1)") { $0.allSatisfy { $0 >= 0 && $0 < 1 } }
            betas = (pair[0], pair[1])
            eps = try c.value(.eps, or: eps, "a number > 0") { $0 > 0 }
            weightDecay = try c.value(.weightDecay, or: weightDecay, "a number ≥ 0") { $0 >= 0 }
            maxGradNorm = try c.value(.maxGradNorm, or: maxGradNorm, "a number ≥ 0 (0 = off)") { $0 >= 0 }
        }

        /// Writes the settings (betas as a list of two numbers).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(lr, forKey: .lr)
            try c.encode([betas.0, betas.1], forKey: .betas)
            try c.encode(eps, forKey: .eps)
            try c.encode(weightDecay, forKey: .weightDecay)
            try c.encode(maxGradNorm, forKey: .maxGradNorm)
        }

        /// Equal when every setting is equal.
        public static func == (a: Optimizer, b: Optimizer) -> Bool {
            a.lr == b.lr && a.betas == b.betas && a.eps == b.eps && a.weightDecay == b.weightDecay
                && a.maxGradNorm == b.maxGradNorm
        }
    }

    /// Policy-update settings (`update`).
    public struct Update: Equatable, Codable {
        /// PPO clip ratio, > 0.
        public var clipRatio = 0.2
        /// PPO epochs per batch.
        public var epochs = 1
        /// Prompts per optimizer step; must divide `train.batch_size` (absent: the whole batch).
        public var miniBatchSize = 128
        /// Upper clip ratio (DAPO's clip-higher; 0 = the same as `clip_ratio`).
        public var clipRatioHigh = 0.0
        /// Dual-clip constant c > 1 (0 = off).
        public var dualClip = 0.0
        /// How per-token losses aggregate: token-mean, seq-mean-token-sum, seq-mean-token-mean, seq-mean-token-sum-norm.
        public var lossAggregation = "token-mean"
        /// Sequences per forward pass (bounds activation memory; gradients accumulate across them).
        public var microBatchSize = 8
        /// Packed micro-batches (verl's dynamic batch size, with padding removed): when > 0, the update, the reference
        /// pass and the critic put a mini-batch's sequences one after another in rows of at most this many tokens (a
        /// longer sequence gets a row of its own), each attending only to itself, instead of `micro_batch_size`
        /// left-padded rows. 0 = off.
        public var maxTokensPerMicroBatch = 0
        /// With packed micro-batches: sequences of one micro-batch that share a prompt (a group's n samples; every row
        /// in the 1-shot batch) put the prompt in the row once and continue it, so its forward and backward run once
        /// and its gradients sum over the sequences. On by default; it applies only where two or more share.
        public var sharePrompt = true
        /// Activation recompute per layer: the backward recomputes each decoder layer's forward instead of keeping its
        /// activations (the policy and the critic). Same gradients within float32 rounding; one more forward of compute.
        public var recompute = false

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case clipRatio = "clip_ratio", epochs, miniBatchSize = "mini_batch_size", clipRatioHigh = "clip_ratio_high"
            case dualClip = "dual_clip", lossAggregation = "loss_agg_mode", microBatchSize = "micro_batch_size"
            case maxTokensPerMicroBatch = "max_tokens_per_micro_batch", sharePrompt = "share_prompt", recompute
        }

        /// Reads and checks the `update` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            clipRatio = try c.value(.clipRatio, or: clipRatio, "a number > 0") { $0 > 0 }
            epochs = try c.value(.epochs, or: epochs, "an integer from 1 to \(RecipeLimits.epochs)") {
                (1...RecipeLimits.epochs).contains($0)
            }
            miniBatchSize = try c.value(.miniBatchSize, or: miniBatchSize, "an integer from 1 to \(RecipeLimits.batch)")
            {
                (1...RecipeLimits.batch).contains($0)
            }
            clipRatioHigh = try c.value(.clipRatioHigh, or: clipRatioHigh, "a number ≥ 0 (0 = clip_ratio)") { $0 >= 0 }
            dualClip = try c.value(.dualClip, or: dualClip, "0 (off) or a number > 1") { $0 == 0 || $0 > 1 }
            lossAggregation = try c.value(
                .lossAggregation, or: lossAggregation,
                "one of token-mean, seq-mean-token-sum, seq-mean-token-mean, seq-mean-token-sum-norm"
            ) {
                ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"].contains($0)
            }
            microBatchSize = try c.value(
                .microBatchSize, or: microBatchSize, "an integer from 1 to \(RecipeLimits.batch)"
            ) {
                (1...RecipeLimits.batch).contains($0)
            }
            maxTokensPerMicroBatch = try c.value(
                .maxTokensPerMicroBatch, or: maxTokensPerMicroBatch,
                "0 (off) or a token count from 1 to \(RecipeLimits.tokens)"
            ) {
                (0...RecipeLimits.tokens).contains($0)
            }
            sharePrompt = try c.value(.sharePrompt, or: sharePrompt, "a boolean") { _ in true }
            recompute = try c.value(.recompute, or: recompute)
        }
    }

    /// The PPO critic (`critic`; used when `algorithm = "ppo"`).
    public struct Critic: Equatable, Codable {
        /// A Hugging Face folder to initialise the critic's transformer from ("" = the policy's model).
        public var model = ""
        /// The critic's learning rate (its own AdamW; the optimizer table's other settings).
        public var lr = 1e-5
        /// GAE discount γ and λ.
        public var gamma = 1.0, lambda = 1.0
        /// Value clip range around the rollout values.
        public var valueClip = 0.5

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, lr, gamma, lambda, valueClip = "value_clip"
        }

        /// Reads and checks the `critic` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.value(.model, or: model)
            lr = try c.value(.lr, or: lr, "a finite number ≥ 0") { $0 >= 0 && $0.isFinite }
            gamma = try c.value(.gamma, or: gamma, "a number in [0, 1]") { (0...1).contains($0) }
            lambda = try c.value(.lambda, or: lambda, "a number in [0, 1]") { (0...1).contains($0) }
            valueClip = try c.value(.valueClip, or: valueClip, "a number > 0") { $0 > 0 }
        }
    }

    /// Supervised fine-tuning (`sft`; used when `algorithm = "sft"`): the next-token loss on each example's response
    /// (the field `response_field`, then the end-of-text token), the prompt masked.
    public struct SFT: Equatable, Codable {
        /// The example field holding the response.
        public var responseField = "solution"
        /// Longest prompt + response in tokens; longer examples follow `rollout.long_prompt` (skip or stop).
        public var maxTokens = 1024
        /// Append the tokenizer's end-of-text token to each response (so the model learns to stop).
        public var appendEOS = true
        /// Tokens per packed row (several examples share a row, each attending only to itself); 0 = one example a row.
        public var packTokens = 0

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case responseField = "response_field", maxTokens = "max_tokens", appendEOS = "append_eos"
            case packTokens = "pack_tokens"
        }

        /// Reads and checks the `sft` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            responseField = try c.value(.responseField, or: responseField, "a non-empty field name") { !$0.isEmpty }
            maxTokens = try c.value(.maxTokens, or: maxTokens, "an integer from 2 to 1048576") {
                (2...1_048_576).contains($0)
            }
            appendEOS = try c.value(.appendEOS, or: appendEOS)
            packTokens = try c.value(.packTokens, or: packTokens, "0 (off) or an integer from 2 to 1048576") {
                $0 == 0 || (2...1_048_576).contains($0)
            }
        }
    }

    /// Low-rank adapters (`lora`; absent: full fine-tuning). Only the adapters train; the base is frozen and, with the
    /// adapters switched off, it is the reference policy.
    public struct LoRA: Equatable, Codable {
        /// The projections a recipe may name in `targets` (short names; PEFT's `q_proj`... are accepted too).
        public static let knownTargets = ["q", "k", "v", "o", "gate", "up", "down"]
        /// The adapters' rank r (at most a targeted matrix's smaller side, checked against the model).
        public var rank = 16
        /// α: the adapters' update is scaled by α/r.
        public var alpha = 32.0
        /// Dropout on the adapters' input: 0 only (the sampler's log-probs must equal the trainer's).
        public var dropout = 0.0
        /// The adapted projections, in every layer.
        public var targets = knownTargets

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case rank, alpha, dropout, targets
        }

        /// Reads and checks the `lora` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rank = try c.value(.rank, or: rank, "an integer ≥ 1") { $0 >= 1 && $0 <= RecipeLimits.tokens }
            alpha = try c.value(.alpha, or: alpha, "a finite number > 0") { $0 > 0 && $0.isFinite }
            dropout = try c.value(
                .dropout, or: dropout, "0 (the sampler does not drop, and its log-probs must equal the trainer's)"
            ) { $0 == 0 }
            targets = try c.value(.targets, or: targets)
            try c.check(targets, .targets, "a non-empty list of projections") { !$0.isEmpty }
            let modules = LoRA.knownTargets.map { $0 + "_proj" }
            for t in targets where !LoRA.knownTargets.contains(t) && !modules.contains(t) {
                try c.check(
                    t, .targets, "projections among " + LoRA.knownTargets.map(luaQuote).joined(separator: ", "),
                    hint: nearestName(t, among: LoRA.knownTargets).map { "did you mean \(luaQuote($0))?" }
                ) { _ in false }
            }
        }
    }

    /// KL settings (`kl`).
    public struct KL: Equatable, Codable {
        /// The estimator.
        public var estimator = KLEstimator.lowVarKL

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case estimator
        }

        /// Reads and checks the `kl` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            estimator = try c.choice(.estimator, or: estimator)
        }
    }

    /// The reference policy of the KL term (`reference`).
    public struct Reference: Equatable, Codable {
        /// How its weights are held. bf16 halves its memory; under LoRA the reference is the frozen base itself, so the
        /// base's layer matrices are held in bfloat16 and the policy computes over them too.
        public var dtype = WeightDType.f32

        /// Settings with every default.
        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dtype
        }

        /// Reads and checks the `reference` table.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dtype = try c.choice(.dtype, or: dtype)
        }
    }

    /// The recipe file as shown in messages.
    public var file = ""
    /// Run name (absent: the recipe file's name).
    public var name = ""
    /// What the run is, for people.
    public var description = ""
    /// Model folder (Hugging Face layout; required).
    public var model: String
    /// Tokenizer folder (absent: the model's).
    public var tokenizer: String
    /// Training data (required).
    public var train: Train
    /// Evaluation.
    public var eval = Eval()
    /// Prompt plugin (required).
    public var prompt: PromptPlugin
    /// Chat format plugin for prompts that return messages.
    public var chatFormat: ChatFormatPlugin?
    /// Reward plugin (required).
    public var reward: RewardPlugin
    /// Default grader profile for `verity.math.*` (one of `knownGraders`).
    public var grader = "paper"
    /// Advantage estimator.
    public var algorithm = Algorithm.grpo
    /// Advantage settings.
    public var advantage = Advantage()
    /// Rollout settings.
    public var rollout = Rollout()
    /// Optimizer settings.
    public var optimizer = Optimizer()
    /// Update settings.
    public var update = Update()
    /// KL settings.
    public var kl = KL()
    /// The reference policy's settings.
    public var reference = Reference()
    /// The PPO critic.
    public var critic = Critic()
    /// Supervised fine-tuning settings.
    public var sft = SFT()
    /// Low-rank adapters (nil: full fine-tuning).
    public var lora: LoRA?
    /// Loss-mix plugin (required).
    public var loss: LossMixPlugin
    /// Schedules by name (`lr`, `temperature`, any coefficient); `lr` and `temperature` are checked ≥ 0 at every call.
    public var schedules: [String: SchedulePlugin] = [:]
    /// Training steps (required).
    public var steps: Int
    /// Run seed.
    public var seed = 0
    /// Checkpoint every this many steps (0 = off: at the end only).
    public var saveEvery = 0
    /// The whole table after overrides and defaults (written to the run folder).
    public var resolved = LuaTable()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, model, tokenizer, train, eval, prompt, chatFormat = "chat_format", reward, grader,
            algorithm
        case advantage, rollout, optimizer, update, kl, reference, critic, sft, lora, loss, schedules, steps, seed
        case saveEvery = "save_every"
    }
}

extension Recipe: Codable {
    /// Reads and checks a whole recipe table (relations between tables included).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let given = try c.decodeIfPresent(String.self, forKey: .name) {
            try c.check(given, .name, "a non-empty name") { !$0.isEmpty }
            name = given
        }
        description = try c.value(.description, or: description)
        model = try c.decode(String.self, forKey: .model)
        try c.check(model, .model, "a non-empty path") { !$0.isEmpty }
        tokenizer = try c.value(.tokenizer, or: model, "a non-empty path") { !$0.isEmpty }
        train = try c.decode(Train.self, forKey: .train)
        eval = try c.value(.eval, or: eval)
        prompt = try c.decode(PromptPlugin.self, forKey: .prompt)
        chatFormat = try c.decodeIfPresent(ChatFormatPlugin.self, forKey: .chatFormat)
        reward = try c.decode(RewardPlugin.self, forKey: .reward)
        grader = try c.value(.grader, or: grader)
        try c.check(
            grader, .grader, "one of " + knownGraders.map(luaQuote).joined(separator: ", "),
            hint: nearestName(grader, among: knownGraders).map { "did you mean \(luaQuote($0))?" }
        ) { knownGraders.contains($0) }
        algorithm = try c.choice(.algorithm, or: algorithm)
        advantage = try c.value(.advantage, or: advantage)
        rollout = try c.value(.rollout, or: rollout)
        optimizer = try c.value(.optimizer, or: optimizer)
        update = try c.value(.update, or: update)
        let updateKeys = try? c.nestedContainer(keyedBy: Update.CodingKeys.self, forKey: .update)
        if updateKeys?.contains(.miniBatchSize) ?? false {
            let (mini, batch) = (update.miniBatchSize, train.batchSize)
            guard batch % mini == 0 else {
                throw RecipeIssue(
                    [CodingKeys.update, Update.CodingKeys.miniBatchSize],
                    .invalid(
                        expected: "a divisor of train.batch_size (\(batch))", got: "\(mini)", hint: nil))
            }
        } else {
            update.miniBatchSize = train.batchSize
        }
        kl = try c.value(.kl, or: kl)
        reference = try c.value(.reference, or: reference)
        critic = try c.value(.critic, or: critic)
        sft = try c.value(.sft, or: sft)
        lora = try c.decodeIfPresent(LoRA.self, forKey: .lora)
        if algorithm == .sft, sft.packTokens > 0, sft.packTokens < sft.maxTokens {
            throw RecipeIssue(
                [CodingKeys.sft, SFT.CodingKeys.packTokens],
                .invalid(
                    expected: "0 or at least sft.max_tokens (\(sft.maxTokens))", got: "\(sft.packTokens)", hint: nil))
        }
        loss = try c.decode(LossMixPlugin.self, forKey: .loss)
        schedules = try c.value(.schedules, or: schedules)
        steps = try c.decode(Int.self, forKey: .steps)
        try c.check(steps, .steps, "an integer from 1 to \(RecipeLimits.steps)") {
            (1...RecipeLimits.steps).contains($0)
        }
        seed = try c.value(.seed, or: seed)
        saveEvery = try c.value(.saveEvery, or: saveEvery, "an integer ≥ 0 (0 = off)") { $0 >= 0 }
    }
}

// MARK: - Decoding helpers

extension KeyedDecodingContainer {
    /// The setting at `key`, or `fallback` (the struct's default) when the recipe leaves it out.
    func value<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }

    /// `value(key, or:)`, checked by `ok` (a value out of range is an error saying `expected`).
    func value<T: Decodable>(_ key: Key, or fallback: T, _ expected: String, _ ok: (T) -> Bool) throws -> T {
        let v = try value(key, or: fallback)
        try check(v, key, expected, ok)
        return v
    }

    /// Throws an out-of-range issue at `key` unless `ok(v)`.
    func check<T>(_ v: T, _ key: Key, _ expected: String, hint: String? = nil, _ ok: (T) -> Bool) throws {
        guard ok(v) else {
            throw RecipeIssue(codingPath + [key], .invalid(expected: expected, got: shown(v), hint: hint))
        }
    }

    /// One of a fixed set of names, as its Swift enum.
    func choice<C: CaseIterable & RawRepresentable>(_ key: Key, or fallback: C) throws -> C where C.RawValue == String {
        let s = try value(key, or: fallback.rawValue)
        let names = C.allCases.map(\.rawValue)
        guard let v = C(rawValue: s) else {
            throw RecipeIssue(
                codingPath + [key],
                .invalid(
                    expected: "one of " + names.map(luaQuote).joined(separator: ", "),
                    got: luaQuote(s), hint: nearestName(s, among: names).map { "did you mean \(luaQuote($0))?" }))
        }
        return v
    }
}

/// A setting's value as a recipe would write it, for messages.
private func shown<T>(_ v: T) -> String {
    switch v {
    case let s as String: return luaQuote(s)
    case let list as [String]: return "{ " + list.map(luaQuote).joined(separator: ", ") + " }"
    case let list as [Double]: return "{ " + list.map { "\($0)" }.joined(separator: ", ") + " }"
    default: return "\(v)"
    }
}

/// "a string (\"16\")", "the number 3", "a table", ... for messages.
func describe(_ v: LuaValue) -> String {
    switch v {
    case .nil: return "nil"
    case .boolean(let b): return "a boolean (\(b))"
    case .integer(let i): return "the number \(i)"
    case .number(let d): return d.isNaN ? "NaN" : "the number \(d)"
    case .string(let s): return "a string (\(luaQuote(s.count > 40 ? String(s.prefix(40)) + "..." : s)))"
    case .table: return "a table"
    case .function(let f): return "a function (\(f.location))"
    case .other(let t): return "a \(t)"
    }
}

// MARK: - Plugins as settings

/// The function handle a plugin setting holds, or an issue naming what the recipe gave instead.
private func pluginFunction(_ decoder: Decoder) throws -> LuaFunction {
    guard let lua = decoder as? LuaValueDecoder else {
        throw DecodingError.typeMismatch(
            LuaFunction.self,
            DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "a Lua plugin decodes only from a recipe table"))
    }
    guard case .function(let f) = lua.value else {
        throw RecipeIssue(decoder.codingPath, .wrongType(expected: "a function", got: describe(lua.value)))
    }
    return f
}

/// Writes a plugin into the resolved recipe (as its function; other encoders get its location).
private func encodePlugin(_ function: LuaFunction, to encoder: Encoder) throws {
    if let lua = encoder as? LuaValueEncoder {
        lua.node.content = .value(.function(function))
    } else {
        var c = encoder.singleValueContainer()
        try c.encode("<function \(function.location)>")
    }
}

extension PromptPlugin: Codable, RecipeDescribed {
    static var recipeExpected: String { "a function" }
    /// Reads a prompt plugin (its contract name is its key path: `prompt`, `eval.prompt`).
    public init(from decoder: Decoder) throws {
        self.init(try pluginFunction(decoder), kind: RecipeIssue.display(decoder.codingPath))
    }
    /// Writes the function handle.
    public func encode(to encoder: Encoder) throws { try encodePlugin(function, to: encoder) }
}

extension ChatFormatPlugin: Codable, RecipeDescribed {
    static var recipeExpected: String { "a function" }
    /// Reads a chat format plugin.
    public init(from decoder: Decoder) throws { self.init(try pluginFunction(decoder)) }
    /// Writes the function handle.
    public func encode(to encoder: Encoder) throws { try encodePlugin(function, to: encoder) }
}

extension RewardPlugin: Codable, RecipeDescribed {
    static var recipeExpected: String { "a function" }
    /// Reads a reward plugin.
    public init(from decoder: Decoder) throws { self.init(try pluginFunction(decoder)) }
    /// Writes the function handle.
    public func encode(to encoder: Encoder) throws { try encodePlugin(function, to: encoder) }
}

extension LossMixPlugin: Codable, RecipeDescribed {
    static var recipeExpected: String { "a function" }
    /// Reads a loss-mix plugin.
    public init(from decoder: Decoder) throws { self.init(try pluginFunction(decoder)) }
    /// Writes the function handle.
    public func encode(to encoder: Encoder) throws { try encodePlugin(function, to: encoder) }
}

extension SchedulePlugin: Codable, RecipeDescribed {
    static var recipeExpected: String { "a function" }
    /// Reads a schedule; `lr` and `temperature` schedules are checked ≥ 0 at every call.
    public init(from decoder: Decoder) throws {
        let name = decoder.codingPath.last?.stringValue ?? ""
        self.init(
            try pluginFunction(decoder), kind: RecipeIssue.display(decoder.codingPath),
            minimum: ["lr", "temperature"].contains(name) ? 0 : nil)
    }
    /// Writes the function handle.
    public func encode(to encoder: Encoder) throws { try encodePlugin(function, to: encoder) }
}

extension Dictionary: RecipeDescribed where Key == String, Value == SchedulePlugin {
    static var recipeExpected: String { "a table of name = function(step, total)" }
}

// MARK: - Overrides

/// Applies `--set key.path=value` overrides to a recipe table and returns the table with the
/// text of each override by path; the decoder reads that text as the setting's type asks
/// (strings as written, lists comma-separated), so `--set name=123` stays a string.
func applyOverrides(_ overrides: [String], to table: LuaTable, file: String) throws -> (LuaTable, [String: String]) {
    var table = table
    var raw: [String: String] = [:]
    for o in overrides {
        guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
            throw LuaError.recipe(file: file, line: nil, message: "--set expects key.path=value, got \(luaQuote(o))")
        }
        let path = String(o[..<eq]).trimmingCharacters(in: .whitespaces)
        let text = String(o[o.index(after: eq)...])
        let keys = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard keys.allSatisfy({ !$0.isEmpty }) else {
            throw LuaError.recipe(file: file, line: nil, message: "--set key \(luaQuote(path)) has an empty part")
        }
        table = setPath(table, keys[...], overrideLiteral(text))
        raw[keys.joined(separator: ".")] = text
    }
    return (table, raw)
}

private func setPath(_ table: LuaTable, _ keys: ArraySlice<String>, _ value: LuaValue) -> LuaTable {
    var t = table
    guard let head = keys.first else { return t }
    if keys.count == 1 {
        t.fields[head] = value
    } else {
        var inner = LuaTable()
        if case .table(let existing) = t.fields[head] { inner = existing }
        t.fields[head] = .table(setPath(inner, keys.dropFirst(), value))
    }
    return t
}

// MARK: - Building the typed recipe

extension Recipe {
    /// Decodes a recipe table (after overrides) into the typed recipe; `source` (the recipe's
    /// text) locates the line of a bad key, `overrides` maps each `--set` path to its text.
    static func decode(
        from table: LuaTable, file: String, source: String, overrides: [String: String],
        defaultName: String
    ) throws -> Recipe {
        let context = RecipeDecodingContext(overrides: overrides, keyPaths: keyPaths)
        do {
            var recipe = try Recipe(from: LuaValueDecoder(.table(table), codingPath: [], context: context))
            recipe.file = file
            if recipe.name.isEmpty { recipe.name = defaultName }
            if case .table(let t) = try LuaValueEncoder.encode(recipe) { recipe.resolved = t }
            return recipe
        } catch let issue as RecipeIssue {
            throw issue.error(file: file, lines: RecipeKeyLines(source: source), overrides: overrides)
        } catch let error as DecodingError {
            let (path, detail): ([CodingKey], String)
            switch error {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
                (path, detail) = (c.codingPath, c.debugDescription)
            @unknown default:
                (path, detail) = ([], "\(error)")
            }
            let issue = RecipeIssue(path, .invalid(expected: "a valid value", got: detail, hint: nil))
            throw issue.error(file: file, lines: RecipeKeyLines(source: source), overrides: overrides)
        }
    }
}

extension Recipe {
    /// Every dotted key of the schema, from the settings' coding keys (for "did you mean" across tables).
    static var keyPaths: [String] {
        let tables: [(CodingKeys, [String])] = [
            (.train, Train.CodingKeys.allCases.map(\.rawValue)), (.eval, Eval.CodingKeys.allCases.map(\.rawValue)),
            (.advantage, Advantage.CodingKeys.allCases.map(\.rawValue)),
            (.rollout, Rollout.CodingKeys.allCases.map(\.rawValue)),
            (.optimizer, Optimizer.CodingKeys.allCases.map(\.rawValue)),
            (.update, Update.CodingKeys.allCases.map(\.rawValue)),
            (.kl, KL.CodingKeys.allCases.map(\.rawValue)),
            (.reference, Reference.CodingKeys.allCases.map(\.rawValue)), (.critic, Critic.CodingKeys.allCases.map(\.rawValue)),
            (.sft, SFT.CodingKeys.allCases.map(\.rawValue)), (.lora, LoRA.CodingKeys.allCases.map(\.rawValue)),
        ]
        return CodingKeys.allCases.map(\.rawValue)
            + tables.flatMap { table, keys in keys.map { "\(table.rawValue).\($0)" } }
    }
}

// MARK: - Checked calls (what the trainer calls each step)

extension Recipe {
    /// The learning rate at `step`: `schedules.lr` when the recipe has one (its result checked
    /// finite and ≥ 0 at every call), else `optimizer.lr`.
    public func learningRate(step: Int, in state: LuaState) throws -> Double {
        guard let s = schedules["lr"] else { return optimizer.lr }
        return try s(step: step, total: steps, in: state)
    }

    /// The value of schedule `name` at `step` (checked at every call), or nil when the recipe has none.
    public func schedule(_ name: String, step: Int, in state: LuaState) throws -> Double? {
        try schedules[name].map { try $0(step: step, total: steps, in: state) }
    }

    /// The loss mix at `step` given last step's measured terms: a non-empty table of known terms
    /// with finite coefficients (checked at every call).
    public func lossMix(step: Int, terms: [String: Double], in state: LuaState) throws -> [String: Double] {
        try loss(step: step, terms: terms, in: state)
    }
}
