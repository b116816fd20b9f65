// The recipe schema at load time: errors point at the key's own line (pi1's rollout.temperature
// is not reported at eval.temperature's line), ranges and relations of every setting are checked
// (issue 13 item 6), `--set` values are read as the setting's type, and data lines must carry the
// fields the recipe needs (issue 13 item 7). Only `RecipeLoader.load` and error texts are used, so
// the same tests run against older loaders. Checked per-step calls are in RecipeCheckedCallTests.
import Foundation
import VerityLua
import VerityJSON
import XCTest

final class RecipeSchemaTests: XCTestCase {
    /// A small valid recipe; line 8 is free for the setting under test.
    static let template = """
        return {
          model = "m",
          train = { data = "data/one.jsonl" },
          prompt = require "prompts.raw",
          reward = require "rewards.boxed_equal",
          loss = require "losses.pg_only",
          steps = 3,
          LINE8
        }
        """

    let example = "{\"problem\": \"1+1?\", \"prompt\": \"1+1? Think.\", \"answer\": \"2\"}\n"

    /// Loads `body` as recipes/x.lua beside data/one.jsonl (`data` lines) and returns the error.
    func loadError(
        _ body: String, data: String? = nil, overrides: [String] = [], services: HostServices = testServices(),
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> LuaError? {
        let tmp = try TempFolder()
        try tmp.write("data/one.jsonl", data ?? example)
        try tmp.write("recipes/x.lua", body)
        return expectLuaError(
            {
                try RecipeLoader.load(
                    path: "recipes/x.lua", overrides: overrides, services: services, currentDirectory: tmp.url)
            }, file: file, line: line)
    }

    /// The template with line 8 set to `setting`.
    func with(_ setting: String) -> String { Self.template.replacingOccurrences(of: "LINE8", with: setting) }

    /// Asserts that `setting` on line 8 fails with a message containing every fragment, at `atLine`.
    func assertRejected(
        _ setting: String, _ fragments: [String], atLine: Int? = 8, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let e = try loadError(with(setting), file: file, line: line)
        for f in fragments {
            XCTAssertTrue(
                e?.description.contains(f) ?? false, "\(setting): \(String(describing: e?.description)) lacks \(f)",
                file: file, line: line)
        }
        XCTAssertEqual(e?.line, atLine, setting, file: file, line: line)
    }

    // MARK: - Lines

    func testPi1RolloutErrorIsReportedAtTheRolloutLine() throws {
        let source = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Scripts/recipes/paper/pi1.lua"), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let rolloutLine = try XCTUnwrap(lines.firstIndex { $0.contains("rollout = {") }) + 1
        let evalTemperatureLine = try XCTUnwrap(lines.firstIndex { $0.contains("temperature = 0,") }) + 1
        XCTAssertNotEqual(rolloutLine, evalTemperatureLine)
        let tmp = try TempFolder()
        for (from, to, line) in [
            ("temperature = 0.6", "temperature = \"hot\"", rolloutLine),
            ("temperature = 0,", "temperature = \"cold\",", evalTemperatureLine),
        ] {
            let url = try tmp.write("pi1.lua", source.replacingOccurrences(of: from, with: to))
            let e = expectLuaError {
                try RecipeLoader.load(path: url.path, services: testServices(), currentDirectory: repositoryRoot)
            }
            XCTAssertEqual(e?.line, line, "\(String(describing: e))")
            XCTAssertTrue(
                e?.description.contains("pi1.lua:\(line): expected a number") ?? false, "\(String(describing: e))")
        }
    }

    func testErrorsNameTheKeysOwnLine() throws {
        // Multi-line tables: the key's own line; a table built in a local: still found.
        let multi = with("rollout = {\n    n = 4,\n    temperature = \"hot\",\n  },")
        XCTAssertEqual(try loadError(multi)?.line, 10)
        let local = """
            local eval = { every = 0 } --[[ not the recipe's eval; neither is
            eval = { every = 1 } ]] local text = [==[ eval = { every = 2 } ]==]
            local r = {
              model = "m", train = { data = "data/one.jsonl" }, prompt = require "prompts.raw",
              reward = require "rewards.boxed_equal", loss = require "losses.pg_only", steps = 3,
              -- every = 5 in a comment, and "every = 6" in a string do not count
              eval = {
                every = -2,
              },
            }
            return r
            """
        XCTAssertEqual(try loadError(local)?.line, 8)
        // A missing key points at its table.
        let e = try loadError(
            Self.template.replacingOccurrences(of: "data = \"data/one.jsonl\"", with: "shuffle = true")
                .replacingOccurrences(of: "LINE8", with: ""))
        XCTAssertEqual(e?.description, "missing key `train.data` in recipes/x.lua:3: expected a string")
    }

    func testUnknownKeySuggestsTheSameKeyInOtherTables() throws {
        XCTAssertEqual(
            try loadError(with("temperature = 0.6,"))?.description,
            "unknown key `temperature` in recipes/x.lua:8; did you mean `eval.temperature` or `rollout.temperature`?")
        XCTAssertEqual(
            try loadError(with("rollout = { lr = 1e-6 },"))?.description,
            "unknown key `rollout.lr` in recipes/x.lua:8; did you mean `optimizer.lr` or `critic.lr`?")
        XCTAssertEqual(
            try loadError(with("rollout = { tempreature = 1 },"))?.description,
            "unknown key `rollout.tempreature` in recipes/x.lua:8; did you mean `rollout.temperature`?")
    }

    // MARK: - Ranges and relations

    func testRolloutRanges() throws {
        try assertRejected(
            "rollout = { n = 0 },",
            ["invalid value for `rollout.n` in recipes/x.lua:8: expected an integer from 1 to 4096, got 0"])
        try assertRejected("rollout = { n = -1 },", ["`rollout.n`", "got -1"])
        try assertRejected("rollout = { n = 1e12 },", ["`rollout.n`", "got 1000000000000"])
        try assertRejected(
            "rollout = { temperature = -1 },",
            ["`rollout.temperature`", "expected a number ≥ 0 (0 = greedy), got -1.0"])
        try assertRejected("rollout = { top_p = 0 },", ["`rollout.top_p`", "expected a number in (0, 1]"])
        try assertRejected("rollout = { top_p = 2 },", ["`rollout.top_p`", "got 2.0"])
        try assertRejected(
            "rollout = { top_k = -5 },", ["`rollout.top_k`", "expected an integer ≥ 0 (0 = off), got -5"])
        try assertRejected("rollout = { top_k = -1 },", ["`rollout.top_k`", "Verity writes \"off\" as 0"])
        try assertRejected("rollout = { max_tokens = 0 },", ["`rollout.max_tokens`", "got 0"])
        try assertRejected("eval = { temperature = -1 },", ["`eval.temperature`", "got -1.0"])
    }

    func testOptimizerAndUpdateRanges() throws {
        try assertRejected(
            "optimizer = { lr = -1 },",
            ["invalid value for `optimizer.lr` in recipes/x.lua:8: expected a number ≥ 0, got -1.0"])
        try assertRejected(
            "optimizer = { lr = 0/0 },",
            ["wrong type for `optimizer.lr` in recipes/x.lua:8: expected a finite number, got NaN"])
        try assertRejected(
            "rollout = { temperature = math.huge },",
            ["`rollout.temperature`", "expected a finite number, got the number inf"])
        try assertRejected("optimizer = { betas = { 0.9, 1.5 } },", ["`optimizer.betas`", "two numbers in [0, 1)"])
        try assertRejected(
            "optimizer = { betas = { 0.9 } },", ["wrong type for `optimizer.betas`", "a list of 2 numbers"])
        try assertRejected("update = { epochs = 0 },", ["`update.epochs`", "got 0"])
        try assertRejected(
            "update = { clip_ratio = -0.1 },", ["`update.clip_ratio`", "expected a number > 0, got -0.1"])
        try assertRejected(
            "update = { mini_batch_size = 48 },",
            [
                "invalid value for `update.mini_batch_size` in recipes/x.lua:8: expected a divisor of train.batch_size (128), got 48"
            ])
    }

    func testLoRATable() throws {
        try assertRejected("lora = { rank = 0 },", ["invalid value for `lora.rank`", "expected an integer ≥ 1, got 0"])
        try assertRejected("lora = { alpha = -1 },", ["`lora.alpha`", "got -1.0"])
        try assertRejected("lora = { dropout = 0.1 },", ["`lora.dropout`", "got 0.1"])
        try assertRejected("lora = { targets = {} },", ["`lora.targets`", "a non-empty list"])
        try assertRejected(
            "lora = { targets = { \"q\", \"qq\" } },", ["`lora.targets`", "got \"qq\"", "did you mean \"q\"?"])
        let tmp = try TempFolder()
        try tmp.write("data/one.jsonl", example)
        try tmp.write("recipes/x.lua", with("lora = { rank = 8, targets = { \"q_proj\", \"v\" } },"))
        let loaded = try RecipeLoader.load(path: "recipes/x.lua", services: testServices(), currentDirectory: tmp.url)
        XCTAssertEqual(loaded.recipe.lora?.rank, 8)
        XCTAssertEqual(loaded.recipe.lora?.alpha, 32)
        XCTAssertEqual(loaded.recipe.lora?.targets, ["q_proj", "v"])
        try tmp.write("recipes/x.lua", with(""))
        XCTAssertNil(try RecipeLoader.load(path: "recipes/x.lua", services: testServices(), currentDirectory: tmp.url).recipe.lora)
    }

    func testStepsBatchNameAndModel() throws {
        let steps = try loadError(
            Self.template.replacingOccurrences(of: "steps = 3", with: "steps = -1").replacingOccurrences(
                of: "LINE8", with: ""))
        XCTAssertEqual(
            steps?.description,
            "invalid value for `steps` in recipes/x.lua:7: expected an integer from 1 to 1000000000, got -1")
        let batch = try loadError(
            with("").replacingOccurrences(
                of: "data = \"data/one.jsonl\"", with: "data = \"data/one.jsonl\", batch_size = 0"))
        XCTAssertTrue(
            batch?.description.contains("invalid value for `train.batch_size` in recipes/x.lua:3") ?? false,
            "\(String(describing: batch))")
        try assertRejected(
            "name = \"\",", ["invalid value for `name` in recipes/x.lua:8: expected a non-empty name, got \"\""])
        let model = try loadError(with("").replacingOccurrences(of: "model = \"m\"", with: "model = \"\""))
        XCTAssertEqual(
            model?.description, "invalid value for `model` in recipes/x.lua:2: expected a non-empty path, got \"\"")
    }

    func testEvalSetsAndGrader() throws {
        try assertRejected(
            "eval = { sets = 1 },",
            ["wrong type for `eval.sets` in recipes/x.lua:8: expected a list of strings, got the number 1"])
        try assertRejected("eval = { every = 10 },", ["`eval.sets`", "at least one set"])
        try assertRejected(
            "grader = \"papr\",", ["invalid value for `grader` in recipes/x.lua:8", "did you mean \"paper\"?"])
        // A set that does not exist: named with the line of `eval.sets`.
        let absent = try loadError(with("eval = { sets = { \"data/none.jsonl\" } },"))
        XCTAssertEqual(absent?.line, 8)
        XCTAssertTrue(
            absent?.description.hasPrefix("`eval.sets[1]` in recipes/x.lua:8 names \"data/none.jsonl\"") ?? false,
            "\(String(describing: absent))")
        // From the command line, `eval.sets=1` is a list of one path, which must exist.
        let set = try loadError(with(""), overrides: ["eval.sets=1"])
        XCTAssertTrue(
            set?.description.contains("`eval.sets[1]` in recipes/x.lua names \"1\", which exists neither") ?? false,
            "\(String(describing: set))")
    }

    func testScheduleAndLossMixAreCheckedAtLoad() throws {
        let lr = try loadError(with("schedules = { lr = function(step, total) return 1e-6 * (1 - step) end },"))
        XCTAssertEqual(
            lr?.description,
            "contract error: schedules.lr in recipes/x.lua:8 returned the number -1e-06 at step 2 of 3, expected a number ≥ 0"
        )
        let mix = try loadError(
            with("").replacingOccurrences(of: "require \"losses.pg_only\"", with: "function(step, terms) return {} end")
        )
        XCTAssertEqual(
            mix?.description,
            "contract error: loss in recipes/x.lua:6 returned an empty table, expected at least one coefficient such as { pg = 1.0 }"
        )
    }

    // MARK: - Overrides

    func testOverridesAreReadAsTheSettingsType() throws {
        let hint = try loadError(with(""), overrides: ["rollout.top_k=-1"])
        XCTAssertEqual(
            hint?.description,
            "invalid value for `rollout.top_k` in recipes/x.lua (set by --set rollout.top_k): "
                + "expected an integer ≥ 0 (0 = off), got -1; Verity writes \"off\" as 0 (verl and vLLM write -1)")
        XCTAssertEqual(
            try loadError(with(""), overrides: ["rollout=3"])?.description,
            "--set rollout: a table cannot be given on the command line; edit the recipe instead")
        XCTAssertEqual(
            try loadError(with(""), overrides: ["reward=x"])?.description,
            "--set reward: a function cannot be given on the command line; edit the recipe instead")
    }

    // MARK: - Data lines

    func testDataLinesMustCarryTheRequiredFields() throws {
        let missing = try loadError(with(""), data: example + "\n{\"problem\": \"2+2?\", \"prompt\": \"2+2?\"}\n")
        XCTAssertEqual(
            missing?.description,
            "data/one.jsonl:3: the example has no field `answer`, which train.required_fields in recipes/x.lua requires"
        )
        let null = try loadError(with(""), data: "{\"prompt\": \"p\", \"answer\": null}\n")
        XCTAssertTrue(
            null?.description.hasPrefix("data/one.jsonl:1: the example has `answer` = null") ?? false,
            "\(String(describing: null))")
        let prompt = try loadError(
            with("").replacingOccurrences(
                of: "\"data/one.jsonl\"", with: "\"data/one.jsonl\", required_fields = { \"prompt\", \"answer\" }"),
            data: "{\"problem\": \"p\", \"answer\": \"2\"}\n")
        XCTAssertTrue(
            prompt?.description.hasPrefix("data/one.jsonl:1: the example has no field `prompt`") ?? false,
            "\(String(describing: prompt))")
        let json = try loadError(with(""), data: example + "{\"answer\": \n")
        XCTAssertEqual(json?.description, "data/one.jsonl:2: not valid JSON (unexpected end of file during JSON parse)")
        // Evaluation sets are read at load time too.
        let tmp = try TempFolder()
        try tmp.write("data/one.jsonl", example)
        try tmp.write("data/eval.jsonl", example + "{\"problem\": \"x\"}\n")
        try tmp.write("recipes/x.lua", with("eval = { sets = { \"data/eval.jsonl\" } },"))
        let eval = expectLuaError {
            try RecipeLoader.load(path: "recipes/x.lua", services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(
            eval?.description,
            "data/eval.jsonl:2: the example has no field `answer`, which eval.required_fields in recipes/x.lua requires"
        )
    }

    func testEmptyGoldScoresZeroInThePaperReward() throws {
        // A blank answer is kept (DSR-sub line 266 has one; the warning is checked in
        // RecipeCheckedCallTests); with the real graders the paper reward of "\boxed{}" against it is 0, not 1.
        let tmp = try TempFolder()
        try tmp.write("data/one.jsonl", "{\"prompt\": \"1+1? Think.\", \"answer\": \" \"}\n")
        try tmp.write("recipes/x.lua", with(""))
        let blank = try RecipeLoader.load(path: "recipes/x.lua", services: .standard(), currentDirectory: tmp.url)
        XCTAssertEqual(blank.dryRun.response, "\\boxed{ }")
        XCTAssertEqual(blank.dryRun.reward.reward, 0.0)
        // A recipe that asks for no fields lets a line without `answer` through: the same.
        try tmp.write("data/one.jsonl", "{\"prompt\": \"1+1? Think.\"}\n")
        try tmp.write(
            "recipes/x.lua",
            with("").replacingOccurrences(of: "\"data/one.jsonl\"", with: "\"data/one.jsonl\", required_fields = {}"))
        let loaded = try RecipeLoader.load(path: "recipes/x.lua", services: .standard(), currentDirectory: tmp.url)
        XCTAssertEqual(loaded.dryRun.response, "\\boxed{}")
        XCTAssertEqual(loaded.dryRun.reward.reward, 0.0)
        for profile in ["paper", "qwen-eval", "math-verify", "verity"] {
            let r = try runLua(
                "return (verity.math.grade('\\\\boxed{}', '', '\(profile)')), verity.math.equal('', '', '\(profile)'), "
                    + "(verity.math.grade('\\\\boxed{ }', ' ', '\(profile)'))", services: .standard())
            XCTAssertEqual(r, [.boolean(false), .boolean(false), .boolean(false)], profile)
        }
    }
}

/// The one JSONL reader: line numbers, CRLF, a byte-order mark, blank lines, and where a bad line breaks.
final class JSONLinesReaderTests: XCTestCase {
    func testLinesCRLFAndErrors() throws {
        let lines = try JSONLines.parse(Data("\u{FEFF}{\"a\": 1}\r\n\r\n  \n[2]\r\n".utf8), file: "f.jsonl")
        XCTAssertEqual(lines.map(\.number), [1, 4])
        XCTAssertEqual(lines.map(\.value), [.object(["a": .integer(1)]), .array([.integer(2)])])
        XCTAssertThrowsError(try JSONLines.parse(Data("{\"a\": 1}\n{\"a\": x}\n".utf8), file: "f.jsonl")) { e in
            XCTAssertEqual("\(e)", "f.jsonl:2: not valid JSON (column 7: invalid value)")
        }
        XCTAssertThrowsError(try JSONLines.read(URL(fileURLWithPath: "/nonexistent/x.jsonl"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("/nonexistent/x.jsonl: "), "\(e)")
        }
    }
}
