// Loading a recipe end to end: run the recipe file in a fresh sandboxed state (its folder first on
// the `require` path), apply `--set` overrides, decode and check it, seed, read every line of the
// training and evaluation data (each must carry the recipe's required fields), and dry-run every
// plugin on the first training example (schedules at every step) so that a broken contract fails
// at load time, not at step 500.
// Also writes the run folder's record of what was loaded (resolved recipe, script hashes, sandbox
// settings). Not here: training (the trainer consumes `LoadedRecipe`).
import Foundation
import VerityCore

// MARK: - Loaded recipe

/// What the dry run produced on the first training example.
public struct DryRun {
    /// The first training example.
    public var example: JSONValue
    /// The rendered training prompt.
    public var prompt: String
    /// The rendered evaluation prompt, when the recipe names `eval.prompt`.
    public var evalPrompt: String?
    /// The response used for the reward check (`\boxed{answer}`).
    public var response: String
    /// The reward of that response.
    public var reward: RewardResult
    /// Loss-mix coefficients at step 0 (all terms measured as 0).
    public var lossMix: [String: Double]
    /// Each schedule at step 0.
    public var schedules: [String: Double]
    /// The learning rate at step 0 (checked at every step by the dry run).
    public var learningRate: Double
}

/// One evaluation set as loaded: where it is and its examples.
public struct EvalSet {
    /// The path as the recipe names it.
    public var name: String
    /// The file as found on disk.
    public var url: URL
    /// Every example, each carrying `eval.required_fields`.
    public var examples: [JSONValue]
}

/// A recipe loaded, validated and dry-run, with the state its plugins live in.
public struct LoadedRecipe {
    /// The state (use it from the thread that loaded it).
    public var state: LuaState
    /// The typed recipe.
    public var recipe: Recipe
    /// The training data file as found on disk.
    public var trainData: URL
    /// Every training example, each carrying `train.required_fields`.
    public var trainExamples: [JSONValue]
    /// The evaluation sets, in the recipe's order.
    public var evalSets: [EvalSet]
    /// Things the load noticed but accepted (blank required fields, by file and line).
    public var warnings: [String]
    /// Results of the load-time dry run.
    public var dryRun: DryRun
}

// MARK: - Loading

