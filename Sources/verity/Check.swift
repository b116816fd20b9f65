// `verity check RECIPE.lua`: loads a recipe in the sandbox, applies --set overrides, decodes and
// range-checks it, reads every training and evaluation line, dry-runs every plugin on the first
// training example (schedules and the loss mix through the trainer's checked calls), and prints the
// rendered prompt and the reward of the example's own answer. Exits non-zero with the typed error
// otherwise. Flag parsing and printing only; the work is `RecipeLoader` in VerityLua.
import ArgumentParser
import Foundation
import VerityLua
import VerityTraining

/// `verity check`: validate a recipe before training.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load, validate and dry-run a recipe on its first training example.")

    @Argument(help: "The recipe file (a Lua script returning a table).")
    var recipe: String

    @Option(
        name: .customLong("set"), help: "Override a recipe key before validation, e.g. --set rollout.n=16 (repeatable)."
    )
    var overrides: [String] = []

    @Flag(
        name: .customLong("allow-io"), help: "Open Lua's io and os libraries to scripts (recorded in the run folder).")
    var allowIO = false

    @Option(name: .customLong("lib"), help: "An extra folder `require` may load modules from (repeatable).")
    var libraries: [String] = []

    @Option(name: .customLong("run-dir"), help: "Write recipe.lua, scripts.sha256 and sandbox.json into this folder.")
    var runDir: String?

    @Option(name: .customLong("tokenizer"), help: "A folder with tokenizer files, for `verity.tokens` in scripts.")
    var tokenizer: String?

    @Flag(
        help:
            "Print the estimated peak memory by component and fail when it exceeds the memory available (or --memory-limit-gb)."
    )
    var memory = false

    @Option(name: .customLong("memory-limit-gb"), help: "With --memory: the limit in GiB (default: the memory available now).")
    var memoryLimitGB: Double?

    @Option(name: .customLong("lua-instructions"), help: "Instruction budget per Lua call (0 = unlimited).")
    var instructions: Int = LuaOptions().instructionBudget

    @Option(name: .customLong("lua-memory-mb"), help: "Memory cap of the Lua state in MiB (0 = unlimited).")
    var memoryMB: Int = LuaOptions().memoryLimit >> 20

    @Option(name: .customLong("lua-seconds"), help: "Wall-clock limit per Lua call in seconds (0 = unlimited).")
    var seconds: Double = LuaOptions().timeLimit

    func validate() throws {
        if let memoryLimitGB, !(memoryLimitGB > 0) || !memoryLimitGB.isFinite {
            throw ValidationError("--memory-limit-gb \(memoryLimitGB): expected a number of GiB above 0")
        }
        do {
            _ = try LuaOptions.fromFlags(instructions: instructions, memoryMB: memoryMB, seconds: seconds)
        } catch let error as LuaError {
            if case .state(let message) = error { throw ValidationError(message) }
            throw error
        }
    }

    func run() throws {
        do {
            let options = try LuaOptions.fromFlags(
                instructions: instructions, memoryMB: memoryMB, seconds: seconds,
                allowIO: allowIO, libraryRoots: libraries)
            let loaded = try RecipeLoader.load(
                path: recipe, overrides: overrides, options: options,
                services: try cliHostServices(tokenizerFolder: tokenizer),
                onPrompt: { prompt in
                    print("--- rendered prompt (first training example) ---")
                    print(prompt, terminator: prompt.hasSuffix("\n") ? "" : "\n")
                    print("--- end of prompt ---")
                })
            let r = loaded.recipe, dry = loaded.dryRun
            let metrics = dry.reward.metrics.keys.sorted().map { "\($0)=\(dry.reward.metrics[$0] ?? 0)" }.joined(
                separator: " ")
            print(
                "reward of the example's own answer \(dry.response): \(dry.reward.reward)"
                    + (metrics.isEmpty ? "" : "  [\(metrics)]"))
            print(
                "loss mix at step 0: "
                    + dry.lossMix.keys.sorted().map { "\($0)=\(dry.lossMix[$0] ?? 0)" }.joined(separator: " "))
            if !dry.schedules.isEmpty {
                print(
                    "schedules at step 0: "
                        + dry.schedules.keys.sorted().map { "\($0)=\(dry.schedules[$0] ?? 0)" }.joined(separator: " "))
            }
            print("learning rate at step 0: \(dry.learningRate) (schedules checked at every step)")
            if let evalPrompt = dry.evalPrompt { print("eval prompt: \(evalPrompt.utf8.count) bytes") }
            print(
                "training data: \(loaded.trainExamples.count) examples, each with \(r.train.requiredFields.joined(separator: ", "))"
            )
            for set in loaded.evalSets {
                print(
                    "eval set \(set.name): \(set.examples.count) examples, each with \(r.eval.requiredFields.joined(separator: ", "))"
                )
            }
            // Recipe strings are the script's: one line, no control characters.
            let safe = { (s: String) in neutralizeControlCharacters(s).replacingOccurrences(of: "\n", with: "\\n") }
            print(
                "recipe \(r.file): ok — \(safe(r.name)), \(r.algorithm.rawValue), \(r.steps) steps, model \(safe(r.model)), data \(safe(loaded.trainData.path))"
            )
            print("scripts loaded (sha256):")
            for s in loaded.state.loadedScripts { print("  \(s.sha256)  \(s.displayName)") }
            for w in loaded.warnings { print("warning: \(w)") }
            if allowIO { print("warning: io and os were opened to scripts (--allow-io)") }
            if memory {
                let plan = try MemoryPlan.forRecipe(loaded)
                print("memory plan (estimated peak of `verity train`, by component):")
                for line in plan.table { print(line) }
                let limit = memoryLimitGB.map { ($0 * 1_073_741_824, "given by --memory-limit-gb") }
                    ?? MemoryPlan.availableBytes().map { ($0, "available now (MemAvailable)") }
                if let limit {
                    let (bytes, source) = limit
                    do {
                        try plan.check(limit: bytes, source: source, recipe: r)
                        print("fits: \(MemoryPlan.gib(plan.totalBytes)) of the \(MemoryPlan.gib(bytes)) \(source)")
                    } catch let e as TrainingError {
                        FileHandle.standardError.write(Data("verity check: \(e)\n".utf8))
                        throw ExitCode(1)
                    }
                }
            }
            if let runDir {
                try RunRecord.write(loaded, to: URL(fileURLWithPath: runDir))
                print("wrote \(runDir)/recipe.lua, scripts.sha256, sandbox.json")
            }
        } catch let error as LuaError {
            FileHandle.standardError.write(Data("verity check: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// The verifier and tokenizer behind `verity.math.*` and `verity.tokens` for the CLI: the real
/// graders always, and the tokenizer of `tokenizerFolder` when one is named.
func cliHostServices(tokenizerFolder: String? = nil) throws -> HostServices {
    guard let tokenizerFolder else { return .standard() }
    return try .standard(modelFolder: URL(fileURLWithPath: tokenizerFolder))
}
