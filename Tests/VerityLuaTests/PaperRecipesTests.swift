// The paper's recipes (Scripts/recipes/paper/): every recipe in the folder loads, validates and
// dry-runs (with the test-double grader), opens with a comment naming the paper's experiment, and
// has the settings its experiment changes (data file, repetition, algorithm, loss mix at step 0,
// reward, prompt) while keeping the rest of pi1's (data/README.md section 4). A recipe added to the
// folder without an entry in `expected` fails, so the table below stays the list of paper runs.
import Foundation
import VerityLua
import XCTest

final class PaperRecipesTests: XCTestCase {
    static let folder = "Scripts/recipes/paper"
    static let paperMix = ["pg": 1.0, "entropy": -0.001, "kl": 0.001]

    /// What one recipe must hold.
    struct Expected {
        var name: String
        var data: String
        var repeatTo = 128
        var examples = 1
        /// `id` of the first training example (the one the dry run uses).
        var firstID = "pi1"
        var algorithm = Algorithm.grpo
        var lossMix = PaperRecipesTests.paperMix
        var weightDecay = 0.01
        /// Reward the dry run gives `\boxed{<first example's answer>}`.
        var dryRunReward = 1.0
        /// LoRA rank 16 on all projections with a bfloat16 frozen base, recompute, a 4096-token micro-batch budget and
        /// 10x pi1's learning rate (the pi1-lora recipe); nil: full fine-tuning with pi1's update and rate.
        var loraRank: Int? = nil
    }

    static let expected: [String: Expected] = [
        "pi1": Expected(name: "pi1-grpo", data: "data/train/pi1.jsonl"),
        "pi2": Expected(name: "pi2-grpo", data: "data/train/pi2.jsonl", firstID: "pi2"),
        "pi13": Expected(name: "pi13-grpo", data: "data/train/pi13.jsonl", firstID: "pi13"),
        "pi1209": Expected(name: "pi1209-grpo", data: "data/train/pi1209.jsonl", firstID: "pi1209"),
        "pi1_pi13": Expected(name: "pi1-pi13-grpo", data: "data/train/merge_pi1_pi13.jsonl", examples: 2),
        "pi1_pi2_pi13_pi1209": Expected(
            name: "pi1-pi2-pi13-pi1209-grpo", data: "data/train/merge_pi1_pi2_pi13_pi1209.jsonl",
            examples: 4),
        "dsr_sub": Expected(
            name: "dsr-sub-grpo", data: "data/train/dsr_sub.jsonl", repeatTo: 0, examples: 1209,
            firstID: "dsr_sub-0"),
        "ppo": Expected(name: "pi1-ppo", data: "data/train/pi1.jsonl", algorithm: .ppo),
        "pg_only": Expected(name: "pi1-pg-only", data: "data/train/pi1.jsonl", lossMix: ["pg": 1.0], weightDecay: 0),
        "entropy_only": Expected(name: "pi1-entropy-only", data: "data/train/pi1.jsonl", lossMix: ["entropy": -0.001]),
        "format_reward": Expected(name: "pi1-format-reward", data: "data/train/pi1.jsonl"),
        "wrong_label": Expected(name: "pi1-wrong-label", data: "data/train/pi1.jsonl", dryRunReward: 0),
        "simplified_prompt": Expected(name: "pi1-simplified-prompt", data: "data/train/pi1.jsonl"),
        "pi1-lora": Expected(name: "pi1-lora", data: "data/train/pi1.jsonl", loraRank: 16),
    ]

    func load(_ recipe: String, overrides: [String] = []) throws -> LoadedRecipe {
        try RecipeLoader.load(
            path: "\(Self.folder)/\(recipe).lua", overrides: overrides, services: testServices(),
            currentDirectory: repositoryRoot)
    }

