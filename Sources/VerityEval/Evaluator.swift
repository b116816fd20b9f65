// Evaluator: one model on a list of benchmarks, as `verity eval` runs it. `EvalPlan` is what does not
// depend on the model (settings, the sets read and checked, the Lua prompt plugin, the record an output
// folder must match), so a checkpoint sweep makes it once. `Evaluator` loads the model folder into a
// rollout engine and, per set, renders each pending item's prompt with the plugin, samples the item's K
// samples with prefix sharing (one prefill per item: `samplesPerPrompt`), cuts each response at the
// first stop string, grades it (VerityVerify), appends the item to the output folder and reports
// progress. Items are sampled in calls of about `rowsPerCall` rows; every item's sample s draws from the
// generator of (seed ⊕ set, item index, s), so the responses do not depend on how items were grouped,
// skipped or resumed. A plan can also come from a recipe's eval section (its prompt, chat format, grader and seed).
// Not here: the command line, the file layout (OutputFolder.swift), the scores (Summary.swift).
import Foundation
import VerityCore
import VerityJSON
import VerityLua
import VerityMeasure
import VerityModel
import VeritySampling
import VerityTokenizer
import VerityVerify

// MARK: - Settings

/// What to evaluate and how; nil overrides keep each set's paper protocol (`BenchmarkProtocol.paper(for:)`).
public struct EvalSettings: Sendable {
    /// Benchmark names (sets in the catalog) or paths to .jsonl files.
    public var benchmarks: [String] = BenchmarkCatalog.paperBenchmarks
    /// Only the first N items of each set (nil: all).
    public var limit: Int? = nil
    /// Samples per item for every set (nil: the protocol's).
    public var samples: Int? = nil
    /// Temperature for every set (nil: the protocol's).
    public var temperature: Double? = nil
    /// Top-p for every set (nil: 1).
    public var topP: Double? = nil
    /// New-token limit for every set (nil: 3,072).
    public var maxTokens: Int? = nil
    /// Sampling seed.
    public var seed: UInt64 = 0
    /// The prompt plugin: a module under Scripts/ (`prompts.qwen25_math_cot`, the default; `qwen25-math-cot` is an
    /// alias) or a .lua file returning `function(example) -> string`.
    public var prompt: String = "prompts.qwen25_math_cot"
    /// The grading profile (default: Qwen2.5-Eval's, the paper's evaluation grader).
    public var grader: GradingProfile = .qwenEval
    /// Other grading profiles whose accuracy on the same responses is reported beside `grader`'s (the summary's
    /// `accuracy_by_grader`; no new sampling). A training run's evaluations add `qwen-eval`, format-agnostic.
    public var alsoGrade: [GradingProfile] = []
    /// Words that count a response as self-reflecting (ReflectionWords).
    public var reflectionWords: [String] = ReflectionWords.default
    /// The k of pass@k (nil: powers of two up to the samples, and the samples).
    public var passAtK: [Int]? = nil
    /// Strings that end a response (Qwen2.5-Eval's, data/README.md §5); the special tokens among them, and the model's EOS
    /// ids, also end it as token ids.
    public var stopStrings: [String] = ["</s>", "<|im_end|>", "<|endoftext|>"]

    /// The paper's protocol on its six benchmarks.
    public init() {}

    /// The protocol of set `name` with this settings' overrides applied.
    public func protocolFor(_ name: String) -> BenchmarkProtocol {
        var p = BenchmarkProtocol.paper(for: name)
        if let samples { p.samples = samples }
        if let temperature { p.temperature = temperature }
        if let topP { p.topP = topP }
        if let maxTokens { p.maxTokens = maxTokens }
        return p
    }
}

