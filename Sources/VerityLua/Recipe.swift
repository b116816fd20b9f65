// Recipes: the schema of the table a recipe file returns, strict validation against it (unknown
// keys with the nearest valid name, wrong types with expected and got, missing keys), default
// filling, `--set key.path=value` overrides applied before validation, and the typed `Recipe`
// value the trainer consumes (settings as Swift fields, plugins as checked Lua function handles).
// Not here: loading files and dry runs (RecipeLoader.swift).
import Foundation

// MARK: - Schema

/// The type of one recipe key.
indirect enum FieldKind {
    case string, integer, number, boolean, function
    case strings
    case numbers(count: Int)
    case choice([String])
    case group([Field])
    case functionMap

    var expected: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .number: return "a number"
        case .boolean: return "a boolean"
        case .function: return "a function"
        case .strings: return "a list of strings"
        case .numbers(let n): return "a list of \(n) numbers"
        case .choice(let c): return "one of " + c.map { "\"\($0)\"" }.joined(separator: ", ")
        case .group: return "a table"
        case .functionMap: return "a table of name = function(step, total)"
        }
    }
}

/// One key of the recipe schema.
struct Field {
    var name: String
    var kind: FieldKind
    /// Filled in when the key is absent; nil with `required` false means "absent is fine".
    var defaultValue: LuaValue?
    var required: Bool

    init(_ name: String, _ kind: FieldKind, _ defaultValue: LuaValue? = nil, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.required = required
    }
}

/// Advantage estimators a recipe may name.
public let knownAlgorithms = ["grpo", "dr_grpo", "rloo", "reinforce++", "ppo"]
/// KL estimators a recipe may name (verl's names; `low_var_kl` is k3 clamped to [-10, 10]).
public let knownKLEstimators = ["k1", "k2", "k3", "low_var_kl"]

/// The recipe schema; defaults follow verl's where the paper does not override them.
var recipeSchema: [Field] { [
    Field("name", .string),
    Field("description", .string),
    Field("model", .string, required: true),
    Field("tokenizer", .string),
    Field("train", .group([
        Field("data", .string, required: true),
        Field("repeat_to", .integer, .integer(0)),
        Field("batch_size", .integer, .integer(128)),
        Field("shuffle", .boolean, .boolean(true)),
    ]), required: true),
    Field("eval", .group([
        Field("every", .integer, .integer(0)),
        Field("before_train", .boolean, .boolean(false)),
        Field("sets", .strings, .table(LuaTable())),
        Field("prompt", .function),
        Field("temperature", .number, .number(0)),
        Field("samples", .integer, .integer(1)),
        Field("max_tokens", .integer, .integer(3072)),
    ]), .table(LuaTable())),
    Field("prompt", .function, required: true),
    Field("chat_format", .function),
    Field("reward", .function, required: true),
    Field("grader", .string, .string("paper")),
    Field("algorithm", .choice(knownAlgorithms), .string("grpo")),
    Field("advantage", .group([
        Field("epsilon", .number, .number(1e-6)),
        Field("normalize_std", .boolean, .boolean(true)),
    ]), .table(LuaTable())),
    Field("rollout", .group([
        Field("n", .integer, .integer(8)),
        Field("temperature", .number, .number(1.0)),
        Field("top_p", .number, .number(1.0)),
        Field("top_k", .integer, .integer(-1)),
        Field("max_tokens", .integer, .integer(3072)),
        Field("max_prompt_tokens", .integer, .integer(1024)),
    ]), .table(LuaTable())),
    Field("optimizer", .group([
        Field("lr", .number, .number(1e-6)),
        Field("betas", .numbers(count: 2), .table(LuaTable(items: [.number(0.9), .number(0.999)]))),
        Field("eps", .number, .number(1e-8)),
        Field("weight_decay", .number, .number(0.01)),
        Field("max_grad_norm", .number, .number(1.0)),
    ]), .table(LuaTable())),
    Field("update", .group([
        Field("clip_ratio", .number, .number(0.2)),
        Field("epochs", .integer, .integer(1)),
        Field("mini_batch_size", .integer, .integer(128)),
    ]), .table(LuaTable())),
    Field("kl", .group([
        Field("estimator", .choice(knownKLEstimators), .string("low_var_kl")),
    ]), .table(LuaTable())),
    Field("loss", .function, required: true),
    Field("schedules", .functionMap, .table(LuaTable())),
    Field("steps", .integer, required: true),
    Field("seed", .integer, .integer(0)),
    Field("save_every", .integer, .integer(0)),
] }

