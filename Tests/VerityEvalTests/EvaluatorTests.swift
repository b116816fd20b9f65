// End to end on the tiny random Qwen2 fixture (it scores ~0; the tests check the machinery): the
// pipeline and its files, prefix sharing, the table and JSON, resume after a stop compared with an
// uninterrupted run, torn and partial response files, an output folder of another model or other
// settings refused with nothing overwritten, and a model folder that does not load.
import XCTest
import VerityFixtures
import VerityJSON
@testable import VerityEval

final class EvaluatorTests: XCTestCase {
    func testOtherGradersScoreTheSameResponses() throws {
        // First pass: greedy responses of the tiny model to 8 MATH500 problems, graded format-agnostically.
        let root = try Support.tempFolder(self)
        var s = Support.settings(["math500"], limit: 8, maxTokens: 24)
        s.grader = .qwenEval
        let first = try Evaluator(model: Support.tinyModel, plan: EvalPlan(catalog: Support.catalog, settings: s), options: Support.options())
        _ = try first.run(out: root.appendingPathComponent("first"))
        let records = try JSONLines.read(root.appendingPathComponent("first/math500/responses.jsonl")).map(\.value)
        // A set whose gold answers are what qwen-eval extracted (the last number of an unboxed response): qwen-eval
        // counts those right, the paper's grader (the last \boxed{} only) does not.
        var lines: [String] = [], expected = 0
        for (i, r) in records.enumerated() {
            let extracted = r["extracted"]?.stringValue ?? ""
            if !extracted.isEmpty { expected += 1 }
            lines.append(
                "{\"problem\": \(jsonStringLiteral(try XCTUnwrap(Support.catalog.load("math500").items[i].problem))), "
                    + "\"answer\": \(jsonStringLiteral(extracted.isEmpty ? "none" : extracted))}")
        }
        XCTAssertGreaterThan(expected, 0, "the tiny model wrote no number in 8 responses; pick other items")
        let file = root.appendingPathComponent("own.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        var t = Support.settings([file.path], limit: 8, maxTokens: 24)
        t.grader = .paper
        t.alsoGrade = [.qwenEval, .paper]
        let result = try XCTUnwrap(
            try Evaluator(model: Support.tinyModel, plan: EvalPlan(catalog: Support.catalog, settings: t), options: Support.options())
                .run(out: nil).results.first)
        XCTAssertEqual(result.accuracy, 0, "no response is boxed")
        XCTAssertEqual(result.accuracyByGrader?["paper"], 0)
        XCTAssertEqual(result.accuracyByGrader?["qwen-eval"] ?? -1, Double(expected) / 8, accuracy: 1e-12)
    }

    func testPipelineWritesEveryFile() throws {
        let out = try Support.tempFolder(self).appendingPathComponent("out")
        let plan = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["math500", "aime24"], limit: 3, maxTokens: 8))
        let evaluator = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options())
        let summary = try evaluator.run(out: out)

        XCTAssertEqual(summary.results.map(\.name), ["math500", "aime24"])
        let math = try XCTUnwrap(summary.result("math500")), aime = try XCTUnwrap(summary.result("aime24"))
        XCTAssertEqual(math.items, 3)
        XCTAssertEqual(math.samplesPerItem, 1)
        XCTAssertEqual(math.metric, "pass@1")
        XCTAssertEqual(math.temperature, 0)
        XCTAssertEqual(aime.samplesPerItem, 8)
        XCTAssertEqual(aime.metric, "avg@8")
        XCTAssertEqual(aime.temperature, 0.6)
        XCTAssertEqual(Set(aime.passAtK.keys), ["1", "2", "4", "8"])
        for r in summary.results {
            XCTAssertLessThanOrEqual(r.meanResponseTokens, 8)
            XCTAssertGreaterThan(r.meanResponseTokens, 0)
            XCTAssert(
                (0...1).contains(r.accuracy) && (0...1).contains(r.truncatedFraction)
                    && (0...1).contains(r.reflectionRate))
        }
        // Prefix sharing: each AIME item's 8 samples share one prefill.
        XCTAssertLessThan(evaluator.work.prefillTokens * 3, evaluator.work.promptTokensAllSamples)

        // Files.
        let fm = FileManager.default
        for f in [
            "eval.json", "summary.json", "math500/responses.jsonl", "math500/breakdown.json", "aime24/responses.jsonl",
        ] {
            XCTAssertTrue(fm.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        XCTAssertFalse(
            fm.fileExists(atPath: out.appendingPathComponent("aime24/breakdown.json").path), "AIME has no subjects")
        let mathLines = try JSONLines.read(out.appendingPathComponent("math500/responses.jsonl"))
        XCTAssertEqual(mathLines.count, 3)
        let first = mathLines[0].value
        XCTAssertEqual(first["item_id"], .string("math500-0"))
        XCTAssertEqual(first["sample"], .integer(0))
        for key in ["response", "extracted", "correct", "tokens", "finish_reason", "index"] {
            XCTAssertNotNil(first[key], key)
        }
        let aimeLines = try JSONLines.read(out.appendingPathComponent("aime24/responses.jsonl"))
        XCTAssertEqual(aimeLines.count, 24)
        XCTAssertEqual(Set(aimeLines.map { $0.value["sample"]?.intValue ?? -1 }), Set(0..<8))
        // Temperature 0.6: the 8 samples of an item are not all the same response.
        let item0 = aimeLines.filter { $0.value["item_id"] == .string("aime24-0") }.compactMap {
            $0.value["response"]?.stringValue
        }
        XCTAssertGreaterThan(Set(item0).count, 1)

        let written = try JSONDecoder().decode(
            EvalSummary.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
        XCTAssertEqual(written.results.sorted { $0.name < $1.name }, summary.results.sorted { $0.name < $1.name })
        let object = try JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any]
        XCTAssertEqual(Set(object?.keys.map { $0 } ?? []), ["model", "benchmarks", "average"])
        let bench = (object?["benchmarks"] as? [String: Any])?["math500"] as? [String: Any]
        for key in [
            "accuracy", "items", "samples_per_item", "pass_at_k", "mean_response_tokens", "truncated_fraction",
            "reflection_rate",
        ] {
            XCTAssertNotNil(bench?[key], key)
        }
        let breakdown = try JSONDecoder().decode(
            Breakdown.self, from: Data(contentsOf: out.appendingPathComponent("math500/breakdown.json")))
        XCTAssertEqual(breakdown.bySubject.values.reduce(0) { $0 + $1.items }, 3)
        XCTAssertEqual(breakdown.byLevel.values.reduce(0) { $0 + $1.items }, 3)
        XCTAssertNotNil(breakdown.bySubject["Precalculus"])
        let manifest = try XCTUnwrap(EvalManifest.read(folder: out))
        XCTAssertEqual(manifest.model, Support.tinyModel.standardizedFileURL.path)
        XCTAssertEqual(manifest.benchmarks["aime24"]?.protocol.samples, 8)
        XCTAssertEqual(manifest.grader, "qwen-eval")

        let table = summary.table()
        XCTAssertTrue(table.contains("math500"), table)
        XCTAssertTrue(table.contains("avg@8"), table)
        XCTAssertTrue(table.contains("average"), table)
    }

    func testWithoutOutputFolder() throws {
        let plan = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["minerva_math"], limit: 2, maxTokens: 4))
        let summary = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(out: nil)
        XCTAssertEqual(summary.result("minerva_math")?.items, 2)
        XCTAssertEqual(
            summary.result("minerva_math")?.truncatedFraction ?? 0, 1, accuracy: 0.51,
            "4 tokens: most responses hit the limit")
    }

    /// Stop after 1 item, rerun, and compare with an uninterrupted run made with another grouping of items per sampler call.
    func testResumeGivesTheSameTable() throws {
        let root = try Support.tempFolder(self)
        let settings = Support.settings(["aime24", "math500"], limit: 3, maxTokens: 6)
        let plan = try EvalPlan(catalog: Support.catalog, settings: settings)
        let whole = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(
            out: root.appendingPathComponent("whole"))

        let part = root.appendingPathComponent("part")
        var stopping = Support.options(rowsPerCall: 8)
        stopping.stopAfterItems = 1
        XCTAssertThrowsError(try Evaluator(model: Support.tinyModel, plan: plan, options: stopping).run(out: part)) {
            e in
            XCTAssertEqual((e as? EvaluationStopped)?.itemsGraded, 1)
        }
        XCTAssertEqual(try Support.lines(part.appendingPathComponent("aime24/responses.jsonl")).count, 8)
        XCTAssertFalse(FileManager.default.fileExists(atPath: part.appendingPathComponent("summary.json").path))
        // A second stop inside the next set.
        stopping.stopAfterItems = 3
        XCTAssertThrowsError(try Evaluator(model: Support.tinyModel, plan: plan, options: stopping).run(out: part))
        XCTAssertEqual(try Support.lines(part.appendingPathComponent("aime24/responses.jsonl")).count, 24)
        XCTAssertEqual(try Support.lines(part.appendingPathComponent("math500/responses.jsonl")).count, 1)

        var logs: [String] = []
        var resumed = Support.options(rowsPerCall: 8)
        resumed.log = { logs.append($0) }
        let evaluator = try Evaluator(model: Support.tinyModel, plan: plan, options: resumed)
        let finished = try evaluator.run(out: part)
        XCTAssertEqual(finished, whole)
        XCTAssertEqual(finished.table(), whole.table())
        XCTAssertTrue(logs.contains { $0.contains("math500: 1 of 3 items already graded") }, "\(logs)")
        XCTAssertEqual(
            evaluator.work.calls, 1, "only the two missing MATH500 items were sampled (one call of up to 8 rows)")
        XCTAssertLessThan(
            evaluator.work.prefillTokens, evaluator.work.promptTokensAllSamples,
            "the template's system line is prefilled once")
        for set in ["aime24", "math500"] {
            let a = try Support.lines(root.appendingPathComponent("whole/\(set)/responses.jsonl")).sorted()
            let b = try Support.lines(part.appendingPathComponent("\(set)/responses.jsonl")).sorted()
            XCTAssertEqual(a, b, set)
        }
        // A rerun of a finished folder samples nothing and gives the same table.
        let again = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options())
        XCTAssertEqual(try again.run(out: part), whole)
        XCTAssertEqual(again.work.calls, 0)
    }

    func testTornAndPartialItemsAreDroppedOnResume() throws {
        let root = try Support.tempFolder(self)
        let plan = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["aime25"], limit: 2, maxTokens: 4))
        let out = root.appendingPathComponent("out")
        let whole = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(out: out)
        let file = out.appendingPathComponent("aime25/responses.jsonl")
        let lines = try Support.lines(file)
        XCTAssertEqual(lines.count, 16)
        // Keep item 0 whole, 3 samples of item 1, and a torn half line.
        let kept = lines.filter { $0.contains("\"aime25-0\"") } + lines.filter { $0.contains("\"aime25-1\"") }.prefix(3)
        let torn = kept.joined(separator: "\n") + "\n" + String(lines[15].prefix(20))
        try Data(torn.utf8).write(to: file)
        let done = try ResponsesFile(url: file, samples: 8).completeItems()
        XCTAssertEqual(Array(done.keys), ["aime25-0"])
        XCTAssertEqual(try Support.lines(file).count, 8, "rewritten without the partial item and the torn line")
        let evaluator = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options())
        XCTAssertEqual(try evaluator.run(out: out), whole)
        XCTAssertEqual(evaluator.work.calls, 1)
        XCTAssertEqual(try Support.lines(file).count, 16)
    }

    func testAnotherModelsFolderIsRefused() throws {
        let root = try Support.tempFolder(self)
        let out = root.appendingPathComponent("out")
        let plan = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["math500"], limit: 1, maxTokens: 4))
        _ = try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(out: out)
        let before = try Data(contentsOf: out.appendingPathComponent("math500/responses.jsonl"))
        let summaryBefore = try Data(contentsOf: out.appendingPathComponent("summary.json"))

        XCTAssertThrowsError(
            try Evaluator(model: Fixtures.url("tiny-qwen3"), plan: plan, options: Support.options()).run(out: out)
        ) { e in
            guard case .outputMismatch(_, let key, _, _)? = e as? EvalError else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "model")
            XCTAssertTrue("\(e)".contains("choose another --out"), "\(e)")
        }
        let other = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["math500"], limit: 1, maxTokens: 5))
        XCTAssertThrowsError(
            try Evaluator(model: Support.tinyModel, plan: other, options: Support.options()).run(out: out)
        ) { e in
            XCTAssertTrue("\(e)".contains("math500 max_tokens = 4"), "\(e)")
        }
        var g = Support.settings(["math500"], limit: 1, maxTokens: 4)
        g.grader = .paper
        XCTAssertThrowsError(
            try Evaluator(
                model: Support.tinyModel, plan: try EvalPlan(catalog: Support.catalog, settings: g),
                options: Support.options()
            ).run(out: out)
        ) { e in
            XCTAssertTrue("\(e)".contains("grader = qwen-eval"), "\(e)")
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("math500/responses.jsonl")), before)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("summary.json")), summaryBefore)

        // A non-empty folder that is not an evaluation's.
        let foreign = root.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: foreign.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(
            try Evaluator(model: Support.tinyModel, plan: plan, options: Support.options()).run(out: foreign)
        ) { e in
            XCTAssertTrue("\(e)".contains("holds no eval.json"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: foreign.path), ["notes.txt"])
    }

    func testModelThatDoesNotLoad() throws {
        let root = try Support.tempFolder(self)
        let plan = try EvalPlan(catalog: Support.catalog, settings: Support.settings(["math500"], limit: 1))
        XCTAssertThrowsError(try Evaluator(model: root.appendingPathComponent("nope"), plan: plan)) { e in
            guard case .model? = e as? EvalError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("the model does not load"), "\(e)")
            XCTAssertTrue("\(e)".contains("nope"), "\(e)")
        }
        // Weights present, tokenizer missing.
        let noTok = root.appendingPathComponent("no-tokenizer")
        try FileManager.default.createDirectory(at: noTok, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors", "generation_config.json"] {
            try FileManager.default.copyItem(
                at: Support.tinyModel.appendingPathComponent(f), to: noTok.appendingPathComponent(f))
        }
        XCTAssertThrowsError(try Evaluator(model: noTok, plan: plan)) { e in
            XCTAssertTrue("\(e)".contains("no-tokenizer"), "\(e)")
        }
    }
}
