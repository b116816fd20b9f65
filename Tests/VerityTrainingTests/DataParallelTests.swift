// Data-parallel training over MPI (issue 25): `mpirun -np 2 verity train` on the toy recipe gives the rewards of one
// process exactly (the same tokens: seeds follow the global prompt index) and its losses and final weights within
// float rounding (the gradients are summed in another order); a run resumes with another number of ranks; a rank
// that dies, or that cannot read its model, ends the job with a clear error and no hang, leaving the last checkpoint
// intact; SIGINT to mpirun checkpoints once and exits 130. These run the `verity` binary that `swift test` builds,
// under Open MPI's mpirun (`.ci/run` installs it); they are skipped where mpirun is absent.
import Foundation
import XCTest
import VerityFixtures
import VerityModel
@testable import VerityTraining

final class DataParallelTests: XCTestCase {
    /// The toy run with 2 mini-batches a step (so each rank's share is cut per mini-batch), the KL term against a
    /// reference, 4 samples of varied length per prompt, save_every 1.
    /// (lr 1e-3: at the toy's usual 3e-2, AdamW's first steps, about lr times the gradient's sign, turn float-noise
    /// differences into different tokens within a few steps, in one process as much as across ranks.)
    func toyRun(steps: Int) throws -> ToyRun {
        let run = try ToyRun(steps: steps, lr: 1e-3, saveEvery: 1)
        let url = run.root.appendingPathComponent("toy.lua")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: "return { pg = 1.0 }", with: "return { pg = 1.0, kl = 0.05 }")
            .replacingOccurrences(of: "mini_batch_size = 4", with: "mini_batch_size = 2")
            .write(to: url, atomically: true, encoding: .utf8)
        return run
    }

    static func mpirun() throws -> String {
        for p in ["/usr/bin/mpirun", "/usr/local/bin/mpirun"] where FileManager.default.isExecutableFile(atPath: p) {
            return p
        }
        throw XCTSkip("mpirun is not installed (Debian: openmpi-bin)")
    }

    /// The `verity` executable beside this test bundle.
    static func verity() throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let v = dir.appendingPathComponent("verity").path
            if FileManager.default.isExecutableFile(atPath: v) { return v }
            dir = dir.deletingLastPathComponent()
        }
        for b in Bundle.allBundles {
            let v = b.bundleURL.deletingLastPathComponent().appendingPathComponent("verity").path
            if FileManager.default.isExecutableFile(atPath: v) { return v }
        }
        XCTFail("the verity executable is not beside the tests (\(CommandLine.arguments[0])); run `swift build` first")
        throw XCTSkip("no verity executable")
    }

    /// mpirun's flags for a 2-core machine, as root.
    static let mpiFlags = ["--oversubscribe", "--allow-run-as-root"]

    /// Scripts/mpi/verity-mpirun, the mpirun wrapper that turns Ctrl-C into a stop request.
    static let wrapper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/mpi/verity-mpirun").path

    struct Finished {
        var status: Int32
        var output: String
        var seconds: Double
    }

    /// Starts `args` and returns the running process with its combined output file.
    func start(_ exe: String, _ args: [String], in dir: URL) throws -> (Process, URL) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"  // containers often forbid ptrace-based copies
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        p.environment = env
        let log = dir.appendingPathComponent("log-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let h = try FileHandle(forWritingTo: log)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return (p, log)
    }

    /// Runs to the end (at most `limit` seconds, then kills it and fails).
    func run(_ exe: String, _ args: [String], in dir: URL, limit: Double = 300) throws -> Finished {
        let t0 = Date()
        let (p, log) = try start(exe, args, in: dir)
        while p.isRunning && Date().timeIntervalSince(t0) < limit { usleep(50_000) }
        if p.isRunning {
            p.terminate()
            XCTFail("\(args.prefix(6).joined(separator: " ")) still ran after \(limit) s")
        }
        p.waitUntilExit()
        return Finished(
            status: p.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "",
            seconds: Date().timeIntervalSince(t0))
    }

    func train(_ run: ToyRun, ranks: Int, runDir: String, extra: [String] = []) throws -> Finished {
        let v = try Self.verity()
        let args = ["train", run.root.appendingPathComponent("toy.lua").path, "--run-dir", runDir, "--threads", "1"] + extra
        if ranks == 1 { return try self.run(v, args, in: run.root) }
        return try self.run(try Self.mpirun(), Self.mpiFlags + ["-np", "\(ranks)", v] + args, in: run.root)
    }

    func weights(_ dir: URL) throws -> [Float] {
        try TransformerModel.load(directory: dir).store.values.values
    }

    /// ||a - b|| / ||a|| at most `relative`: the parameter vector's relative difference. (Element by element, a
    /// parameter whose gradient is float noise, such as a key bias under softmax's shift invariance, takes AdamW
    /// steps of either sign, so single elements may differ by a few learning-rate-sized steps.)
    @discardableResult
    static func assertClose(
        _ a: [Float], _ b: [Float], relative: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var d2 = 0.0, a2 = 0.0
        for (x, y) in zip(a, b) {
            d2 += (Double(x) - Double(y)) * (Double(x) - Double(y))
            a2 += Double(x) * Double(x)
        }
        let rel = (d2 / max(a2, 1e-300)).squareRoot()
        XCTAssertLessThanOrEqual(rel, relative, "\(what): ||Δ|| / ||w|| = \(rel)", file: file, line: line)
        return rel
    }

    func testTwoRanksEqualOneProcessStepForStep() throws {
        _ = try Self.mpirun()
        let run = try toyRun(steps: 4)
        let one = try train(run, ranks: 1, runDir: "one")
        XCTAssertEqual(one.status, 0, one.output)
        let two = try train(run, ranks: 2, runDir: "two")
        XCTAssertEqual(two.status, 0, two.output)
        let a = try run.metrics("one"), b = try run.metrics("two")
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(b.count, 4, "rank 0 alone writes metrics.jsonl: one line a step")
        var worstLoss = 0.0
        for (x, y) in zip(a, b) {
            // The same tokens, so the same rewards, exactly.
            for k in ["reward_mean", "reward_std", "accuracy", "response_length_mean", "response_length_max"] {
                XCTAssertEqual(x[k], y[k], "step \(x["step"] ?? 0): \(k)")
            }
            for k in ["pg_loss", "kl", "entropy", "grad_norm", "logprob_mismatch_mean_abs"] {
                let u = try XCTUnwrap(x[k], k), v = try XCTUnwrap(y[k], k)
                XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u)), "step \(x["step"] ?? 0): \(k)")
                if k != "logprob_mismatch_mean_abs" { worstLoss = max(worstLoss, abs(u - v) / max(1e-12, abs(u))) }
            }
            XCTAssertEqual(y["ranks"], 2)
            XCTAssertNotNil(y["seconds_comm"])
            XCTAssertNil(x["ranks"], "one process writes no rank metrics")
        }
        let wa = try weights(run.root.appendingPathComponent("one/checkpoints/step-4"))
        let wb = try weights(run.root.appendingPathComponent("two/checkpoints/step-4"))
        let rel = Self.assertClose(wa, wb, relative: 1e-5, "final weights")
        XCTAssertNotEqual(wa, try weights(Fixtures.url("tiny-qwen2")), "training moved the weights")
        // Rank 0 alone wrote the run folder: one samples file a step, with every sample of the batch.
        let samples = try String(
            contentsOf: run.root.appendingPathComponent("two/samples/step-4.jsonl"), encoding: .utf8)
        XCTAssertEqual(samples.split(separator: "\n").count, 16)
        let worstElement = zip(wa, wb).map { abs($0 - $1) }.max() ?? 0
        print(
            "MPI 2 ranks vs 1 process: rewards equal at every step; worst relative loss gap \(worstLoss); final weights "
                + "||Δ||/||w|| \(rel), max |Δ| \(worstElement)")
    }

    func testUnderLoRAOnlyTheAdaptersTravelAndTwoRanksEqualOneProcess() throws {
        _ = try Self.mpirun()
        let run = try toyRun(steps: 3)
        let url = run.root.appendingPathComponent("toy.lua")
        try String(contentsOf: url, encoding: .utf8).replacingOccurrences(
            of: "steps = 3,", with: "steps = 3, lora = { rank = 4, alpha = 8 },"
        ).write(to: url, atomically: true, encoding: .utf8)
        let one = try train(run, ranks: 1, runDir: "one")
        XCTAssertEqual(one.status, 0, one.output)
        let two = try train(run, ranks: 2, runDir: "two")
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertEqual(try run.metrics("one").map { $0["reward_mean"] }, try run.metrics("two").map { $0["reward_mean"] })
        let adapters = { (r: String) throws -> [Float] in
            let f = try SafeTensorsFile(url: run.root.appendingPathComponent("\(r)/checkpoints/step-3/adapter_model.safetensors"))
            return try f.entries.keys.sorted().flatMap { try f.tensor($0).values }
        }
        let a = try adapters("one"), b = try adapters("two")
        XCTAssertGreaterThan(a.count, 0)
        let rel = Self.assertClose(a, b, relative: 1e-5, "adapters")
        // What travels is the trainable store: the adapters' gradient block, not the model's.
        let t = try quietTrainer(recipe: url, run: run.root.appendingPathComponent("probe"), resume: false, maxSteps: nil)
        XCTAssertEqual(t.model.trainableStore.count, try XCTUnwrap(t.model.adapters).store.count)
        XCTAssertLessThan(t.model.trainableStore.count, t.model.store.count / 5)
        print("MPI under LoRA: adapters ||Δ||/||w|| \(rel); \(t.model.trainableStore.count) floats all-reduced a step, of \(t.model.store.count) in the model")
    }

    func testEvaluationInsideTrainingIsSplitAcrossRanksAndEqualsOneProcess() throws {
        _ = try Self.mpirun()
        let run = try toyRun(steps: 2)
        let evalFile = run.root.appendingPathComponent("eval.jsonl")
        let problems = ["The answer is", "Say", "Let me see the", "One more", "e e e"]
        try Data(problems.map { "{\"problem\": \"\($0)\", \"answer\": \"e\"}\n" }.joined().utf8).write(to: evalFile)
        let url = run.root.appendingPathComponent("toy.lua")
        try String(contentsOf: url, encoding: .utf8).replacingOccurrences(
            of: "steps = 2,",
            with: "steps = 2, eval = { every = 2, before_train = true, sets = { \"\(evalFile.path)\" }, samples = 2, "
                + "temperature = 1.0, max_tokens = 6, required_fields = { \"problem\", \"answer\" } },"
        ).write(to: url, atomically: true, encoding: .utf8)
        let one = try train(run, ranks: 1, runDir: "one")
        XCTAssertEqual(one.status, 0, one.output)
        let two = try train(run, ranks: 2, runDir: "two")
        XCTAssertEqual(two.status, 0, two.output)
        for step in [0, 2] {
            let lines = { (r: String) throws -> [String] in
                try String(
                    contentsOf: run.root.appendingPathComponent("\(r)/eval/step-\(step)/eval/responses.jsonl"),
                    encoding: .utf8
                ).split(separator: "\n").map(String.init)
            }
            let a = try lines("one"), b = try lines("two")
            XCTAssertEqual(a.count, 10, "5 items x 2 samples")
            XCTAssertEqual(a, b, "step \(step): the graded responses, in item order")
        }
        XCTAssertEqual(
            try run.metrics("one").map { $0["eval/eval/accuracy"] }, try run.metrics("two").map { $0["eval/eval/accuracy"] })
    }

    func testOtherCommandsRefuseToRunAsSeveralRanks() throws {
        let mpirun = try Self.mpirun()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try run(mpirun, Self.mpiFlags + ["-np", "2", try Self.verity(), "inspect", Fixtures.url("tiny-qwen2").path], in: dir)
        XCTAssertNotEqual(f.status, 0)
        XCTAssertTrue(f.output.contains("verity inspect runs in one process"), f.output)
        let one = try run(mpirun, Self.mpiFlags + ["-np", "1", try Self.verity(), "inspect", Fixtures.url("tiny-qwen2").path], in: dir)
        XCTAssertEqual(one.status, 0, one.output)
    }

    func testAResumeMayUseAnotherNumberOfRanks() throws {
        _ = try Self.mpirun()
        let run = try toyRun(steps: 4)
        let whole = try train(run, ranks: 1, runDir: "whole")
        XCTAssertEqual(whole.status, 0, whole.output)
        // Two steps in one process, then the rest on two ranks; and the other way round.
        XCTAssertEqual(try train(run, ranks: 1, runDir: "a", extra: ["--max-steps", "2"]).status, 0)
        let a = try train(run, ranks: 2, runDir: "a", extra: ["--resume"])
        XCTAssertEqual(a.status, 0, a.output)
        XCTAssertEqual(try train(run, ranks: 2, runDir: "b", extra: ["--max-steps", "2"]).status, 0)
        let b = try train(run, ranks: 1, runDir: "b", extra: ["--resume"])
        XCTAssertEqual(b.status, 0, b.output)
        let w = try weights(run.root.appendingPathComponent("whole/checkpoints/step-4"))
        for r in ["a", "b"] {
            Self.assertClose(
                w, try weights(run.root.appendingPathComponent("\(r)/checkpoints/step-4")), relative: 1e-5, "resumed \(r)")
            XCTAssertEqual(
                try run.metrics(r).map { $0["reward_mean"] }, try run.metrics("whole").map { $0["reward_mean"] })
        }
    }

    func testARankThatDiesEndsTheJobAndTheLastCheckpointStaysIntact() throws {
        let mpirun = try Self.mpirun()
        let run = try toyRun(steps: 400)
        let (p, log) = try start(
            mpirun,
            Self.mpiFlags + [
                "-np", "2", try Self.verity(), "train", run.root.appendingPathComponent("toy.lua").path, "--run-dir",
                "dies", "--threads", "1",
            ], in: run.root)
        defer { if p.isRunning { p.terminate() } }
        let checkpoints = run.root.appendingPathComponent("dies/checkpoints")
        let t0 = Date()
        while p.isRunning && Date().timeIntervalSince(t0) < 120
            && !FileManager.default.fileExists(atPath: checkpoints.appendingPathComponent("step-2/trainer.json").path)
        {
            usleep(50_000)
        }
        // Rank 1 is the child of mpirun whose environment says so.
        let victim = try XCTUnwrap(Self.rank(1, under: p.processIdentifier), "rank 1's process")
        kill(victim, SIGKILL)
        let killed = Date()
        while p.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(50_000) }
        XCTAssertFalse(p.isRunning, "the job still ran 60 s after rank 1 died")
        p.waitUntilExit()
        let out = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertNotEqual(p.terminationStatus, 0, out)
        XCTAssertTrue(out.contains("rank 1") && out.contains("signal 9"), "mpirun names the dead rank: \(out.suffix(800))")
        print("MPI: the job ended \(String(format: "%.1f", Date().timeIntervalSince(killed))) s after rank 1 was killed")
        // The last checkpoint is whole: a one-process resume continues from it.
        let steps = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).filter { $0.hasPrefix("step-") }
        XCTAssertFalse(steps.isEmpty)
        let resumed = try train(run, ranks: 1, runDir: "dies", extra: ["--resume", "--max-steps", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
    }

    func testARankThatCannotReadItsModelFailsTheJobWithItsOwnMessage() throws {
        let mpirun = try Self.mpirun()
        let run = try toyRun(steps: 2)
        let v = try Self.verity(), recipe = run.root.appendingPathComponent("toy.lua").path
        // MPMD: rank 0 gets the recipe as it is, rank 1 a model folder that does not exist.
        let f = try self.run(
            mpirun,
            Self.mpiFlags + [
                "-np", "1", v, "train", recipe, "--run-dir", "bad", "--threads", "1", ":",
                "-np", "1", v, "train", recipe, "--run-dir", "bad", "--threads", "1", "--set", "model=/nonexistent/model",
            ], in: run.root, limit: 120)
        XCTAssertNotEqual(f.status, 0)
        XCTAssertTrue(f.output.contains("rank 1 of 2"), f.output)
        XCTAssertTrue(f.output.contains("/nonexistent/model"), f.output)
        XCTAssertLessThan(f.seconds, 60)
    }

    func testSIGINTToTheMpirunWrapperCheckpointsOnceAndExits130() throws {
        _ = try Self.mpirun()
        let run = try toyRun(steps: 400)
        let url = run.root.appendingPathComponent("toy.lua")
        try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "save_every = 1", with: "save_every = 0")
            .write(to: url, atomically: true, encoding: .utf8)
        let (p, log) = try start(
            Self.wrapper,
            Self.mpiFlags + ["-np", "2", try Self.verity(), "train", url.path, "--run-dir", "int", "--threads", "1"],
            in: run.root)
        defer { if p.isRunning { p.terminate() } }
        let metrics = run.root.appendingPathComponent("int/metrics.jsonl")
        let t0 = Date()
        while p.isRunning && Date().timeIntervalSince(t0) < 120
            && ((try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 2
        {
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGINT)
        while p.isRunning && Date().timeIntervalSince(t0) < 180 { usleep(50_000) }
        p.waitUntilExit()
        let out = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.terminationStatus, 130, out.suffix(1500).description)
        let m = try run.metrics("int")
        let last = try XCTUnwrap(m.last?["step"])
        let names = try FileManager.default.contentsOfDirectory(
            atPath: run.root.appendingPathComponent("int/checkpoints").path)
        XCTAssertEqual(names.filter { $0.hasPrefix("step-") }, ["step-\(Int(last))"], "one checkpoint, at the last step")
        XCTAssertLessThan(last, 400)
    }

    /// The pid of MPI rank `rank` among the descendants of `parent` (read from OMPI_COMM_WORLD_RANK in /proc).
    static func rank(_ rank: Int, under parent: Int32) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for e in entries {
            guard let pid = Int32(e), pid != parent,
                let env = FileManager.default.contents(atPath: "/proc/\(e)/environ"),
                let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8)
            else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") else { continue }
            // Only a descendant of this test's mpirun.
            var ppid = Int32(stat.split(separator: ")").last?.split(separator: " ").dropFirst(1).first ?? "") ?? 0
            for _ in 0..<4 where ppid != parent && ppid > 1 {
                let s = (try? String(contentsOfFile: "/proc/\(ppid)/stat", encoding: .utf8)) ?? ""
                ppid = Int32(s.split(separator: ")").last?.split(separator: " ").dropFirst(1).first ?? "") ?? 0
            }
            if ppid == parent { return pid }
        }
        return nil
    }
}