/// Every dotted key path of a schema (for "did you mean").
func schemaPaths(_ fields: [Field], prefix: String = "") -> [String] {
    fields.flatMap { f -> [String] in
        let path = prefix + f.name
        if case .group(let sub) = f.kind { return [path] + schemaPaths(sub, prefix: path + ".") }
        return [path]
    }
}

/// The field at a dotted path, if the schema has it.
func schemaField(_ path: [String], in fields: [Field] = recipeSchema) -> Field? {
    guard let head = path.first, let f = fields.first(where: { $0.name == head }) else { return nil }
    if path.count == 1 { return f }
    if case .group(let sub) = f.kind { return schemaField(Array(path.dropFirst()), in: sub) }
    return nil
}

// MARK: - Typed recipe

/// A validated recipe: typed settings and checked plugin handles (see DESIGN.md, "The Lua contract").
public struct Recipe {
    /// Training data settings.
    public struct Train: Equatable {
        /// Settings from their values.
        public init(data: String, repeatTo: Int, batchSize: Int, shuffle: Bool) {
            self.data = data
            self.repeatTo = repeatTo
            self.batchSize = batchSize
            self.shuffle = shuffle
        }
        /// JSONL file of examples, as written in the recipe.
        public var data: String
        /// Repeat the examples to this many rows per epoch (0 = no repetition).
        public var repeatTo: Int
        /// Prompts per step.
        public var batchSize: Int
        /// Shuffle with the run's seed.
        public var shuffle: Bool
    }
    /// Evaluation settings.
    public struct Eval {
        /// Evaluate every this many steps (0 = never during training).
        public var every: Int
        /// Evaluate once before the first step.
        public var beforeTrain: Bool
        /// JSONL files of evaluation sets.
        public var sets: [String]
        /// Prompt plugin for evaluation (nil: the training prompt).
        public var prompt: PromptPlugin?
        /// Sampling temperature (0 = greedy).
        public var temperature: Double
        /// Samples per problem.
        public var samples: Int
        /// Maximum new tokens.
        public var maxTokens: Int
    }
    /// Advantage settings.
    public struct Advantage: Equatable {
        /// Settings from their values.
        public init(epsilon: Double, normalizeStd: Bool) {
            self.epsilon = epsilon
            self.normalizeStd = normalizeStd
        }
        /// Added to the group standard deviation.
        public var epsilon: Double
        /// Divide by the group standard deviation (GRPO) or not (Dr.GRPO).
        public var normalizeStd: Bool
    }
    /// Rollout (sampling) settings.
    public struct Rollout: Equatable {
        /// Settings from their values.
        public init(n: Int, temperature: Double, topP: Double, topK: Int, maxTokens: Int, maxPromptTokens: Int) {
            self.n = n
            self.temperature = temperature
            self.topP = topP
            self.topK = topK
            self.maxTokens = maxTokens
            self.maxPromptTokens = maxPromptTokens
        }
        /// Samples per prompt.
        public var n: Int
        /// Sampling temperature.
        public var temperature: Double
        /// Nucleus probability.
        public var topP: Double
        /// Top-k (-1 = off).
        public var topK: Int
        /// Maximum response tokens.
        public var maxTokens: Int
        /// Maximum prompt tokens.
        public var maxPromptTokens: Int
    }
    /// AdamW settings.
    public struct Optimizer: Equatable {
        /// Settings from their values.
        public init(lr: Double, betas: (Double, Double), eps: Double, weightDecay: Double, maxGradNorm: Double) {
            self.lr = lr
            self.betas = betas
            self.eps = eps
            self.weightDecay = weightDecay
            self.maxGradNorm = maxGradNorm
        }
        /// Learning rate (when no `schedules.lr` is given).
        public var lr: Double
        /// Adam betas.
        public var betas: (Double, Double)
        /// Adam epsilon.
        public var eps: Double
        /// Decoupled weight decay.
        public var weightDecay: Double
        /// Global gradient-norm clip.
        public var maxGradNorm: Double

        public static func == (a: Optimizer, b: Optimizer) -> Bool {
            a.lr == b.lr && a.betas == b.betas && a.eps == b.eps && a.weightDecay == b.weightDecay && a.maxGradNorm == b.maxGradNorm
        }
    }
    /// Policy-update settings.
    public struct Update: Equatable {
        /// Settings from their values.
        public init(clipRatio: Double, epochs: Int, miniBatchSize: Int) {
            self.clipRatio = clipRatio
            self.epochs = epochs
            self.miniBatchSize = miniBatchSize
        }
        /// PPO clip ratio.
        public var clipRatio: Double
        /// PPO epochs per batch.
        public var epochs: Int
        /// Prompts per optimizer step.
        public var miniBatchSize: Int
    }