/// Loads recipes (see the file comment).
public enum RecipeLoader {
    /// Loads, validates and dry-runs the recipe at `path` (as the user wrote it, relative to the
    /// current directory or absolute). `overrides` are `key.path=value` strings. `onPrompt`
    /// receives the rendered training prompt as soon as the dry run has it (before the reward runs).
    public static func load(
        path: String, overrides: [String] = [], options: LuaOptions = LuaOptions(),
        services: HostServices = HostServices(),
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        onPrompt: ((String) -> Void)? = nil
    ) throws -> LoadedRecipe {
        let url = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : currentDirectory.appendingPathComponent(path))
            .standardizedFileURL
        let folderDisplay = (path as NSString).deletingLastPathComponent
        let root = ScriptRoot(url: url.deletingLastPathComponent(), display: folderDisplay)
        let state = try LuaState(options: options, services: services, recipeRoot: root)
        let source: String
        do { source = try String(contentsOf: url, encoding: .utf8) } catch {
            throw LuaError.file(path: path, message: "cannot read the recipe: \(error.localizedDescription)")
        }
        let value = try state.run(file: url, displayName: path)
        guard case .table(let table) = value else {
            throw LuaError.recipe(
                file: path, line: nil, message: "recipe \(path) returned \(describe(value)), expected a table")
        }
        let (overridden, raw) = try applyOverrides(overrides, to: table, file: path)
        let name = url.deletingPathExtension().lastPathComponent
        let recipe = try Recipe.decode(from: overridden, file: path, source: source, overrides: raw, defaultName: name)
        state.graderProfile = recipe.grader
        try state.seed(UInt64(bitPattern: Int64(recipe.seed)))
        let folder = url.deletingLastPathComponent()
        // Where the data keys are written, for messages (nil when --set gave them).
        let keyLines = RecipeKeyLines(source: source)
        let lineOf = { (keys: [String]) -> Int? in
            raw[keys.joined(separator: ".")] == nil ? keyLines.line(of: keys) : nil
        }
        let data = try resolveData(
            recipe.train.data, key: "train.data", recipe: recipe, recipeFolder: folder,
            currentDirectory: currentDirectory, line: lineOf(["train", "data"]))
        var warnings: [String] = []
        let blank = { (display: String) in
            { (line: Int, field: String) in
                warnings.append(
                    "\(display):\(line): `\(field)` is blank (kept\(field == "answer" ? "; a blank gold answer matches no response" : ""))"
                )
            }
        }
        let examples = try readExamples(
            data, display: recipe.train.data,
            requiredFields: recipe.train.requiredFields
                + (recipe.algorithm == .sft && !recipe.train.requiredFields.contains(recipe.sft.responseField)
                    ? [recipe.sft.responseField] : []),
            key: recipe.algorithm == .sft ? "train.required_fields or sft.response_field" : "train.required_fields",
            recipeFile: path, onBlank: blank(recipe.train.data))
        var evalSets: [EvalSet] = []
        for (i, set) in recipe.eval.sets.enumerated() {
            let setURL = try resolveData(
                set, key: "eval.sets[\(i + 1)]", recipe: recipe, recipeFolder: folder,
                currentDirectory: currentDirectory, line: lineOf(["eval", "sets"]))
            evalSets.append(
                EvalSet(
                    name: set, url: setURL,
                    examples: try readExamples(
                        setURL, display: set, requiredFields: recipe.eval.requiredFields, key: "eval.required_fields",
                        recipeFile: path,
                        onBlank: blank(set))))
        }
        let dry = try dryRun(recipe, example: examples[0], state: state, onPrompt: onPrompt)
        return LoadedRecipe(
            state: state, recipe: recipe, trainData: data, trainExamples: examples, evalSets: evalSets,
            warnings: warnings, dryRun: dry)
    }

    /// Finds a data file named in a recipe: relative to the current directory, then to the recipe's
    /// folder. `line` is where the recipe names it, for the message.
    public static func resolveData(
        _ path: String, key: String, recipe: Recipe, recipeFolder: URL,
        currentDirectory: URL, line: Int? = nil
    ) throws -> URL {
        let candidates =
            path.hasPrefix("/")
            ? [URL(fileURLWithPath: path)]
            : [currentDirectory.appendingPathComponent(path), recipeFolder.appendingPathComponent(path)]
        for c in candidates where FileManager.default.fileExists(atPath: c.path) { return c.standardizedFileURL }
        throw LuaError.recipe(
            file: recipe.file, line: line,
            message:
                "`\(key)` in \(recipe.file)\(line.map { ":\($0)" } ?? "") names \(luaQuote(path)), which exists neither under the current directory nor beside the recipe"
        )
    }

    /// The first non-empty line of a JSONL file, which must be a JSON object.
    public static func firstExample(_ url: URL, display: String) throws -> JSONValue {
        try readExamples(url, display: display, requiredFields: [], key: "", recipeFile: "", limit: 1)[0]
    }

    /// Every non-empty line of a JSONL file, each a JSON object carrying `requiredFields` (present
    /// and not null); errors name the file and line. `key` and `recipeFile` say which recipe
    /// setting asks for the fields. A required field that is a blank string is kept and reported
    /// to `onBlank` (line, field): the paper's DSR-sub has one example with an empty answer, and
    /// the graders match an empty gold answer with nothing. At least one example, at most `limit`.
    public static func readExamples(
        _ url: URL, display: String, requiredFields: [String], key: String, recipeFile: String,
        limit: Int = Int.max, onBlank: ((Int, String) -> Void)? = nil
    ) throws -> [JSONValue] {
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.read(url) } catch let e as JSONLinesError {
            throw LuaError.file(path: e.line.map { "\(display):\($0)" } ?? display, message: e.detail)
        }
        var out: [JSONValue] = []
        for line in lines {
            let lineNumber = line.number, value = line.value
            guard case .object(let fields) = value else {
                throw LuaError.file(path: "\(display):\(lineNumber)", message: "expected a JSON object per line")
            }
            for field in requiredFields {
                let why: String
                switch fields[field] {
                case nil: why = "has no field `\(field)`"
                case .null?: why = "has `\(field)` = null"
                case .string(let s)? where s.allSatisfy(\.isWhitespace):
                    onBlank?(lineNumber, field)
                    continue
                default: continue
                }
                throw LuaError.file(
                    path: "\(display):\(lineNumber)",
                    message:
                        "the example \(why), which \(key) in \(recipeFile) requires")
            }
            out.append(value)
            if out.count >= limit { break }
        }
        guard !out.isEmpty else { throw LuaError.file(path: display, message: "no examples (the file is empty)") }
        return out
    }

    /// Renders the training prompt for an example: the prompt plugin, then the chat format if it returned messages.
    public static func renderPrompt(
        _ plugin: PromptPlugin, chatFormat: ChatFormatPlugin?, example: LuaTableRef,
        state: LuaState
    ) throws -> String {
        switch try plugin(example, in: state) {
        case .text(let text):
            return text
        case .messages(let messages):
            guard let chatFormat else {
                throw LuaError.contract(
                    plugin: plugin.kind, location: plugin.function.location,
                    message:
                        "\(plugin.kind) in \(plugin.function.location) returned chat messages, but the recipe names no chat_format to render them"
                )
            }
            return try chatFormat(messages, addGenerationPrompt: true, in: state)
        }
    }

    /// Calls every plugin once on the first example and checks each contract.
    static func dryRun(_ recipe: Recipe, example: JSONValue, state: LuaState, onPrompt: ((String) -> Void)?) throws
        -> DryRun
    {
        let table = state.makeTable(example)
        let prompt = try renderPrompt(recipe.prompt, chatFormat: recipe.chatFormat, example: table, state: state)
        onPrompt?(prompt)
        let evalPrompt = try recipe.eval.prompt.map {
            try renderPrompt($0, chatFormat: recipe.chatFormat, example: table, state: state)
        }
        let answer = example["answer"]?.text ?? ""
        let response = "\\boxed{\(answer)}"
        let sample = RewardSample(
            response: response, answer: answer, problem: example["problem"]?.text ?? "",
            prompt: prompt, example: table, finishReason: "stop", tokens: 0)
        let reward = try recipe.reward(sample, in: state)
        let terms = Dictionary(uniqueKeysWithValues: knownLossTerms.map { ($0, 0.0) })
        let mix = try recipe.lossMix(step: 0, terms: terms, in: state)
        _ = try recipe.lossMix(step: recipe.steps, terms: terms, in: state)
        // Schedules are cheap: check each at every step (evenly spaced steps past 10,000, and the last).
        let stride = max(1, recipe.steps / 10_000)
        let checkedSteps = Array(Swift.stride(from: 0, to: recipe.steps, by: stride)) + [recipe.steps]
        var schedules: [String: Double] = [:]
        for name in recipe.schedules.keys.sorted() {
            for step in checkedSteps {
                let v = try recipe.schedule(name, step: step, in: state)
                if step == 0 { schedules[name] = v }
            }
        }
        let learningRate = try recipe.learningRate(step: 0, in: state)
        return DryRun(
            example: example, prompt: prompt, evalPrompt: evalPrompt, response: response, reward: reward,
            lossMix: mix, schedules: schedules, learningRate: learningRate)
    }
}