/// How an evaluation runs (what does not change its results).
public struct EvalOptions {
    /// Threads for the sampler and BLAS.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The most rows decoded together.
    public var maxBatch = 256
    /// About this many rows (items × samples) per sampler call; an item's lines are written when its call returns.
    public var rowsPerCall = 256
    /// KV-cache budget in bytes (nil: the engine's default).
    public var memoryBudgetBytes: Int? = nil
    /// Stop (throwing `EvaluationStopped`) once this many items were graded in this process (tests of resume).
    public var stopAfterItems: Int? = nil
    /// Asked between sampler calls; true stops the evaluation (throwing `EvaluationStopped`), e.g. on Ctrl-C.
    public var shouldStop: () -> Bool = { false }
    /// Progress reports (items done, tokens/s, ETA).
    public var progress: ((EvalProgress) -> Void)? = nil
    /// One-line notes (sets skipped, items resumed).
    public var log: (String) -> Void = { _ in }
    /// Generate every sample to its token limit, ignoring EOS and stop strings (benchmarks force a fixed length).
    public var forceLength = false
    /// Data-parallel evaluation: this process grades its part of each set and the parts are joined (nil: all of it).
    public var shard: EvalShard? = nil

    /// Defaults.
    public init() {}
}

/// One part of a data-parallel evaluation (evaluation inside `verity train` under MPI). Every part calls `agree` and
/// `gather` once per set, in set order. Sampling seeds follow the item's index in its set, so the parts together
/// grade exactly what one process grades.
public struct EvalShard {
    /// This part, 0 ..< count (parts that grade nothing still call the collectives).
    public var part: Int
    /// How many parts grade items.
    public var count: Int
    /// Part 0's list of item ids still to grade in a set (every part splits the same list).
    public var agree: ([String]) throws -> [String]
    /// Every part's records of a set, joined in part order.
    public var gather: ([ResponseRecord]) throws -> [ResponseRecord]

    public init(
        part: Int, count: Int, agree: @escaping ([String]) throws -> [String],
        gather: @escaping ([ResponseRecord]) throws -> [ResponseRecord]
    ) {
        self.part = part
        self.count = count
        self.agree = agree
        self.gather = gather
    }

    /// This part's contiguous share of `n` items.
    public func range(of n: Int) -> Range<Int> {
        guard part < count else { return n..<n }
        return (n * part / count)..<(n * (part + 1) / count)
    }
}

/// An evaluation stopped on request after writing the items graded so far; rerunning with the same output folder continues.
public struct EvaluationStopped: Error, CustomStringConvertible, LocalizedError {
    /// Items graded in this process before the stop.
    public var itemsGraded: Int
    /// A stop.
    public init(itemsGraded: Int) { self.itemsGraded = itemsGraded }
    /// What happened.
    public var description: String {
        "stopped after \(itemsGraded) items in this run; their responses are saved: rerun with the same --out to continue"
    }
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

// MARK: - Progress

/// Where a running evaluation stands within one set.
public struct EvalProgress: Sendable {
    /// The set.
    public var benchmark: String
    /// Items graded (or with every sample finished) in this set, this run included those resumed.
    public var itemsDone: Int
    /// Items to score in this set.
    public var itemsTotal: Int
    /// New tokens generated for this set in this run.
    public var generatedTokens: Int
    /// Seconds spent on this set in this run.
    public var elapsed: Double
    /// Tokens per second in this run.
    public var tokensPerSecond: Double { elapsed > 0 ? Double(generatedTokens) / elapsed : 0 }
    /// Seconds left at this run's pace (nil until something finished).
    public var eta: Double?

    /// `math500  12/500 items  345.6 tokens/s  ETA 3m20s`.
    public var line: String {
        "\(benchmark)  \(itemsDone)/\(itemsTotal) items  " + String(format: "%.1f tokens/s", tokensPerSecond)
            + "  ETA " + (eta.map(EvalProgress.clock) ?? "?")
    }

