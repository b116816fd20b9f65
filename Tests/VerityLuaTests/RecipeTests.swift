// Recipes: the paper's pi1 recipe loads, validates and dry-runs (with a test-double grader) into
// the settings of data/README.md section 4; unknown keys get the nearest valid name and the line;
// wrong types name expected and got; --set applies before validation; the run folder records the
// resolved recipe, the SHA-256 of every loaded script and whether io/os were opened.
import Foundation
import VerityLua
import XCTest

final class RecipeTests: XCTestCase {
    func loadPi1(_ overrides: [String] = [], options: LuaOptions = LuaOptions()) throws -> LoadedRecipe {
        try RecipeLoader.load(
            path: "Scripts/recipes/paper/pi1.lua", overrides: overrides, options: options,
            services: testServices(), currentDirectory: repositoryRoot)
    }

    func testPaperRecipeMatchesDataReadme() throws {
        let loaded = try loadPi1()
        let r = loaded.recipe
        XCTAssertEqual(r.model, "models/Qwen2.5-Math-1.5B")
        var train = Recipe.Train(data: "data/train/pi1.jsonl")
        (train.repeatTo, train.batchSize, train.shuffle, train.requiredFields) = (128, 128, true, ["prompt", "answer"])
        XCTAssertEqual(r.train, train)
        XCTAssertEqual(r.algorithm, .grpo)
        var rollout = Recipe.Rollout()
        (rollout.n, rollout.temperature, rollout.topP, rollout.topK, rollout.maxTokens, rollout.maxPromptTokens) = (
            8, 0.6, 1, 0, 3072, 1024
        )
        XCTAssertEqual(r.rollout, rollout)
        var optimizer = Recipe.Optimizer()
        (optimizer.lr, optimizer.betas, optimizer.eps, optimizer.weightDecay, optimizer.maxGradNorm) = (
            1e-6, (0.9, 0.999), 1e-8, 0.01, 1.0
        )
        XCTAssertEqual(r.optimizer, optimizer)
        var update = Recipe.Update()
        (update.clipRatio, update.epochs, update.miniBatchSize) = (0.2, 1, 128)
        XCTAssertEqual(r.update, update)
        XCTAssertEqual(r.kl.estimator, .lowVarKL)
        XCTAssertEqual(r.steps, 2000)
        XCTAssertEqual(r.eval.every, 20)
        XCTAssertEqual(r.eval.temperature, 0)
        var advantage = Recipe.Advantage()
        (advantage.epsilon, advantage.normalizeStd) = (1e-6, true)
        XCTAssertEqual(r.advantage, advantage)
        XCTAssertEqual(loaded.trainExamples.count, 1)
        XCTAssertEqual(loaded.evalSets.map(\.examples.count), [500])
        // Dry run on pi1: the prompt is the `prompt` field as one user message in Qwen2.5-Math ChatML
        // (data/README.md sections 1 and 4), and the example's own answer scores 1.
        let prompt = try XCTUnwrap(loaded.dryRun.example["prompt"]?.stringValue)
        XCTAssertTrue(prompt.hasSuffix(" Let's think step by step and output the final answer within \\boxed{}."))
        XCTAssertEqual(
            loaded.dryRun.prompt,
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\n"
                + prompt + "<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(loaded.dryRun.response, "\\boxed{12.8}")
        XCTAssertEqual(loaded.dryRun.reward.reward, 1.0)
        XCTAssertEqual(loaded.dryRun.lossMix, ["pg": 1.0, "entropy": -0.001, "kl": 0.001])
        XCTAssertEqual(loaded.dryRun.schedules, ["lr": 1e-6])
        // The reward plugin is live: a wrong answer scores 0.
        let table = loaded.state.makeTable(loaded.dryRun.example)
        let wrong = RewardSample(
            response: "\\boxed{8\\sqrt[3]{4}}", answer: "12.8", problem: "", prompt: "", example: table,
            finishReason: "stop", tokens: 5)
        XCTAssertEqual(try r.reward(wrong, in: loaded.state).reward, 0.0)
    }

    func testOverridesApplyBeforeValidation() throws {
        let loaded = try loadPi1([
            "rollout.n=16", "rollout.temperature=1", "name=123",
            "eval.sets=data/eval/aime25.jsonl, data/eval/amc23.jsonl", "eval.required_fields=answer",
        ])
        let r = loaded.recipe
        XCTAssertEqual(r.rollout.n, 16)
        XCTAssertEqual(r.rollout.temperature, 1.0)
        XCTAssertEqual(r.name, "123")  // read as the string the setting is, not as a number
        XCTAssertEqual(r.eval.sets, ["data/eval/aime25.jsonl", "data/eval/amc23.jsonl"])
        XCTAssertEqual(r.eval.requiredFields, ["answer"])
        XCTAssertEqual(loaded.evalSets.map(\.examples.count), [30, 40])
        let typo = expectLuaError { try loadPi1(["rollout.temprature=0.7"]) }
        XCTAssertEqual(
            typo?.description,
            "unknown key `rollout.temprature` in Scripts/recipes/paper/pi1.lua (set by --set rollout.temprature); did you mean `rollout.temperature`?"
        )
        let type = expectLuaError { try loadPi1(["rollout.n=sixteen"]) }
        XCTAssertTrue(type?.description.contains("wrong type for `rollout.n`") ?? false)
        XCTAssertTrue(
            type?.description.contains("expected an integer, got a string (\"sixteen\")") ?? false,
            "\(String(describing: type))")
        XCTAssertNotNil(expectLuaError { try loadPi1(["no-equals-sign"]) })
    }

    func recipe(_ body: String, in tmp: TempFolder) throws -> String {
        try tmp.write("data/one.jsonl", "{\"problem\": \"1+1?\", \"prompt\": \"1+1? Think.\", \"answer\": \"2\"}\n")
        try tmp.write("recipes/x.lua", body)
        return "recipes/x.lua"
    }

    let minimal = """
        return {
          model = "m",
          train = { data = "data/one.jsonl" },
          prompt = require "prompts.raw",
          reward = require "rewards.boxed_equal",
          loss = require "losses.pg_only",
          steps = 3,
          rollout = { n = 4, temprature = 0.7 },
        }
        """

    func testUnknownKeyNamesNearestAndLine() throws {
        let tmp = try TempFolder()
        let path = try recipe(minimal, in: tmp)
        let e = expectLuaError {
            try RecipeLoader.load(path: path, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(
            e?.description, "unknown key `rollout.temprature` in recipes/x.lua:8; did you mean `rollout.temperature`?")
        XCTAssertEqual(e?.line, 8)
    }

    func testWrongTypeAndMissingAndChoice() throws {
        let tmp = try TempFolder()
        let fixed = minimal.replacingOccurrences(of: "temprature", with: "temperature")
        let wrong = try recipe(fixed.replacingOccurrences(of: "steps = 3", with: "steps = \"many\""), in: tmp)
        let e1 = expectLuaError {
            try RecipeLoader.load(path: wrong, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(
            e1?.description, "wrong type for `steps` in recipes/x.lua:7: expected an integer, got a string (\"many\")")
        let missing = try recipe(
            fixed.replacingOccurrences(of: "  reward = require \"rewards.boxed_equal\",\n", with: ""), in: tmp)
        let e2 = expectLuaError {
            try RecipeLoader.load(path: missing, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(e2?.description, "missing key `reward` in recipes/x.lua:1: expected a function")
        let choice = try recipe(
            fixed.replacingOccurrences(of: "steps = 3,", with: "steps = 3, algorithm = \"gpro\","), in: tmp)
        let e3 = expectLuaError {
            try RecipeLoader.load(path: choice, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertTrue(e3?.description.contains("did you mean \"grpo\"?") ?? false, "\(String(describing: e3))")
        let notTable = try recipe("return 42", in: tmp)
        let e4 = expectLuaError {
            try RecipeLoader.load(path: notTable, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(e4?.description, "recipe recipes/x.lua returned the number 42, expected a table")
    }

    func testDryRunCatchesBrokenPluginAtLoad() throws {
        let tmp = try TempFolder()
        let fixed = minimal.replacingOccurrences(of: "temprature", with: "temperature")
        let broken = try recipe(
            fixed.replacingOccurrences(of: "require \"rewards.boxed_equal\"", with: "function(s) return nil end"),
            in: tmp)
        let e = expectLuaError {
            try RecipeLoader.load(path: broken, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertEqual(e?.description, "contract error: reward in recipes/x.lua:5 returned nil, expected a number")
        let messages = try recipe(
            fixed.replacingOccurrences(of: "require \"prompts.raw\"", with: "require \"prompts.paper\""), in: tmp)
        let e2 = expectLuaError {
            try RecipeLoader.load(path: messages, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertTrue(
            e2?.description.contains("returned chat messages, but the recipe names no chat_format") ?? false,
            "\(String(describing: e2))")
        let data = try recipe(fixed.replacingOccurrences(of: "data/one.jsonl", with: "data/none.jsonl"), in: tmp)
        let e3 = expectLuaError {
            try RecipeLoader.load(path: data, services: testServices(), currentDirectory: tmp.url)
        }
        XCTAssertTrue(
            e3?.description.contains("`train.data` in recipes/x.lua:3 names \"data/none.jsonl\", which exists neither")
                ?? false)
    }

    func testFixedLabelAndFormatRewards() throws {
        let tmp = try TempFolder()
        let fixed = minimal.replacingOccurrences(of: "temprature", with: "temperature")
        let path = try recipe(
            fixed.replacingOccurrences(
                of: "require \"rewards.boxed_equal\"", with: "require(\"rewards.fixed_label\")(\"3\")"), in: tmp)
        let loaded = try RecipeLoader.load(path: path, services: testServices(), currentDirectory: tmp.url)
        XCTAssertEqual(loaded.dryRun.reward.reward, 0.0)  // own answer 2, fixed label 3
        let table = loaded.state.makeTable(loaded.dryRun.example)
        let three = RewardSample(
            response: "so \\boxed{3}", answer: "2", problem: "", prompt: "", example: table, finishReason: "stop",
            tokens: 1)
        XCTAssertEqual(try loaded.recipe.reward(three, in: loaded.state).reward, 1.0)
        let formatPath = try recipe(
            fixed.replacingOccurrences(of: "require \"rewards.boxed_equal\"", with: "require \"rewards.format\""),
            in: tmp)
        let format = try RecipeLoader.load(path: formatPath, services: testServices(), currentDirectory: tmp.url)
        let formatTable = format.state.makeTable(format.dryRun.example)
        for (response, expected) in [
            ("\\boxed{anything {nested}}", 1.0), ("\\boxed{open", 0.0), ("no box", 0.0), ("\\boxed 5", 0.0),
        ] {
            let s = RewardSample(
                response: response, answer: "2", problem: "", prompt: "", example: formatTable, finishReason: "stop",
                tokens: 1)
            XCTAssertEqual(try format.recipe.reward(s, in: format.state).reward, expected, response)
        }
    }

    func testRunFolderRecordsRecipeHashesAndSandbox() throws {
        let tmp = try TempFolder()
        let loaded = try loadPi1(["rollout.n=16"], options: LuaOptions(allowIO: true))
        let run = tmp.url.appendingPathComponent("runs/pi1")
        try RunRecord.write(loaded, to: run)
        let recipeText = try String(contentsOf: run.appendingPathComponent("recipe.lua"), encoding: .utf8)
        XCTAssertTrue(recipeText.contains("n = 16,"), recipeText)
        XCTAssertTrue(recipeText.contains("WARNING: this run opened the io and os libraries"), recipeText)
        XCTAssertTrue(recipeText.contains("<function Scripts/rewards/boxed_equal.lua:5>"), recipeText)
        // The resolved recipe is itself a valid Lua table.
        let state = try LuaState()
        guard case .table(let t) = try state.call(try state.load(source: recipeText, name: "recipe.lua")).first ?? .nil
        else {
            return XCTFail("recipe.lua does not return a table")
        }
        XCTAssertEqual(t.fields["steps"], .integer(2000))
        let sandbox = try String(contentsOf: run.appendingPathComponent("sandbox.json"), encoding: .utf8)
        let json = try JSONSerialization.jsonObject(with: Data(sandbox.utf8)) as? [String: Any]
        XCTAssertEqual(json?["allow_io"] as? Bool, true)
        // scripts.sha256 lists every loaded script with the SHA-256 of its bytes.
        let lines = try String(contentsOf: run.appendingPathComponent("scripts.sha256"), encoding: .utf8).split(
            separator: "\n")
        let names = lines.map {
            String($0.split(separator: " ", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces)
        }
        XCTAssertEqual(
            Set(names),
            [
                "Scripts/recipes/paper/pi1.lua", "Scripts/lib/chat.lua", "Scripts/schedules/constant.lua",
                "Scripts/prompts/paper.lua", "Scripts/rewards/boxed_equal.lua", "Scripts/losses/paper.lua",
            ])
        // coreutils' sha256sum is the reference digest.
        for (line, script) in zip(lines, loaded.state.loadedScripts) {
            XCTAssertEqual(String(line.prefix(64)), try sha256sum(script.url), script.displayName)
        }
        let recipeDigest = try sha256sum(repositoryRoot.appendingPathComponent("Scripts/recipes/paper/pi1.lua"))
        XCTAssertTrue(lines.contains { $0.hasPrefix(recipeDigest) && $0.hasSuffix("Scripts/recipes/paper/pi1.lua") })
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent(".recipe.lua.tmp").path))
    }
}