// MARK: - Run folder

/// Writes what a run loaded into its folder: `recipe.lua` (the resolved table), `scripts.sha256`
/// (`sha256sum -c` format, paths relative to the repository / recipe) and `sandbox.json`.
public enum RunRecord {
    /// Writes the three files into `folder` (created if needed); each is written to a temporary
    /// file and renamed into place.
    public static func write(_ loaded: LoadedRecipe, to folder: URL) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw LuaError.file(
                path: folder.path, message: "cannot create the run folder: \(error.localizedDescription)")
        }
        let state = loaded.state, options = state.options
        var header =
            "-- Resolved recipe written by verity from \(loaded.recipe.file): overrides applied, defaults filled.\n"
        header += "-- Functions are shown by where they are defined; their files' hashes are in scripts.sha256.\n"
        if options.allowIO { header += "-- WARNING: this run opened the io and os libraries (--allow-io).\n" }
        let recipeText = header + "return " + LuaValue.table(loaded.recipe.resolved).luaLiteral(indent: "") + "\n"
        let hashes = state.loadedScripts.map { "\($0.sha256)  \($0.displayName)\n" }.joined()
        let roots = state.roots.map { jsonStringLiteral($0.display) }.joined(separator: ", ")
        let sandbox = """
            {"allow_io": \(options.allowIO), "instruction_budget": \(options.instructionBudget), \
            "memory_limit_bytes": \(options.memoryLimit), "require_roots": [\(roots)]}

            """
        try writeAtomically(recipeText, to: folder.appendingPathComponent("recipe.lua"))
        try writeAtomically(hashes, to: folder.appendingPathComponent("scripts.sha256"))
        try writeAtomically(sandbox, to: folder.appendingPathComponent("sandbox.json"))
    }

    static func writeAtomically(_ text: String, to url: URL) throws {
        do { try AtomicFile.write(Data(text.utf8), to: url) } catch let e as FileWriteError {
            throw LuaError.file(path: e.file, message: "cannot write: \(e.detail)")
        }
    }
}
