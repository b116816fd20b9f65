// `verity eval --recipe`: a plan from a recipe's eval section (sets, samples, temperature, token limit,
// eval.prompt returning chat messages rendered by the recipe's chat_format, grader, seed), overrides
// applied on top, and an evaluation of the tiny model with it.
import XCTest
import VerityLua
@testable import VerityEval

final class RecipeEvalTests: XCTestCase {
    func testPlanFromARecipesEvalSection() throws {
        let dir = try Support.tempFolder(self)
        let aime = Support.repo.appendingPathComponent("data/eval/aime25.jsonl").path
        let train = Support.repo.appendingPathComponent("Scripts/recipes/demo/tiny_toy.jsonl").path
        let recipe = """
            local chat = require "lib.chat"
            return {
              model = \(luaQuote(Support.tinyModel.path)),
              train = { data = \(luaQuote(train)), repeat_to = 4, batch_size = 4, required_fields = { "prompt" } },
              eval = { sets = { \(luaQuote(aime)) }, samples = 2, temperature = 0.7, max_tokens = 5,
                       prompt = function(ex) return { { role = "user", content = ex.problem or ex.prompt } } end },
              prompt = require "prompts.raw",
              chat_format = chat.qwen25_math,
              reward = function(sample) return 0 end,
              grader = "math-verify",
              loss = function(step, terms) return { pg = 1.0 } end,
              steps = 2,
              seed = 7,
            }
            """
        let url = dir.appendingPathComponent("r.lua")
        try Data(recipe.utf8).write(to: url)
        let loaded = try RecipeLoader.load(path: url.path, services: .standard())
        let plan = try EvalPlan(recipe: loaded, catalog: Support.catalog) { $0.limit = 2 }
        XCTAssertEqual(plan.sets.map(\.name), ["aime25"])
        XCTAssertEqual(plan.sets[0].items.count, 2)
        XCTAssertEqual(
            plan.settings.protocolFor("aime25"), BenchmarkProtocol(samples: 2, temperature: 0.7, maxTokens: 5))
        XCTAssertEqual(plan.settings.grader, .mathVerify)
        XCTAssertEqual(plan.settings.seed, 7)
        let text = try plan.promptText(plan.sets[0].items[0], set: "aime25")
        XCTAssertTrue(text.hasPrefix("<|im_start|>system\nPlease reason step by step"), text)
        XCTAssertTrue(text.hasSuffix("<|im_end|>\n<|im_start|>assistant\n"), text)
        XCTAssertTrue(plan.promptName.hasSuffix("eval.prompt"), plan.promptName)

        let out = dir.appendingPathComponent("out")
        let summary = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(out: out)
        XCTAssertEqual(summary.result("aime25")?.samplesPerItem, 2)
        XCTAssertEqual(summary.result("aime25")?.metric, "avg@2")
        XCTAssertEqual(try Support.lines(out.appendingPathComponent("aime25/responses.jsonl")).count, 4)
        XCTAssertEqual(try EvalManifest.read(folder: out)?.grader, "math-verify")
    }
}