    /// `1h02m`, `3m20s`.
    public static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// Prints progress to stderr: one line rewritten in place on a terminal, else a plain line every `interval` seconds and at the
/// end of each set.
public final class ProgressPrinter {
    let terminal: Bool
    let interval: Double
    let write: (String) -> Void
    var last = -Double.infinity
    var open = false

    /// A printer; `terminal` picks in-place updates, `write` receives the text (stderr by default).
    public init(
        terminal: Bool, interval: Double? = nil,
        write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.terminal = terminal
        self.interval = interval ?? (terminal ? 0.2 : 10)
        self.write = write
    }

    /// Shows `p` (rate-limited; always when the set is done).
    public func update(_ p: EvalProgress) {
        let now = CPUShareProbe.now()
        let done = p.itemsDone >= p.itemsTotal
        guard done || now - last >= interval else { return }
        last = now
        if terminal {
            write("\r\u{1B}[K" + p.line + (done ? "\n" : ""))
            open = !done
        } else {
            write(p.line + "\n")
        }
    }

    /// Ends an in-place line left open (after an error or a stop).
    public func finish() {
        if open { write("\n"); open = false }
    }
}

// MARK: - Plan

/// What an evaluation does, independent of the model: settings, sets, prompt plugin.
public final class EvalPlan {
    /// The settings.
    public let settings: EvalSettings
    /// The sets, read and checked, in the order named (each cut to `settings.limit`).
    public let sets: [BenchmarkSet]
    /// The Lua state the prompt plugin lives in (use from one thread).
    public let state: LuaState
    /// The prompt plugin.
    public let prompt: PromptPlugin
    /// The prompt plugin's name as recorded (module name, file path, or the recipe key it came from).
    public let promptName: String
    /// Renders chat messages when the plugin returns them (a recipe's `chat_format`; nil: messages are an error).
    public let chatFormat: ChatFormatPlugin?
    var rendered: [String: [String: String]] = [:]

