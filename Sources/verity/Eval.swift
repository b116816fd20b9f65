// `verity eval`: a model (--model DIR) or every checkpoint of a run (--run RUN_DIR) on the paper's
// benchmarks with the paper's protocol, each setting overridable, or with a recipe's eval section (--recipe). Parsing, the Ctrl-C hook and
// printing only; sets, sampling, grading, scores, resume and sweeps are VerityEval.
import ArgumentParser
import Foundation
import VerityEval
import VerityLua
import VerityVerify

/// `verity eval (--model DIR | --run RUN_DIR) [--benchmarks a,b] [--out DIR] [--limit N] [...]`.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Evaluate a model (or every checkpoint of a run) on math benchmarks: accuracy, pass@k, avg@k, a table or JSON."
    )

    @Option(help: "A Hugging Face model folder.") var model: String?
    @Option(
        name: .customLong("run"),
        help: "A run folder: evaluate every checkpoints/step-N into RUN/eval/step-N and write RUN/eval/sweep.json.")
    var runDirectory: String?
    @Option(
        help:
            "A recipe: evaluate with its eval section (sets, samples, temperature, max_tokens, eval.prompt or prompt, chat_format, grader, seed); flags given override it; the model defaults to the recipe's."
    )
    var recipe: String?
    @Option(
        help:
            "Comma-separated set names (files in --data) or .jsonl paths (default: math500,aime24,amc23,minerva_math,olympiadbench,aime25)."
    )
    var benchmarks: String?
    @Option(help: "Output folder (summary.json, <set>/responses.jsonl, breakdowns); rerunning with it resumes.")
    var out: String?
    @Option(help: "Only the first N items of each set.") var limit: Int?
    @Option(help: "Samples per item for every set (default: 8 for aime24/amc23/aime25, else 1).") var samples: Int?
    @Option(help: "Temperature for every set (default: 0.6 for aime24/amc23/aime25, else 0 = greedy).") var temperature:
        Double?
    @Option(help: "Top-p (default 1).") var topP: Double?
    @Option(help: "New tokens at most (default 3072).") var maxTokens: Int?
    @Option(help: "Sampling seed (default 0).") var seed: UInt64?
    @Option(help: "Prompt plugin: a Scripts module (default prompts.qwen25_math_cot) or a .lua file.") var prompt:
        String?
    @Option(help: "Grading profile: paper | qwen-eval (default) | math-verify | verity.") var grader: String?
    @Option(
        name: .customLong("also-grade"),
        help: "Comma-separated other profiles that grade the same responses (summary.json's accuracy_by_grader).")
    var alsoGrade: String?
    @Option(
        help:
            "Comma-separated self-reflection words (default: rethink,recheck,recalculate,re-evaluate,re-examine,double-check,verify)."
    )
    var reflectionWords: String?
    @Option(help: "Comma-separated k of pass@k (default: powers of two up to the samples, and the samples).")
    var passAtK: String?
    @Option(help: "The folder of benchmark sets.") var data = "data/eval"
    @Option(help: "Threads for the sampler.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func validate() throws {
        guard !(model != nil && runDirectory != nil), model != nil || runDirectory != nil || recipe != nil else {
            throw ValidationError(
                "give exactly one of --model and --run (with --recipe, --model defaults to the recipe's model)")
        }
        if runDirectory != nil && out != nil {
            throw ValidationError("--run writes under RUN/eval/step-N; --out goes with --model")
        }
        guard threads >= 1 else { throw ValidationError("--threads \(threads): expected at least 1") }
        if let grader, GradingProfile(rawValue: grader) == nil {
            throw ValidationError(
                "--grader \(grader): expected one of " + GradingProfile.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        _ = try alsoGradeProfiles()
    }

    /// The profiles of --also-grade (an unknown name is an error naming it).
    func alsoGradeProfiles() throws -> [GradingProfile] {
        try (alsoGrade ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }.map { name in
            guard let g = GradingProfile(rawValue: name) else {
                throw ValidationError(
                    "--also-grade \(name): expected one of "
                        + GradingProfile.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return g
        }
    }

    func run() throws {
        let catalog = BenchmarkCatalog(directory: URL(fileURLWithPath: data))
        let pass = try passAtK.map { text in
            try text.split(separator: ",").map { s in
                guard let k = Int(s.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--pass-at-k: '\(s)' is not an integer")
                }
                return k
            }
        }
        let adjust = { (settings: inout EvalSettings) in
            if let benchmarks {
                settings.benchmarks = benchmarks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            }
            if let limit { settings.limit = limit }
            if let samples { settings.samples = samples }
            if let temperature { settings.temperature = temperature }
            if let topP { settings.topP = topP }
            if let maxTokens { settings.maxTokens = maxTokens }
            if let seed { settings.seed = seed }
            if let grader, let g = GradingProfile(rawValue: grader) { settings.grader = g }
            if let reflectionWords { settings.reflectionWords = reflectionWords.split(separator: ",").map(String.init) }
            if let pass { settings.passAtK = pass }
            if let also = try? alsoGradeProfiles() { settings.alsoGrade = also }
        }
        let plan: EvalPlan
        var modelPath = model
        if let recipe {
            if prompt != nil { throw ValidationError("--prompt: a recipe brings its own (eval.prompt, else prompt)") }
            let loaded = try RecipeLoader.load(path: recipe, services: try cliHostServices())
            plan = try EvalPlan(recipe: loaded, catalog: catalog, adjust: adjust)
            if modelPath == nil && runDirectory == nil {
                let m = loaded.recipe.model
                let beside = URL(fileURLWithPath: recipe).deletingLastPathComponent().appendingPathComponent(m).path
                modelPath =
                    FileManager.default.fileExists(atPath: m) || !FileManager.default.fileExists(atPath: beside)
                    ? m : beside
            }
        } else {
            var settings = EvalSettings()
            if let prompt { settings.prompt = prompt }
            adjust(&settings)
            plan = try EvalPlan(catalog: catalog, settings: settings)
        }
        let printer = ProgressPrinter(terminal: isatty(2) == 1)
        var options = EvalOptions()
        options.threads = threads
        options.progress = { printer.update($0) }
        options.log = {
            printer.finish(); FileHandle.standardError.write(Data(($0 + "\n").utf8))
        }
        // Ctrl-C: stop after the current sampler call (graded items are saved); a second Ctrl-C exits at once.
        let stop = StopRequest()
        options.shouldStop = { stop.isSet }
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if stop.isSet { _exit(130) }
            FileHandle.standardError.write(
                Data("\ninterrupt: stopping after the current batch of items (Ctrl-C again to quit now)\n".utf8))
            stop.set()
        }
        source.resume()
        defer { printer.finish() }
        do {
            if let runDirectory {
                let result = try CheckpointSweep.run(URL(fileURLWithPath: runDirectory), plan: plan, options: options)
                printer.finish()
                print(json ? result.json() : result.table(), terminator: json ? "\n" : "")
                if !json {
                    print("sweep: \(URL(fileURLWithPath: runDirectory).appendingPathComponent("eval/sweep.json").path)")
                }
            } else if let modelPath {
                let summary = try Evaluator(model: URL(fileURLWithPath: modelPath), plan: plan, options: options)
                    .run(out: out.map { URL(fileURLWithPath: $0) })
                printer.finish()
                print(json ? summary.json() : summary.table(), terminator: json ? "\n" : "")
                if let out, !json { print("results: \(out)") }
            }
        } catch let e as EvaluationStopped {
            printer.finish()
            FileHandle.standardError.write(Data("\(e)\n".utf8))
            throw ExitCode(130)
        }
    }
}

/// A flag the SIGINT handler sets and the evaluator reads between sampler calls.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
