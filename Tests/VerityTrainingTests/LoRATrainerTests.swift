// Training with LoRA (issue 23, item 4) on the toy recipe: only the adapters move (the base's bytes stay the
// fixture's), the KL reference is the base with the adapters off (KL exactly 0 while B = 0, at the first step), the
// sampler (adapters merged into its packed copy) matches the trainer within 1e-5 at every step, checkpoints hold
// PEFT's files and resume byte for byte, and peft + transformers score the checkpoint and `verity merge`'s folder
// as Verity does (skipped when they are not installed). Contracts: 1 (resume, one machine) and 3 (log-probs).
import Foundation
import XCTest
import VerityFixtures
import VerityModel
@testable import VerityTraining

final class LoRATrainerTests: XCTestCase {
    /// The toy run with adapters, and the KL term on (against the base) when `kl`.
    func loraRun(steps: Int, saveEvery: Int, kl: Bool = true) throws -> ToyRun {
        let run = try ToyRun(steps: steps, lr: 3e-2, saveEvery: saveEvery, extra: "lora = { rank = 4, alpha = 8 },")
        let url = run.root.appendingPathComponent("toy.lua")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(
            of: "return { pg = 1.0 }", with: kl ? "return { pg = 1.0, kl = 0.05 }" : "return { pg = 1.0 }"
        ).write(to: url, atomically: true, encoding: .utf8)
        return run
    }

    func testOnlyTheAdaptersTrainAndTheBaseIsTheReference() throws {
        let run = try loraRun(steps: 4, saveEvery: 2)
        let t = try run.trainer()
        XCTAssertNil(t.reference, "no copy of the model is loaded for the reference")
        XCTAssertTrue(t.referenceIsBase)
        let adapters = try XCTUnwrap(t.model.adapters)
        XCTAssertEqual(t.optimizer.firstMoment.count, adapters.store.count, "optimizer state for the adapters only")
        let m = try t.run()
        let base = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        XCTAssertEqual(t.model.store.values.values, base.store.values.values, "the base is frozen")
        XCTAssertTrue(t.model.store.variables.allSatisfy { $0.grad == nil }, "and holds no gradient")
        let b = adapters.store.variables[adapters.pairs.values.first?.b ?? 1].value.values
        XCTAssertTrue(b.contains { $0 != 0 }, "B moved from 0")
        XCTAssertEqual(m[0]["kl"] ?? 1, 0, accuracy: 1e-9, "step 1: B = 0, so the policy is its reference")
        XCTAssertGreaterThan(m[3]["kl"] ?? 0, 0, "later the adapters move the policy off its base")
        for s in m {
            XCTAssertLessThan(
                s["logprob_mismatch_mean_abs"] ?? 1, 1e-5, "step \(s["step"] ?? 0): sampler (merged) vs trainer (side product)")
            XCTAssertEqual(s["ratio_outside_0.9_1.1"], 0)
        }
        let ck = run.root.appendingPathComponent("run/checkpoints/step-4")
        let fm = FileManager.default
        for f in ["adapter_config.json", "adapter_model.safetensors", "config.json", "tokenizer.json", "trainer.json"] {
            XCTAssertTrue(fm.fileExists(atPath: ck.appendingPathComponent(f).path), f)
        }
        XCTAssertFalse(fm.fileExists(atPath: ck.appendingPathComponent("model.safetensors").path), "no full weights")
        // The checkpoint folder loads (base + adapters merged) and scores as the trainer's model does.
        let ids: [Int32] = [12, 7, 99, 500, 3, 1000, 42, 42, 8]
        let loaded = try TransformerModel.load(directory: ck)
        XCTAssertLessThan(try maxGap(loaded, t.model, ids), 1e-5)
    }

    func maxGap(_ a: TransformerModel, _ b: TransformerModel, _ ids: [Int32]) throws -> Float {
        func lp(_ m: TransformerModel) throws -> [Float] {
            let h = try m.hiddenStates(ids: Array(ids.dropLast()), batch: 1, trainable: false)
            return m.tokenLogProbs(hidden: h, targets: Array(ids.dropFirst()), trainable: false).logprobs.value.values
        }
        return zip(try lp(a), try lp(b)).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testResumeWithLoRAIsByteIdentical() throws {
        let run = try loraRun(steps: 4, saveEvery: 2)
        let whole = try run.trainer(run: "a")
        try whole.run()
        _ = try run.trainer(run: "b", maxSteps: 3).run()
        let resumed = try run.trainer(run: "b", resume: true)
        try resumed.run()
        XCTAssertEqual(try run.metrics("a").map(deterministic), try run.metrics("b").map(deterministic))
        for f in ["adapter_model.safetensors", "optimizer.safetensors", "adapter_config.json"] {
            XCTAssertEqual(
                try Data(contentsOf: run.root.appendingPathComponent("a/checkpoints/step-4/\(f)")),
                try Data(contentsOf: run.root.appendingPathComponent("b/checkpoints/step-4/\(f)")), "byte-identical \(f)")
        }
        // A full fine-tuning recipe cannot resume a LoRA run, and another rank cannot either: both are named.
        let text = try String(contentsOf: run.root.appendingPathComponent("toy.lua"), encoding: .utf8)
        try text.replacingOccurrences(of: "lora = { rank = 4, alpha = 8 },", with: "").write(
            to: run.root.appendingPathComponent("toy.lua"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try run.trainer(run: "b", resume: true).run()) {
            XCTAssertTrue("\($0)".contains("LoRA adapters"), "\($0)")
        }
        try text.replacingOccurrences(of: "rank = 4", with: "rank = 2").write(
            to: run.root.appendingPathComponent("toy.lua"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try run.trainer(run: "b", resume: true).run()) {
            XCTAssertTrue("\($0)".contains("trained parameters"), "\($0)")
        }
    }

    func testPEFTAndTransformersScoreTheCheckpointAndTheMergedFolder() throws {
        let run = try loraRun(steps: 2, saveEvery: 0, kl: false)
        let t = try run.trainer()
        try t.run()
        let ck = run.root.appendingPathComponent("run/checkpoints/step-2")
        let merged = run.root.appendingPathComponent("merged")
        try AdapterMerge.write(adapterFolder: ck, to: merged, dtype: .f32)
        let ids: [Int32] = [12, 7, 99, 500, 3, 1000, 42, 42, 8, 17, 640]
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/score_peft.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, ck.path, merged.path, ids.map(String.init).joined(separator: ",")]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("python3 is not installed") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 3 || p.terminationStatus == 127 {
            throw XCTSkip("torch/transformers/peft are not installed")
        }
        XCTAssertEqual(p.terminationStatus, 0)
        let theirs = try JSONDecoder().decode([String: [Double]].self, from: data)
        let h = try t.model.hiddenStates(ids: Array(ids.dropLast()), batch: 1, trainable: false)
        let mine = t.model.tokenLogProbs(hidden: h, targets: Array(ids.dropFirst()), trainable: false).logprobs.value
            .values
        for key in ["adapter", "merged"] {
            let lp = try XCTUnwrap(theirs[key])
            XCTAssertEqual(lp.count, mine.count)
            let worst = zip(mine, lp).map { abs(Double($0) - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 1e-4, key)
            print("LORA \(key) scored by peft/transformers: max |Δ log-prob| \(worst)")
        }
        let base = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        XCTAssertGreaterThan(try maxGap(base, t.model, ids), 1e-4, "the adapters moved the model")
    }
}