    /// Checks the settings, reads every set and loads the prompt plugin named by `settings.prompt`; errors name the set file
    /// and line or the plugin.
    public convenience init(catalog: BenchmarkCatalog, settings: EvalSettings) throws {
        var name = settings.prompt
        if name == "qwen25-math-cot" { name = "prompts.qwen25_math_cot" }
        let state: LuaState
        do { state = try LuaState(services: .standard()) } catch {
            throw EvalError.prompt(plugin: name, detail: "\(error)")
        }
        let value: LuaValue
        do {
            if name.hasSuffix(".lua") || name.contains("/") {
                let url = URL(fileURLWithPath: name).standardizedFileURL
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw EvalError.prompt(plugin: name, detail: "no such file")
                }
                value = try state.run(file: url, displayName: name)
            } else {
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }), !name.isEmpty else {
                    throw EvalError.prompt(
                        plugin: name,
                        detail: "expected a module name such as prompts.qwen25_math_cot or a path to a .lua file")
                }
                let chunk = try state.load(source: "return require(\(luaQuote(name)))", name: "=--prompt")
                value = try state.call(chunk).first ?? .nil
            }
        } catch let e as EvalError { throw e } catch {
            throw EvalError.prompt(plugin: name, detail: "\(error)")
        }
        guard case .function(let f) = value else {
            throw EvalError.prompt(
                plugin: name, detail: "returned \(value.typeName), expected a function(example) -> string")
        }
        try self.init(
            catalog: catalog, settings: settings, state: state, prompt: PromptPlugin(f, kind: "prompt plugin \(name)"),
            promptName: name, chatFormat: nil)
    }

    /// A plan with a prompt plugin already loaded in `state` (a recipe's); `settings.prompt` is not read.
    public init(
        catalog: BenchmarkCatalog, settings: EvalSettings, state: LuaState, prompt: PromptPlugin, promptName: String,
        chatFormat: ChatFormatPlugin?
    ) throws {
        self.settings = settings
        if let limit = settings.limit, limit < 1 {
            throw EvalError.badSetting(name: "--limit", value: "\(limit)", detail: "must be ≥ 1")
        }
        guard !settings.benchmarks.isEmpty else {
            throw EvalError.badSetting(name: "--benchmarks", value: "\"\"", detail: "name at least one set")
        }
        if let bad = settings.passAtK?.first(where: { $0 < 1 }) {
            throw EvalError.badSetting(name: "--pass-at-k", value: "\(bad)", detail: "must be ≥ 1")
        }
        var sets: [BenchmarkSet] = []
        for name in settings.benchmarks {
            var set = try catalog.load(name)
            if sets.contains(where: { $0.name == set.name }) {
                throw EvalError.badSetting(
                    name: "--benchmarks", value: name, detail: "a second set named '\(set.name)'")
            }
            try settings.protocolFor(set.name).validate()
            if let limit = settings.limit { set.items = Array(set.items.prefix(limit)) }
            sets.append(set)
        }
        self.sets = sets
        self.state = state
        self.prompt = prompt
        self.promptName = promptName
        self.chatFormat = chatFormat
    }

    /// The plan of a recipe's `eval` section: its sets (as resolved when the recipe loaded), samples, temperature and token
    /// limit for every set, its `eval.prompt` (else its training prompt) with its chat format, its grader and seed. `adjust`
    /// applies command-line overrides to those settings before the sets are read.
    public convenience init(
        recipe loaded: LoadedRecipe, catalog: BenchmarkCatalog, adjust: (inout EvalSettings) -> Void = { _ in }
    ) throws {
        let r = loaded.recipe
        guard !loaded.evalSets.isEmpty else {
            throw EvalError.badSetting(name: "eval.sets", value: "{}", detail: "\(r.file) names no evaluation sets")
        }
        var settings = EvalSettings()
        settings.benchmarks = loaded.evalSets.map { $0.url.path }
        settings.samples = r.eval.samples
        settings.temperature = r.eval.temperature
        settings.maxTokens = r.eval.maxTokens
        settings.seed = UInt64(bitPattern: Int64(r.seed))
        if let g = GradingProfile(rawValue: r.grader) { settings.grader = g }
        settings.prompt = r.eval.prompt == nil ? "\(r.file) prompt" : "\(r.file) eval.prompt"
        adjust(&settings)
        try self.init(
            catalog: catalog, settings: settings, state: loaded.state, prompt: r.eval.prompt ?? r.prompt,
            promptName: settings.prompt, chatFormat: r.chatFormat)
    }

    /// The record an output folder of `model` must hold (or will be given).
    public func manifest(model: URL) -> EvalManifest {
        var hashes: [String: String] = [:]
        for s in state.loadedScripts { hashes[s.displayName] = s.sha256 }
        var records: [String: EvalManifest.SetRecord] = [:]
        for set in sets {
            records[set.name] = .init(file: set.url.standardizedFileURL.path, protocol: settings.protocolFor(set.name))
        }
        return EvalManifest(
            model: model.standardizedFileURL.path, prompt: promptName, promptScripts: hashes,
            grader: settings.grader.rawValue,
            seed: settings.seed, stopStrings: settings.stopStrings, benchmarks: records)
    }

    /// The prompt text of an item (rendered once per plan).
    public func promptText(_ item: BenchmarkItem, set: String) throws -> String {
        if let t = rendered[set]?[item.id] { return t }
        let text: String
        do {
            text = try RecipeLoader.renderPrompt(
                prompt, chatFormat: chatFormat, example: state.makeTable(item.example), state: state)
        } catch {
            throw EvalError.prompt(plugin: promptName, detail: "on item \(item.id) (line \(item.line)): \(error)")
        }
        rendered[set, default: [:]][item.id] = text
        return text
    }

    /// The summary already in `out` when it covers every set of this plan with the same items and the folder's record matches
    /// (nil otherwise: the evaluation must run, resuming what is there).
    public func completedSummary(out: URL, model: URL) -> EvalSummary? {
        guard let recorded = try? EvalManifest.read(folder: out),
            (try? manifest(model: model).checkCompatible(with: recorded, folder: out.path)) != nil,
            let data = try? Data(contentsOf: out.appendingPathComponent("summary.json")),
            let summary = try? JSONDecoder().decode(EvalSummary.self, from: data)
        else { return nil }
        var results: [BenchmarkResult] = []
        for set in sets {
            guard let r = summary.result(set.name), r.items == set.items.count,
                r.samplesPerItem == settings.protocolFor(set.name).samples
            else { return nil }
            results.append(r)
        }
        return EvalSummary(model: summary.model, results: results)
    }
}

