// LoRA adapters on the fixture model (issue 23, item 4): a fresh adapter (B = 0) leaves the model equal to the base;
// a trained one (random B) gives the log-probs of the base with s·B·A merged into its weights; switched off, the base
// alone (the reference under LoRA). Gradients reach the adapters only, and equal central differences of the model's
// loss. PEFT's files round-trip, a folder of adapters loads as its merged base, `AdapterMerge` writes that folder, and
// bad settings or mismatched files fail naming the key or tensor. Relies on contract 3 (within a tolerance, any CPU).
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

final class LoRATests: XCTestCase {
    let ids: [Int32] = [5, 17, 300, 41, 9, 77, 2, 900, 13, 13, 600, 1]

    func fixture() throws -> TransformerModel { try TransformerModel.load(directory: Fixtures.url("tiny-qwen2")) }

    func logProbs(_ m: TransformerModel, adapters: Bool = true) throws -> [Float] {
        let h = try m.hiddenStates(ids: Array(ids.dropLast()), batch: 1, trainable: false, adapters: adapters)
        return m.tokenLogProbs(hidden: h, targets: Array(ids.dropFirst()), trainable: false).logprobs.value.values
    }

    /// Adapters on every projection with PEFT's initialisation, then B drawn at random (as if trained).
    func trainedAdapters(_ m: TransformerModel, rank: Int = 4, targets: [LoRATarget] = LoRATarget.allCases) throws
        -> LoRAAdapters
    {
        var g = SeededGenerator(seed: 3)
        let a = try LoRAAdapters.initialized(
            for: m, settings: LoRASettings(rank: rank, alpha: 8, targets: targets), generator: &g)
        for (_, pair) in a.pairs {
            let b = a.store.variables[pair.b].value
            for e in 0..<b.count { b.data[e] = 0.05 * g.normal() }
        }
        a.store.bumpVersion()
        return a
    }

    func assertClose(_ x: [Float], _ y: [Float], _ tol: Float, _ what: String, file: StaticString = #filePath,
        line: UInt = #line)
    {
        XCTAssertEqual(x.count, y.count, what, file: file, line: line)
        let worst = zip(x, y).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, tol, what, file: file, line: line)
    }

    func testFreshAdaptersLeaveTheBaseAndTrainedOnesEqualTheMergedWeights() throws {
        let m = try fixture(), base = try logProbs(m)
        var g = SeededGenerator(seed: 1)
        let fresh = try LoRAAdapters.initialized(
            for: m, settings: LoRASettings(rank: 8, alpha: 16, targets: [.q, .v]), generator: &g)
        XCTAssertEqual(fresh.store.count, 2 * (8 * 64 + 64 * 8) + 2 * (8 * 64 + 32 * 8), "A and B of q and v, 2 layers")
        let bound = 1 / Float(64).squareRoot()
        let a0 = fresh.store.variables[0].value.values
        XCTAssertTrue(a0.allSatisfy { abs($0) <= bound } && Set(a0).count > 100, "A ~ U(-1/sqrt(in), 1/sqrt(in))")
        m.attach(fresh)
        assertClose(try logProbs(m), base, 0, "B = 0: the adapted model is the base")

        let trained = try trainedAdapters(m)
        m.attach(trained)
        let adapted = try logProbs(m)
        XCTAssertGreaterThan(zip(adapted, base).map { abs($0 - $1) }.max() ?? 0, 1e-3, "the adapters change the model")
        assertClose(try logProbs(m, adapters: false), base, 0, "switched off: the base (the reference under LoRA)")
        let merged = try fixture()
        trained.merge(into: merged)
        assertClose(try logProbs(merged), adapted, 1e-5, "x·Wᵀ + s·(x·Aᵀ)·Bᵀ equals x·(W + s·B·A)ᵀ")
    }