    /// Recipe names in the folder (every .lua file but the shared module).
    func recipesInFolder() throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(
            atPath: repositoryRoot.appendingPathComponent(Self.folder).path)
        return files.filter { $0.hasSuffix(".lua") && $0 != "common.lua" }.map { String($0.dropLast(4)) }.sorted()
    }

    func testEveryPaperRecipeLoadsWithItsExperimentsSettings() throws {
        let names = try recipesInFolder()
        XCTAssertGreaterThanOrEqual(names.count, 12, "\(names)")
        XCTAssertEqual(
            Set(names), Set(Self.expected.keys),
            "every recipe in \(Self.folder) needs an entry in `expected`, and every entry a recipe")
        let pi1 = try load("pi1").recipe
        for name in names {
            guard let want = Self.expected[name] else { continue }
            let loaded: LoadedRecipe
            do { loaded = try load(name) } catch {
                XCTFail("\(name).lua does not load: \(error)")
                continue
            }
            let r = loaded.recipe
            let source = try String(
                contentsOf: repositoryRoot.appendingPathComponent("\(Self.folder)/\(name).lua"), encoding: .utf8)
            let header = source.components(separatedBy: "\n").prefix { $0.hasPrefix("--") }.joined(separator: "\n")
            XCTAssertTrue(
                header.contains("Wang et al., 2025"), "\(name).lua: the header comment must name the paper's experiment"
            )
            XCTAssertTrue(
                header.contains("scripts/train/"),
                "\(name).lua: the header comment must name the verl script it follows")
            XCTAssertEqual(r.name, want.name, name)
            XCTAssertFalse(r.description.isEmpty, name)
            XCTAssertEqual(r.train.data, want.data, name)
            XCTAssertEqual(r.train.repeatTo, want.repeatTo, name)
            XCTAssertEqual(loaded.trainExamples.count, want.examples, name)
            XCTAssertEqual(loaded.dryRun.example["id"]?.stringValue, want.firstID, name)
            XCTAssertEqual(r.algorithm, want.algorithm, name)
            XCTAssertEqual(loaded.dryRun.lossMix, want.lossMix, name)
            XCTAssertEqual(r.optimizer.weightDecay, want.weightDecay, name)
            XCTAssertEqual(loaded.dryRun.reward.reward, want.dryRunReward, name)
            // The rest is pi1's: the paper changes one thing per experiment.
            XCTAssertEqual(r.model, pi1.model, name)
            XCTAssertEqual(r.train.batchSize, 128, name)
            XCTAssertEqual(r.train.shuffle, true, name)
            XCTAssertEqual(r.rollout, pi1.rollout, name)
            let lr = want.loraRank == nil ? 1e-6 : 1e-5
            if let rank = want.loraRank {
                XCTAssertEqual(r.lora?.rank, rank, name)
                XCTAssertEqual(r.lora?.alpha, 2.0 * Double(rank), name)
                XCTAssertEqual(r.lora?.targets, Recipe.LoRA.knownTargets, name)
                XCTAssertEqual(r.reference.dtype, .bf16, name)
                var update = pi1.update
                (update.recompute, update.maxTokensPerMicroBatch) = (true, 4096)
                XCTAssertEqual(r.update, update, name)
            } else {
                XCTAssertNil(r.lora, name)
                XCTAssertEqual(r.reference.dtype, .f32, name)
                XCTAssertEqual(r.update, pi1.update, name)
            }
            XCTAssertEqual(r.advantage, pi1.advantage, name)
            XCTAssertEqual(r.kl, pi1.kl, name)
            XCTAssertEqual(r.optimizer.lr, lr, name)
            XCTAssertEqual(r.optimizer.maxGradNorm, 1.0, name)
            XCTAssertEqual(loaded.dryRun.schedules, ["lr": lr], name)
            XCTAssertEqual(r.steps, 2000, name)
            XCTAssertEqual(r.saveEvery, 20, name)
            XCTAssertEqual(r.seed, 0, name)
            XCTAssertEqual(r.eval.every, 20, name)
            XCTAssertEqual(r.eval.beforeTrain, true, name)
            XCTAssertEqual(r.eval.sets, ["data/eval/math500_verl.jsonl"], name)
            XCTAssertEqual(r.eval.temperature, 0, name)
            XCTAssertEqual(r.grader, "paper", name)
            if name != "simplified_prompt" {
                let prompt = try XCTUnwrap(loaded.dryRun.example["prompt"]?.stringValue)
                XCTAssertEqual(
                    loaded.dryRun.prompt,
                    "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                        + "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n", name)
            }
        }
    }

    func testFewShotFilesHoldTheirExamplesInOrder() throws {
        let ids = { (name: String) in try self.load(name).trainExamples.map { $0["id"]?.stringValue ?? "" } }
        XCTAssertEqual(try ids("pi1_pi13"), ["pi1", "pi13"])
        XCTAssertEqual(try ids("pi1_pi2_pi13_pi1209"), ["pi1", "pi2", "pi13", "pi1209"])
        let dsr = try load("dsr_sub")
        XCTAssertEqual(Set(dsr.trainExamples.compactMap { $0["id"]?.stringValue }).count, 1209)
        XCTAssertEqual(dsr.warnings.count, 1)  // line 266: the blank answer
    }

    func testAblationPluginsAreLive() throws {
        // Wrong label: graded against "4", not the data's 12.8.
        let wrong = try load("wrong_label")
        let table = wrong.state.makeTable(wrong.dryRun.example)
        let sample = { (response: String) in
            RewardSample(
                response: response, answer: "12.8", problem: "", prompt: "", example: table, finishReason: "stop",
                tokens: 1)
        }
        XCTAssertEqual(try wrong.recipe.reward(sample("so \\boxed{4}"), in: wrong.state).reward, 1.0)
        XCTAssertEqual(try wrong.recipe.reward(sample("so \\boxed{12.8}"), in: wrong.state).reward, 0.0)
        XCTAssertTrue(wrong.recipe.description.contains("wrong label 4"))
        // Format reward: any closed box scores, a missing one does not.
        let format = try load("format_reward")
        let formatTable = format.state.makeTable(format.dryRun.example)
        for (response, reward) in [("\\boxed{7}", 1.0), ("the answer is 12.8", 0.0)] {
            let s = RewardSample(
                response: response, answer: "12.8", problem: "", prompt: "", example: formatTable, finishReason: "stop",
                tokens: 1)
            XCTAssertEqual(try format.recipe.reward(s, in: format.state).reward, reward, response)
        }
        // Simplified prompt: trains on the simplified question, evaluates with the paper's prompt.
        let simplified = try load("simplified_prompt")
        XCTAssertEqual(
            simplified.dryRun.prompt,
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                + "<|im_start|>user\nCalculate $\\sqrt[3]{2048}$. Let's think step by step and output the final answer within \\boxed{}.<|im_end|>\n"
                + "<|im_start|>assistant\n")
        let pi1 = try load("pi1")
        XCTAssertEqual(simplified.dryRun.evalPrompt, pi1.dryRun.prompt)
        XCTAssertEqual(simplified.dryRun.response, "\\boxed{12.8}")  // still pi1's label
        // Entropy only: no KL term, so the trainer loads no reference model.
        XCTAssertNil(try load("entropy_only").dryRun.lossMix["kl"])
        // Overrides still apply on top of the shared settings.
        XCTAssertEqual(
            try load("pg_only", overrides: ["optimizer.weight_decay=0.01"]).recipe.optimizer.weightDecay, 0.01)
    }

    func testCommonMergesWithoutSharingStateAndNeedsADescription() throws {
        let tmp = try TempFolder()
        // From another folder the shared module is reached through the bundled Scripts/ (it then
        // finds pi1 there too); lists replace, tables merge, pi1's own table is not changed.
        try tmp.write(
            "one.lua",
            """
            -- a user's copy of a paper recipe (Wang et al., 2025)
            local paper = require "recipes.paper.common"
            local a = paper { description = "a", rollout = { n = 16 }, eval = { sets = { "data/train/pi2.jsonl" } } }
            local b = paper { description = "b" }
            assert(b.rollout.n == 8 and b.rollout.temperature == 0.6, "b shares a's tables")
            assert(a.rollout.temperature == 0.6 and a.rollout.max_tokens == 3072, "a lost pi1's other rollout settings")
            assert(#a.eval.sets == 1 and a.eval.every == 20, "lists replace whole, tables merge")
            assert(a.name == nil and a.train.data == "data/train/pi1.jsonl")
            return a
            """)
        let loaded = try RecipeLoader.load(
            path: tmp.url.appendingPathComponent("one.lua").path, services: testServices(),
            currentDirectory: repositoryRoot)
        XCTAssertEqual(loaded.recipe.name, "one")
        XCTAssertEqual(loaded.recipe.rollout.n, 16)
        XCTAssertEqual(loaded.recipe.eval.sets, ["data/train/pi2.jsonl"])
        try tmp.write("bad.lua", "local paper = require \"recipes.paper.common\"\nreturn paper { name = \"x\" }\n")
        let e = expectLuaError {
            try RecipeLoader.load(
                path: tmp.url.appendingPathComponent("bad.lua").path, services: testServices(),
                currentDirectory: repositoryRoot)
        }
        XCTAssertTrue(e?.description.contains("must give its own `description`") ?? false, "\(String(describing: e))")
    }
}