// MARK: - Evaluator

/// One model evaluated on a plan's sets.
public final class Evaluator {
    /// The plan.
    public let plan: EvalPlan
    /// The model folder.
    public let modelDirectory: URL
    /// The sampler over the model.
    public let engine: RolloutEngine
    /// The model's tokenizer.
    public let tokenizer: Tokenizer
    /// How it runs.
    public var options: EvalOptions
    /// The sampler's work summed over this evaluator's calls.
    public private(set) var work = SamplerWork()
    let stopIds: [Int32]

    /// Loads the model folder (config.json, safetensors, tokenizer); a folder that does not load is an `EvalError.model`.
    public init(model: URL, plan: EvalPlan, options: EvalOptions = EvalOptions()) throws {
        self.plan = plan
        self.options = options
        modelDirectory = model
        var eo = EngineOptions()
        eo.threads = max(1, options.threads)
        eo.maxBatch = max(1, options.maxBatch)
        if let b = options.memoryBudgetBytes { eo.memoryBudgetBytes = b }
        let loaded: (RolloutEngine, Tokenizer)
        do {
            loaded = (try RolloutEngine.load(directory: model, options: eo), try Tokenizer(folder: model))
        } catch {
            throw EvalError.model(path: model.path, detail: "\(error)")
        }
        (engine, tokenizer) = loaded
        let tok = loaded.1
        stopIds = plan.settings.stopStrings.compactMap { s in tok.id(forToken: s).map { Int32($0) } }
    }