    /// The recipe file as shown in messages.
    public var file: String
    /// Run name.
    public var name: String
    /// Model folder (Hugging Face layout).
    public var model: String
    /// Tokenizer folder (defaults to the model's).
    public var tokenizer: String
    /// Training data.
    public var train: Train
    /// Evaluation.
    public var eval: Eval
    /// Prompt plugin.
    public var prompt: PromptPlugin
    /// Chat format plugin for prompts that return messages.
    public var chatFormat: ChatFormatPlugin?
    /// Reward plugin.
    public var reward: RewardPlugin
    /// Default grader profile for `verity.math.*`.
    public var grader: String
    /// Advantage estimator name.
    public var algorithm: String
    /// Advantage settings.
    public var advantage: Advantage
    /// Rollout settings.
    public var rollout: Rollout
    /// Optimizer settings.
    public var optimizer: Optimizer
    /// Update settings.
    public var update: Update
    /// KL estimator name.
    public var klEstimator: String
    /// Loss-mix plugin.
    public var loss: LossMixPlugin
    /// Schedules by name (`lr`, `temperature`, any coefficient).
    public var schedules: [String: SchedulePlugin]
    /// Training steps.
    public var steps: Int
    /// Run seed.
    public var seed: Int
    /// Checkpoint every this many steps (0 = at the end only).
    public var saveEvery: Int
    /// The whole table after overrides and defaults (written to the run folder).
    public var resolved: LuaTable
}

// MARK: - Validation

/// Validates a recipe table against the schema; `source` (the recipe's text) is used to point
/// at the line of a bad key, and `overridden` holds the paths set from the command line.
struct RecipeValidator {
    var file: String
    var source: String
    var overridden: Set<String>

