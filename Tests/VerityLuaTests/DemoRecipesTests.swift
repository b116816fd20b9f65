// The embedded demo's recipes (Scripts/recipes/demo/): each loads and validates from the repository
// root with the settings docs/demo.md describes; the variants differ from the 1-shot run only where
// they say (reward, loss mix, data). base_sft.lua reads files that `models/demo-base/README.md`'s
// commands make under runs/, so it is checked for its settings after those paths are pointed at the
// shipped data.
import Foundation
import XCTest
@testable import VerityLua

final class DemoRecipesTests: XCTestCase {
    func load(_ recipe: String, _ overrides: [String] = []) throws -> LoadedRecipe {
        try RecipeLoader.load(
            path: "Scripts/recipes/demo/\(recipe).lua", overrides: overrides, services: testServices(),
            currentDirectory: repositoryRoot)
    }

    func testTheDemoRecipesLoadWithTheirSettings() throws {
        let one = try load("one_shot")
        XCTAssertEqual(one.recipe.name, "demo-one-shot")
        XCTAssertEqual(one.recipe.model, "models/demo-base")
        XCTAssertEqual(one.trainExamples.count, 1, "1-shot: data/demo/pi1.jsonl holds one example")
        // The learning rate and step count chosen on validation (docs/demo.md).
        XCTAssertEqual(one.recipe.optimizer.lr, 3e-5)
        XCTAssertEqual(one.recipe.steps, 30)
        XCTAssertEqual(one.recipe.train.batchSize, 16)
        XCTAssertEqual(one.recipe.rollout.n, 8)
        XCTAssertEqual(one.recipe.grader, "paper")
        XCTAssertEqual(one.recipe.eval.sets, ["data/demo/validation.jsonl", "data/demo/test.jsonl"])
        XCTAssertTrue(one.recipe.eval.beforeTrain)
        XCTAssertEqual(one.evalSets.map(\.examples.count), [300, 500])
        let mix = try one.recipe.lossMix(step: 0, terms: [:], in: one.state)
        XCTAssertEqual(mix, ["pg": 1.0, "entropy": -0.001, "kl": 0.001])

        let pool = try load("full_pool")
        XCTAssertEqual(pool.trainExamples.count, 500)
        XCTAssertEqual(pool.recipe.train.batchSize, 32)
        XCTAssertEqual(pool.recipe.optimizer.lr, 1e-4)
        XCTAssertEqual(pool.recipe.steps, 40)

        let entropy = try load("one_shot_entropy")
        XCTAssertEqual(try entropy.recipe.lossMix(step: 0, terms: [:], in: entropy.state), ["entropy": -0.001])
        XCTAssertEqual(entropy.trainExamples.count, 1)

        // The format-only reward pays for any closed box; the real one only for the right answer.
        let format = try load("format_only")
        func wrong(_ r: LoadedRecipe) -> RewardSample {
            RewardSample(
                response: " 2 + 2 = 5.\nThe answer is \\boxed{5}.", answer: "4", problem: "p", prompt: "q",
                example: r.state.makeTable(r.trainExamples[0]), finishReason: "stop", tokens: 9)
        }
        XCTAssertEqual(try format.recipe.reward(wrong(format), in: format.state).reward, 1)
        XCTAssertEqual(try one.recipe.reward(wrong(one), in: one.state).reward, 0)
        // --set changes the shared settings (the learning-rate sweep of Scripts/demo/experiments.sh).
        XCTAssertEqual(try load("one_shot", ["optimizer.lr=3e-4", "seed=2"]).recipe.optimizer.lr, 3e-4)
    }

    func testTheBaseModelsSFTRecipe() throws {
        let sft = try load(
            "base_sft", ["model=models/demo-base", "train.data=data/demo/train.jsonl", "sft.response_field=solution"])
        XCTAssertEqual(sft.recipe.algorithm, .sft)
        XCTAssertEqual(sft.recipe.sft.packTokens, 512)
        XCTAssertEqual(sft.recipe.grader, "qwen-eval")
        XCTAssertEqual(try sft.recipe.lossMix(step: 0, terms: [:], in: sft.state), ["sft": 1.0])
    }
}