    /// Evaluates every set; with `out`, checks and records the folder, skips items already graded there, appends each newly
    /// graded item and writes summary.json (and breakdown.json for sets with subjects or levels).
    public func run(out: URL?) throws -> EvalSummary {
        let manifest = plan.manifest(model: modelDirectory)
        if let out {
            var merged = manifest
            if let recorded = try EvalManifest.read(folder: out) {
                try manifest.checkCompatible(with: recorded, folder: out.path)
                merged.benchmarks = recorded.benchmarks.merging(manifest.benchmarks) { _, mine in mine }
            } else if FileManager.default.fileExists(atPath: out.path),
                let entries = try? FileManager.default.contentsOfDirectory(atPath: out.path), !entries.isEmpty
            {
                throw EvalError.file(
                    path: out.path, line: nil,
                    detail:
                        "the folder is not empty and holds no eval.json; choose another --out (nothing was overwritten)"
                )
            }
            try makeFolder(out)
            try merged.write(folder: out)
        }
        var results: [BenchmarkResult] = []
        var gradedHere = 0
        for set in plan.sets {
            let p = plan.settings.protocolFor(set.name)
            let folder = out?.appendingPathComponent(set.name)
            if let folder { try makeFolder(folder) }
            let file = folder.map {
                ResponsesFile(url: $0.appendingPathComponent("responses.jsonl"), samples: p.samples)
            }
            var done = try file?.completeItems() ?? [:]
            var pending = set.items.filter { done[$0.id] == nil }
            if !done.isEmpty {
                options.log(
                    "\(set.name): \(set.items.count - pending.count) of \(set.items.count) items already graded in \(folder?.path ?? "")"
                )
            }
            // Data-parallel: part 0's pending list, split in contiguous parts; the parts' records are joined and
            // written by whoever holds the output folder (part 0).
            var mine = pending, local: [ResponseRecord] = []
            if let shard = options.shard {
                let ids = Set(try shard.agree(pending.map(\.id)))
                pending = set.items.filter { ids.contains($0.id) }
                mine = Array(pending[shard.range(of: pending.count)])
            }
            try sample(
                set, pending: mine, protocol: p, alreadyDone: set.items.count - pending.count,
                gradedHere: &gradedHere
            ) { item, records in
                guard options.shard == nil else { return local += records }
                try file?.append(records)
                done[item.id] = records
            }
            if let shard = options.shard {
                var byItem: [String: [ResponseRecord]] = [:]
                for r in try shard.gather(local) { byItem[r.itemId, default: []].append(r) }
                for item in pending {
                    guard let records = byItem[item.id] else { continue }
                    try file?.append(records)
                    done[item.id] = records
                }
            }
            let records = set.items.map { done[$0.id] ?? [] }
            let ks = plan.settings.passAtK ?? PassAtK.defaultKs(samples: p.samples)
            var result = BenchmarkResult(
                name: set.name, protocol: p, records: records, ks: ks, reflectionWords: plan.settings.reflectionWords)
            if !plan.settings.alsoGrade.isEmpty {
                var by: [String: Double] = [:]
                for profile in plan.settings.alsoGrade {
                    let g = Grader(profile: profile)
                    let counts = zip(set.items, records).map { item, recs in
                        (n: recs.count, correct: recs.filter { g.grade(response: $0.response, gold: item.answer).correct }.count)
                    }
                    by[profile.rawValue] = PassAtK.average(counts) ?? 0
                }
                result.accuracyByGrader = by
            }
            results.append(result)
            if let folder, let breakdown = Breakdown(items: set.items, records: records) {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                try writeFile(
                    try enc.encode(breakdown) + Data("\n".utf8), to: folder.appendingPathComponent("breakdown.json"))
            }
        }
        let summary = EvalSummary(model: modelDirectory.path, results: results)
        if let out {
            try writeFile(
                Data((summary.json(pretty: true) + "\n").utf8), to: out.appendingPathComponent("summary.json"))
        }
        return summary
    }