    /// Where a key is written: `file:line` of its first `key =`, or the --set flag.
    func place(_ path: String) -> (String, Int?) {
        if overridden.contains(path) { return ("\(file) (set by --set \(path))", nil) }
        let key = path.split(separator: ".").last.map(String.init) ?? path
        for (i, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = String(line)
            var search = text.startIndex
            while let r = text.range(of: key, range: search..<text.endIndex) {
                let before = r.lowerBound == text.startIndex ? nil : text[text.index(before: r.lowerBound)]
                let startOK = before.map { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") } ?? true
                let rest = text[r.upperBound...].drop(while: { $0 == " " || $0 == "\t" })
                if startOK, rest.hasPrefix("="), !rest.hasPrefix("==") { return ("\(file):\(i + 1)", i + 1) }
                search = r.upperBound
            }
        }
        return (file, nil)
    }

    func error(_ path: String, _ message: (String) -> String) -> LuaError {
        let (where_, line) = place(path)
        return .recipe(file: file, line: line, message: message(where_))
    }

    /// Checks `table` against `fields`, fills defaults, and returns the resolved table.
    func validate(_ table: LuaTable, _ fields: [Field], prefix: String = "") throws -> LuaTable {
        let allPaths = schemaPaths(recipeSchema)
        if let stray = table.items.first {
            throw LuaError.recipe(file: file, line: nil, message:
                "\(prefix.isEmpty ? "the recipe" : "`\(prefix.dropLast())`") in \(file) has a list entry (\(stray.typeName)); expected only named keys")
        }
        for key in table.fields.keys.sorted() where !fields.contains(where: { $0.name == key }) {
            let path = prefix + key
            let siblings = fields.map { prefix + $0.name }
            let hint = nearestName(path, among: siblings) ?? nearestName(path, among: allPaths)
            throw error(path) { "unknown key `\(path)` in \($0)" + (hint.map { "; did you mean `\($0)`?" } ?? "") }
        }
        var out = LuaTable()
        for f in fields {
            let path = prefix + f.name
            guard let value = table.fields[f.name], value != .nil else {
                if f.required {
                    throw LuaError.recipe(file: file, line: nil, message: "missing key `\(path)` in \(file): expected \(f.kind.expected)")
                }
                if let d = f.defaultValue {
                    if case .group(let sub) = f.kind, case .table(let t) = d {
                        out.fields[f.name] = .table(try validate(t, sub, prefix: path + "."))
                    } else {
                        out.fields[f.name] = d
                    }
                }
                continue
            }
            out.fields[f.name] = try check(value, f, path: path)
        }
        return out
    }

    func check(_ value: LuaValue, _ f: Field, path: String) throws -> LuaValue {
        let wrong = { () -> LuaError in
            self.error(path) { "wrong type for `\(path)` in \($0): expected \(f.kind.expected), got \(describe(value))" }
        }
        switch f.kind {
        case .string:
            guard case .string = value else { throw wrong() }
        case .integer:
            switch value {
            case .integer: break
            case .number(let d) where d.isFinite && d == d.rounded() && abs(d) < 9e15: return .integer(Int64(d))
            default: throw wrong()
            }
        case .number:
            switch value {
            case .integer(let i): return .number(Double(i))
            case .number(let d) where d.isFinite: break
            default: throw wrong()
            }
        case .boolean:
            guard case .boolean = value else { throw wrong() }
        case .function:
            guard case .function = value else { throw wrong() }
        case .strings:
            guard case .table(let t) = value, t.fields.isEmpty,
                  t.items.allSatisfy({ if case .string = $0 { return true } else { return false } }) else { throw wrong() }
        case .numbers(let n):
            guard case .table(let t) = value, t.fields.isEmpty, t.items.count == n,
                  t.items.allSatisfy({ $0.doubleValue?.isFinite ?? false }) else { throw wrong() }
            return .table(LuaTable(items: t.items.map { .number($0.doubleValue ?? 0) }))
        case .choice(let options):
            guard case .string(let s) = value else { throw wrong() }
            guard options.contains(s) else {
                let hint = nearestName(s, among: options).map { "; did you mean \"\($0)\"?" } ?? ""
                throw error(path) { "invalid value for `\(path)` in \($0): expected \(f.kind.expected), got \(luaQuote(s))\(hint)" }
            }
        case .group(let sub):
            guard case .table(let t) = value else { throw wrong() }
            return .table(try validate(t, sub, prefix: path + "."))
        case .functionMap:
            guard case .table(let t) = value, t.items.isEmpty else { throw wrong() }
            for (k, v) in t.fields {
                guard case .function = v else {
                    throw error(path + "." + k) { "wrong type for `\(path).\(k)` in \($0): expected a function(step, total) -> number, got \(describe(v))" }
                }
            }
        }
        return value
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

// MARK: - Overrides

/// Applies `--set key.path=value` overrides to a recipe table. Values are read by the schema's
/// type for known keys (strings stay strings, lists are comma-separated); unknown keys keep a
/// best-effort value so that validation reports them with a suggestion.
func applyOverrides(_ overrides: [String], to table: LuaTable, file: String) throws -> (LuaTable, Set<String>) {
    var table = table
    var paths = Set<String>()
    for o in overrides {
        guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
            throw LuaError.recipe(file: file, line: nil, message: "--set expects key.path=value, got \(luaQuote(o))")
        }
        let path = String(o[..<eq]).trimmingCharacters(in: .whitespaces)
        let raw = String(o[o.index(after: eq)...])
        let keys = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard keys.allSatisfy({ !$0.isEmpty }) else {
            throw LuaError.recipe(file: file, line: nil, message: "--set key \(luaQuote(path)) has an empty part")
        }
        let value = try parseOverride(raw, kind: schemaField(keys)?.kind, path: path, file: file)
        table = setPath(table, keys[...], value)
        paths.insert(path)
    }
    return (table, paths)
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

private func parseOverride(_ raw: String, kind: FieldKind?, path: String, file: String) throws -> LuaValue {
    let text = raw.trimmingCharacters(in: .whitespaces)
    func generic(_ s: String) -> LuaValue {
        if s.count >= 2, (s.hasPrefix("\"") && s.hasSuffix("\"")) || (s.hasPrefix("'") && s.hasSuffix("'")) {
            return .string(String(s.dropFirst().dropLast()))
        }
        if s == "true" { return .boolean(true) }
        if s == "false" { return .boolean(false) }
        if let i = Int64(s) { return .integer(i) }
        if let d = Double(s) { return .number(d) }
        return .string(s)
    }
    guard let kind else { return generic(text) }
    switch kind {
    case .string, .choice:
        if case .string(let s) = generic(text) { return .string(s) }
        return .string(text)
    case .strings:
        return .table(LuaTable(items: text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }))
    case .numbers:
        return .table(LuaTable(items: text.split(separator: ",").map { generic($0.trimmingCharacters(in: .whitespaces)) }))
    case .function, .functionMap, .group:
        throw LuaError.recipe(file: file, line: nil, message:
            "--set \(path): \(kind.expected) cannot be given on the command line; edit the recipe instead")
    default:
        return generic(text)
    }
}

// MARK: - Building the typed recipe

extension Recipe {
    /// Validates a recipe table (after overrides) and builds the typed recipe.
    static func build(from table: LuaTable, file: String, source: String, overridden: Set<String>,
                      defaultName: String) throws -> Recipe {
        let validator = RecipeValidator(file: file, source: source, overridden: overridden)
        var resolved = try validator.validate(table, recipeSchema)
        if resolved.fields["name"] == nil { resolved.fields["name"] = .string(defaultName) }
        let r = Fields(resolved)
        let train = r.group("train"), eval = r.group("eval"), adv = r.group("advantage")
        let rollout = r.group("rollout"), opt = r.group("optimizer"), upd = r.group("update"), kl = r.group("kl")
        let betas = opt.numbers("betas")
        var schedules: [String: SchedulePlugin] = [:]
        for (k, v) in r.table("schedules").fields {
            if case .function(let f) = v { schedules[k] = SchedulePlugin(f, kind: "schedules.\(k)") }
        }
        let model = r.string("model")
        return Recipe(
            file: file, name: r.string("name"), model: model, tokenizer: r.optionalString("tokenizer") ?? model,
            train: Train(data: train.string("data"), repeatTo: train.int("repeat_to"), batchSize: train.int("batch_size"),
                         shuffle: train.bool("shuffle")),
            eval: Eval(every: eval.int("every"), beforeTrain: eval.bool("before_train"), sets: eval.strings("sets"),
                       prompt: eval.function("prompt").map { PromptPlugin($0, kind: "eval.prompt") },
                       temperature: eval.double("temperature"), samples: eval.int("samples"), maxTokens: eval.int("max_tokens")),
            prompt: PromptPlugin(try r.requiredFunction("prompt")),
            chatFormat: r.function("chat_format").map(ChatFormatPlugin.init),
            reward: RewardPlugin(try r.requiredFunction("reward")),
            grader: r.string("grader"), algorithm: r.string("algorithm"),
            advantage: Advantage(epsilon: adv.double("epsilon"), normalizeStd: adv.bool("normalize_std")),
            rollout: Rollout(n: rollout.int("n"), temperature: rollout.double("temperature"), topP: rollout.double("top_p"),
                             topK: rollout.int("top_k"), maxTokens: rollout.int("max_tokens"),
                             maxPromptTokens: rollout.int("max_prompt_tokens")),
            optimizer: Optimizer(lr: opt.double("lr"), betas: (betas.first ?? 0.9, betas.last ?? 0.999), eps: opt.double("eps"),
                                 weightDecay: opt.double("weight_decay"), maxGradNorm: opt.double("max_grad_norm")),
            update: Update(clipRatio: upd.double("clip_ratio"), epochs: upd.int("epochs"), miniBatchSize: upd.int("mini_batch_size")),
            klEstimator: kl.string("estimator"), loss: LossMixPlugin(try r.requiredFunction("loss")),
            schedules: schedules, steps: r.int("steps"), seed: r.int("seed"), saveEvery: r.int("save_every"),
            resolved: resolved)
    }
}

/// Typed reads from a validated table (validation guarantees the types; absent reads give zero values).
private struct Fields {
    var t: LuaTable
    init(_ t: LuaTable) { self.t = t }
    func group(_ k: String) -> Fields { Fields(table(k)) }
    func table(_ k: String) -> LuaTable { if case .table(let v) = t.fields[k] { return v }; return LuaTable() }
    func string(_ k: String) -> String { optionalString(k) ?? "" }
    func optionalString(_ k: String) -> String? { if case .string(let v) = t.fields[k] { return v }; return nil }
    func int(_ k: String) -> Int { if case .integer(let v) = t.fields[k] { return Int(v) }; return 0 }
    func double(_ k: String) -> Double { t.fields[k]?.doubleValue ?? 0 }
    func bool(_ k: String) -> Bool { if case .boolean(let v) = t.fields[k] { return v }; return false }
    func strings(_ k: String) -> [String] { table(k).items.compactMap { if case .string(let s) = $0 { return s }; return nil } }
    func numbers(_ k: String) -> [Double] { table(k).items.compactMap(\.doubleValue) }
    func function(_ k: String) -> LuaFunction? { if case .function(let f) = t.fields[k] { return f }; return nil }
    func requiredFunction(_ k: String) throws -> LuaFunction {
        guard let f = function(k) else { throw LuaError.state(message: "validated recipe lacks `\(k)`") }
        return f
    }
}
