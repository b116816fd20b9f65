// The typed recipe and the checked calls the trainer makes each step: a schedule's learning rate
// and a loss mix are checked at every call, not only in the load-time dry run; absent settings take
// the struct's defaults (mini_batch_size: the whole batch); the resolved table is the typed recipe;
// a blank required field is kept with a warning.
import Foundation
import VerityLua
import XCTest

final class RecipeCheckedCallTests: XCTestCase {
    func load(
        _ setting: String, loss: String = "require \"losses.pg_only\"", train: String = "data = \"data/one.jsonl\""
    ) throws -> LoadedRecipe {
        let tmp = try TempFolder()
        try tmp.write("data/one.jsonl", "{\"problem\": \"1+1?\", \"prompt\": \"1+1? Think.\", \"answer\": \"2\"}\n")
        try tmp.write(
            "recipes/x.lua",
            RecipeSchemaTests.template.replacingOccurrences(of: "LINE8", with: setting)
                .replacingOccurrences(of: "require \"losses.pg_only\"", with: loss).replacingOccurrences(
                    of: "data = \"data/one.jsonl\"", with: train))
        return try RecipeLoader.load(path: "recipes/x.lua", services: testServices(), currentDirectory: tmp.url)
    }

    func testLearningRateIsCheckedAtEveryCall() throws {
        // Valid over the recipe's 3 steps (so the load passes), negative past them.
        let loaded = try load(
            "schedules = { lr = function(step, total) if step > total then return -1 end return 1e-6 end },")
        XCTAssertEqual(try loaded.recipe.learningRate(step: 2, in: loaded.state), 1e-6)
        XCTAssertEqual(loaded.dryRun.learningRate, 1e-6)
        let e = expectLuaError { try loaded.recipe.learningRate(step: 4, in: loaded.state) }
        XCTAssertEqual(
            e?.description,
            "contract error: schedules.lr in recipes/x.lua:8 returned the number -1 at step 4 of 3, expected a number ≥ 0"
        )
        // Without a schedule: optimizer.lr.
        let plain = try load("optimizer = { lr = 3e-6 },")
        XCTAssertEqual(try plain.recipe.learningRate(step: 100, in: plain.state), 3e-6)
        // Other schedules are any finite number.
        let coefficient = try load("schedules = { kl = function(step) return -step end },")
        XCTAssertEqual(try coefficient.recipe.schedule("kl", step: 2, in: coefficient.state), -2)
        XCTAssertNil(try coefficient.recipe.schedule("entropy", step: 2, in: coefficient.state))
    }

    func testLossMixIsCheckedAtEveryCall() throws {
        let loaded = try load("", loss: "function(step, terms) if step == 1 then return {} end return { pg = 1 } end")
        XCTAssertEqual(try loaded.recipe.lossMix(step: 0, terms: [:], in: loaded.state), ["pg": 1])
        let e = expectLuaError { try loaded.recipe.lossMix(step: 1, terms: [:], in: loaded.state) }
        XCTAssertEqual(
            e?.description,
            "contract error: loss in recipes/x.lua:6 returned an empty table, expected at least one coefficient such as { pg = 1.0 }"
        )
    }

    func testDefaultsLiveInTheStructsAndFillTheResolvedTable() throws {
        let r = try load("").recipe
        XCTAssertEqual(r.name, "x")
        XCTAssertEqual(r.tokenizer, "m")
        XCTAssertEqual(r.rollout, Recipe.Rollout())
        XCTAssertEqual(r.rollout.topK, 0)
        XCTAssertEqual(r.update.miniBatchSize, r.train.batchSize)
        XCTAssertEqual(r.algorithm, .grpo)
        XCTAssertEqual(r.grader, "paper")
        guard case .table(let rollout) = r.resolved.fields["rollout"] ?? .nil else {
            return XCTFail("no rollout in the resolved table")
        }
        XCTAssertEqual(rollout.fields["top_k"], .integer(0))
        XCTAssertEqual(rollout.fields["temperature"], .number(1.0))
        // mini_batch_size defaults to the batch, whatever the batch is.
        let small = try load("update = { epochs = 2 },", train: "data = \"data/one.jsonl\", batch_size = 64").recipe
        XCTAssertEqual(small.update.miniBatchSize, 64)
        let r64 = try load("algorithm = \"dr_grpo\", kl = { estimator = \"k2\" },").recipe
        XCTAssertEqual(r64.algorithm, .drGRPO)
        XCTAssertEqual(r64.kl.estimator, .k2)
        XCTAssertEqual(r64.resolved.fields["algorithm"], .string("dr_grpo"))
    }

    func testBlankRequiredFieldIsKeptWithAWarning() throws {
        let tmp = try TempFolder()
        try tmp.write(
            "data/one.jsonl", "{\"prompt\": \"p\", \"answer\": \"2\"}\n{\"prompt\": \"q\", \"answer\": \" \"}\n")
        try tmp.write("recipes/x.lua", RecipeSchemaTests.template.replacingOccurrences(of: "LINE8", with: ""))
        let loaded = try RecipeLoader.load(path: "recipes/x.lua", services: testServices(), currentDirectory: tmp.url)
        XCTAssertEqual(loaded.trainExamples.count, 2)
        XCTAssertEqual(
            loaded.warnings, ["data/one.jsonl:2: `answer` is blank (kept; a blank gold answer matches no response)"])
    }
}