    func testGradientsReachOnlyTheAdaptersAndEqualCentralDifferences() throws {
        let m = try fixture()
        let adapters = try trainedAdapters(m, rank: 2, targets: [.q, .k, .o, .down])
        m.attach(adapters)
        let input = Array(ids.dropLast()), targets = Array(ids.dropFirst())
        func loss() throws -> Double {
            let h = try m.hiddenStates(ids: input, batch: 1, trainable: false)
            return m.tokenLogProbs(hidden: h, targets: targets, trainable: false).logprobs.value.values
                .reduce(0) { $0 + Double($1) }
        }
        m.zeroGrad()
        let h = try m.hiddenStates(ids: input, batch: 1, trainable: true)
        Ops.sum(m.tokenLogProbs(hidden: h, targets: targets, trainable: true).logprobs).backward()
        XCTAssertTrue(m.store.variables.allSatisfy { $0.grad == nil }, "the frozen base holds no gradient")
        adapters.store.finalizeGradients()
        let grads = adapters.store.gradients.values
        let scale = grads.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0)
        // Central differences on elements of A and B in both layers (float32 forward: ε = 1e-2 as the op checks use).
        let eps: Float = 1e-2
        var worst = 0.0
        for v in 0..<adapters.store.variables.count {
            let t = adapters.store.variables[v].value
            for e in [0, t.count / 3, t.count - 1] {
                let saved = t.data[e]
                t.data[e] = saved + eps
                let up = try loss()
                t.data[e] = saved - eps
                let down = try loss()
                t.data[e] = saved
                let numeric = (up - down) / Double(2 * eps)
                let analytic = Double(grads[adapters.store.offsets[v] + e])
                worst = max(worst, abs(numeric - analytic) / scale)
            }
        }
        XCTAssertLessThan(worst, 2e-2, "adapter gradients against central differences, relative to max |grad|")
    }

    func testPEFTFilesRoundTripAndAFolderOfAdaptersLoadsMerged() throws {
        let m = try fixture()
        let trained = try trainedAdapters(m, rank: 3, targets: [.q, .k, .v, .o, .gate, .up, .down])
        m.attach(trained)
        let adapted = try logProbs(m)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-lora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ck = dir.appendingPathComponent("adapter")
        try trained.save(to: ck, baseModel: Fixtures.url("tiny-qwen2").path)
        let config = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: ck.appendingPathComponent("adapter_config.json")))
        XCTAssertEqual(config["peft_type"]?.stringValue, "LORA")
        XCTAssertEqual(config["r"]?.intValue, 3)
        XCTAssertEqual(config["lora_alpha"]?.intValue, 8)
        XCTAssertEqual(
            config["target_modules"], .array(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"].map { .string($0) }))
        let file = try SafeTensorsFile(url: ck.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(
            file.entries["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"]?.shape, [64, 3], "PEFT's names")
        XCTAssertEqual(
            file.entries["base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"]?.shape, [3, 64])

        let back = try LoRAAdapters.load(from: ck, model: try fixture())
        XCTAssertEqual(back.settings, trained.settings)
        XCTAssertEqual(back.store.values.values, trained.store.values.values, "float32 round trip")
        XCTAssertTrue(TransformerModel.holdsAdapters(ck))
        assertClose(try logProbs(try TransformerModel.load(directory: ck)), adapted, 1e-5, "a folder of adapters loads merged")

        let out = dir.appendingPathComponent("merged")
        try AdapterMerge.write(adapterFolder: ck, to: out, dtype: .f32)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer.json").path))
        assertClose(try logProbs(try TransformerModel.load(directory: out)), adapted, 1e-5, "the merged folder")
        XCTAssertThrowsError(try AdapterMerge.write(adapterFolder: ck, to: out, dtype: .f32), "out is not empty") {
            XCTAssertTrue("\($0)".contains("not empty"), "\($0)")
        }
    }

    func testBadSettingsAndMismatchedFilesAreNamed() throws {
        let m = try fixture()
        var g = SeededGenerator(seed: 1)
        func message(_ s: LoRASettings) -> String {
            do {
                _ = try LoRAAdapters.initialized(for: m, settings: s, generator: &g, source: "r.lua")
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message(LoRASettings(rank: 0, alpha: 1, targets: [.q])).contains("'rank'"))
        let wide = message(LoRASettings(rank: 33, alpha: 1, targets: [.q, .k]))
        XCTAssertTrue(wide.contains("k_proj") && wide.contains("at most 32"), wide)
        XCTAssertEqual(message(LoRASettings(rank: 32, alpha: 1, targets: [.q, .k])), "", "32 fits k_proj [32, 64]")
        XCTAssertTrue(message(LoRASettings(rank: 2, alpha: 1, targets: [])).contains("'targets'"))
        XCTAssertNil(LoRATarget(name: "qq_proj"))
        XCTAssertEqual(LoRATarget(name: "gate_proj"), .gate)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-lora-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = try trainedAdapters(m, rank: 2, targets: [.q])
        try small.save(to: dir, baseModel: Fixtures.url("tiny-qwen2").path)
        let configURL = dir.appendingPathComponent("adapter_config.json")
        let good = try String(contentsOf: configURL, encoding: .utf8)
        func loadMessage() -> String {
            do {
                _ = try LoRAAdapters.load(from: dir, model: m)
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertEqual(loadMessage(), "")
        // A config whose rank disagrees with the tensors: the tensor is named with both shapes.
        try good.replacingOccurrences(of: "\"r\" : 2", with: "\"r\" : 4").write(to: configURL, atomically: true, encoding: .utf8)
        XCTAssertTrue(loadMessage().contains("lora_A.weight' has shape [2, 64], expected [4, 64]"), loadMessage())
        // Targets the tensors do not hold: the missing tensor is named.
        try good.replacingOccurrences(of: "\"q_proj\"", with: "\"q_proj\", \"v_proj\"").write(
            to: configURL, atomically: true, encoding: .utf8)
        XCTAssertTrue(loadMessage().contains("v_proj.lora_A.weight"), loadMessage())
        // Fewer targets than the tensors: the extra tensor is named.
        try good.replacingOccurrences(of: "\"q_proj\"", with: "\"k_proj\"").write(
            to: configURL, atomically: true, encoding: .utf8)
        XCTAssertTrue(loadMessage().contains("missing tensor"), loadMessage())
        try good.replacingOccurrences(of: "\"q_proj\"", with: "\"qkv_proj\"").write(
            to: configURL, atomically: true, encoding: .utf8)
        XCTAssertTrue(loadMessage().contains("'qkv_proj' is not a projection"), loadMessage())
        try good.replacingOccurrences(of: "\"use_rslora\" : false", with: "\"use_rslora\" : true").write(
            to: configURL, atomically: true, encoding: .utf8)
        XCTAssertTrue(loadMessage().contains("use_rslora"), loadMessage())
        // A base that does not exist.
        try good.replacingOccurrences(of: Fixtures.url("tiny-qwen2").path, with: "/nonexistent/base").write(
            to: configURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) {
            XCTAssertTrue("\($0)".contains("base_model_name_or_path"), "\($0)")
        }
    }
}