    /// Samples, cuts and grades `pending` in calls of about `rowsPerCall` rows (contiguous item indices per call), handing each
    /// item's records to `finished` in item order.
    func sample(
        _ set: BenchmarkSet, pending: [BenchmarkItem], protocol p: BenchmarkProtocol, alreadyDone: Int,
        gradedHere: inout Int,
        finished: (BenchmarkItem, [ResponseRecord]) throws -> Void
    ) throws {
        let total = alreadyDone + pending.count
        let t0 = CPUShareProbe.now()
        var tokens = 0, doneItems = alreadyDone, doneHere = 0
        let report = { (partial: Double) in
            let elapsed = CPUShareProbe.now() - t0
            let progressed = Double(doneHere) + partial
            let eta = progressed > 0 ? elapsed / progressed * (Double(pending.count) - progressed) : nil
            self.options.progress?(
                EvalProgress(
                    benchmark: set.name, itemsDone: doneItems, itemsTotal: total, generatedTokens: tokens,
                    elapsed: elapsed, eta: pending.isEmpty ? 0 : eta))
        }
        report(0)
        guard !pending.isEmpty else { return }
        let perCall = max(1, options.rowsPerCall / p.samples)
        let grader = Grader(profile: plan.settings.grader)
        let setSeed = SeededGenerator.mix(plan.settings.seed ^ fnv1a(set.name))
        var start = 0
        while start < pending.count {
            if options.shouldStop() { throw EvaluationStopped(itemsGraded: gradedHere) }
            var budget = perCall
            if let cap = options.stopAfterItems {
                if gradedHere >= cap { throw EvaluationStopped(itemsGraded: gradedHere) }
                budget = min(budget, cap - gradedHere)
            }
            var end = start + 1
            while end < pending.count && end - start < budget && pending[end].index == pending[end - 1].index + 1 {
                end += 1
            }
            let chunk = Array(pending[start..<end])
            var ids: [[Int32]] = []
            for item in chunk { ids.append(tokenizer.encodeInt32(try plan.promptText(item, set: set.name))) }
            var req = GenerationRequest(
                prompts: ids, samplesPerPrompt: p.samples, maxNewTokens: p.maxTokens,
                sampling: SamplingParams(temperature: Float(p.temperature), topP: Float(p.topP)),
                seed: setSeed, stopTokenIds: options.forceLength ? [] : stopIds,
                stopStrings: options.forceLength ? [] : plan.settings.stopStrings)
            req.firstPromptIndex = chunk[0].index
            req.ignoreEOS = options.forceLength
            let before = tokens
            let result: GenerationResult
            do {
                result = try engine.generate(
                    req, detokenizer: tokenizer.detokenizerFactory(skipSpecialTokens: true),
                    progress: { g in
                        tokens = before + g.generatedTokens
                        report(Double(g.finishedSamples) / Double(p.samples))
                    })
            } catch {
                throw EvalError.sampling(
                    benchmark: set.name, detail: "items \(chunk[0].id)…\(chunk[chunk.count - 1].id): \(error)")
            }
            tokens = before + result.stats.generatedTokens
            work.prefillTokens += result.stats.prefillTokens
            work.promptTokensAllSamples += result.stats.promptTokensAllSamples
            work.generatedTokens += result.stats.generatedTokens
            work.calls += 1
            work.samplerSeconds += result.stats.prefillSeconds + result.stats.decodeSeconds
            var bySample = [[GeneratedSample]](repeating: [], count: chunk.count)
            for s in result.samples { bySample[s.promptIndex].append(s) }
            for (i, item) in chunk.enumerated() {
                let records = bySample[i].sorted { $0.sampleIndex < $1.sampleIndex }.map { s -> ResponseRecord in
                    let text = cutResponse(s.text ?? "", stopStrings: plan.settings.stopStrings)
                    let g = grader.grade(response: text, gold: item.answer)
                    return ResponseRecord(
                        itemId: item.id, index: item.index, sample: s.sampleIndex, response: text,
                        extracted: g.extracted,
                        correct: g.correct, tokens: s.tokens.count, finishReason: s.finishReason.rawValue)
                }
                try finished(item, records)
                doneItems += 1
                doneHere += 1
                gradedHere += 1
            }
            report(0)
            start = end
        }
    }
}

// MARK: - Helpers

/// The sampler's work over an evaluation (what prefix sharing saves: `prefillTokens` against `promptTokensAllSamples`).
public struct SamplerWork: Sendable, Equatable {
    /// Prompt tokens run through prefill (a prompt shared by an item's samples once).
    public var prefillTokens = 0
    /// Prompt tokens summed over all samples (the prefill cost without sharing).
    public var promptTokensAllSamples = 0
    /// New tokens generated.
    public var generatedTokens = 0
    /// Sampler calls.
    public var calls = 0
    /// Seconds inside the sampler (prefill and decode steps).
    public var samplerSeconds = 0.0
    /// Nothing yet.
    public init() {}
}

/// A response as Qwen2.5-Eval scores it: cut at the first stop string, trailing white space removed.
public func cutResponse(_ text: String, stopStrings: [String]) -> String {
    var t = Substring(text)
    for s in stopStrings where !s.isEmpty {
        if let r = t.range(of: s) { t = t[..<r.lowerBound] }
    }
    while let last = t.last, last.isWhitespace { t = t.dropLast() }
    return String(t)
}

/// FNV-1a of a string's UTF-8 bytes (a stable per-set seed offset).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
