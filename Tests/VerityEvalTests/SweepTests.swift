// The checkpoint sweep on a run folder made by hand: checkpoints/step-1 and step-2 are copies of the
// tiny fixture (a folder being written, `.step-3.tmp-1`, and a step without config.json are ignored);
// results land in RUN/eval/step-N, sweep.json has a row per step, a rerun skips both steps, and a
// step interrupted halfway resumes.
import XCTest
@testable import VerityEval

final class SweepTests: XCTestCase {
    func makeRun(steps: [Int]) throws -> URL {
        let run = try Support.tempFolder(self).appendingPathComponent("run")
        let fm = FileManager.default
        for step in steps {
            let dir = run.appendingPathComponent("checkpoints/step-\(step)")
            try fm.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: Support.tinyModel, to: dir)
        }
        try fm.createDirectory(
            at: run.appendingPathComponent("checkpoints/.step-3.tmp-1"), withIntermediateDirectories: true)
        try fm.createDirectory(at: run.appendingPathComponent("checkpoints/step-4"), withIntermediateDirectories: true)
        return run
    }

    func testSweepEvaluatesEachCheckpointOnceAndWritesOneTable() throws {
        let run = try makeRun(steps: [2, 1])
        XCTAssertEqual(try CheckpointSweep.checkpoints(run: run).map(\.step), [1, 2])
        let plan = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["math500", "amc23"], limit: 2, maxTokens: 4))
        let first = try CheckpointSweep.run(run, plan: plan, options: Support.options())
        XCTAssertEqual(first.rows.map(\.step), [1, 2])
        XCTAssertEqual(first.rows.map(\.skipped), [false, false])
        XCTAssertEqual(first.benchmarks, ["math500", "amc23"])
        let fm = FileManager.default
        for f in [
            "eval/step-1/summary.json", "eval/step-2/summary.json", "eval/step-2/amc23/responses.jsonl",
            "eval/sweep.json",
        ] {
            XCTAssertTrue(fm.fileExists(atPath: run.appendingPathComponent(f).path), f)
        }
        // Same weights at both steps: the same scores.
        XCTAssertEqual(first.rows[0].accuracy, first.rows[1].accuracy)
        let written = try JSONDecoder().decode(
            SweepResult.self, from: Data(contentsOf: run.appendingPathComponent("eval/sweep.json")))
        XCTAssertEqual(written, first)
        let table = first.table()
        let lines = table.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, table)
        XCTAssertTrue(
            lines[1].contains("step") && lines[1].contains("math500") && lines[1].contains("amc23")
                && lines[1].contains("average"), table)
        XCTAssertTrue(lines[2].hasPrefix("   1") || lines[2].hasPrefix("1"), table)

        var logs: [String] = []
        var options = Support.options()
        options.log = { logs.append($0) }
        let again = try CheckpointSweep.run(run, plan: plan, options: options)
        XCTAssertEqual(again.rows.map(\.skipped), [true, true])
        XCTAssertEqual(again.rows.map(\.accuracy), first.rows.map(\.accuracy))
        XCTAssertEqual(logs.filter { $0.contains("already evaluated") }.count, 2, "\(logs)")

        // Other settings: steps are not skipped, and their folders refuse the new settings.
        let other = try EvalPlan(
            catalog: Support.catalog, settings: Support.settings(["math500", "amc23"], limit: 2, maxTokens: 5))
        XCTAssertThrowsError(try CheckpointSweep.run(run, plan: other, options: Support.options())) { e in
            XCTAssertTrue("\(e)".contains("max_tokens"), "\(e)")
        }
    }

    func testInterruptedStepResumes() throws {
        let run = try makeRun(steps: [1])
        let plan = try EvalPlan(catalog: Support.catalog, settings: Support.settings(["amc23"], limit: 2, maxTokens: 4))
        var stopping = Support.options(rowsPerCall: 8)
        stopping.stopAfterItems = 1
        XCTAssertThrowsError(try CheckpointSweep.run(run, plan: plan, options: stopping)) { e in
            XCTAssertTrue(e is EvaluationStopped, "\(e)")
        }
        let resumed = try CheckpointSweep.run(run, plan: plan, options: Support.options())
        XCTAssertEqual(resumed.rows.map(\.skipped), [false])
        let whole = try Evaluator(
            model: run.appendingPathComponent("checkpoints/step-1"), plan: plan, options: Support.options()
        ).run(out: nil)
        XCTAssertEqual(resumed.rows[0].accuracy["amc23"], whole.result("amc23")?.accuracy)
    }

    func testRunWithoutCheckpoints() throws {
        let run = try Support.tempFolder(self)
        let plan = try EvalPlan(catalog: Support.catalog, settings: Support.settings(["amc23"], limit: 1))
        XCTAssertThrowsError(try CheckpointSweep.run(run, plan: plan)) { e in
            XCTAssertTrue("\(e)".contains("checkpoints"), "\(e)")
        }
        try FileManager.default.createDirectory(
            at: run.appendingPathComponent("checkpoints/step-x"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try CheckpointSweep.run(run, plan: plan)) { e in
            XCTAssertTrue("\(e)".contains("no checkpoint"), "\(e)")
        }
    }
}
