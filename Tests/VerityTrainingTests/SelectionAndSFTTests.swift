// Data selection by historical variance against the paper's own history file (its documented
// ranking: pi1 = 124, pi2 = 267, pi13 = 682, pi1209 = 789; the `lim` top three computed by the
// paper's script's rules in Python), and SFT on the tiny fixture: packed rows compute what separate
// rows do, the loss falls on a fixed response, the prompt is masked, and a resumed run is identical.
import Foundation
import XCTest
import VerityFixtures
import VerityLua
import VerityModel
import VerityTensor
@testable import VerityTraining

final class SelectionTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testStdRankingOfThePapersHistory() throws {
        let h = try AccuracyHistory.read(Self.repo.appendingPathComponent("data/selection/acc_step_500.json"))
        XCTAssertEqual(h.entries.count, 1209)
        XCTAssertEqual(h.entries.first?.key, "1033", "file order kept")
        let ranked = HistoricalVariance.rank(h, method: .std)
        XCTAssertEqual(ranked.count, 1209)
        XCTAssertEqual(ranked.prefix(3).map(\.key), ["124", "267", "531"])
        XCTAssertEqual(ranked[0].score, 0.4068, accuracy: 5e-5)
        XCTAssertEqual(ranked[1].score, 0.3961, accuracy: 5e-5)
        XCTAssertEqual(ranked[12].key, "682")
        XCTAssertEqual(ranked[12].score, 0.2726, accuracy: 5e-5)
        // 104 examples score 0; the stable sort keeps their file order, so the last of them in the file is last.
        XCTAssertEqual(ranked.filter { $0.score == 0 }.count, 104)
        XCTAssertEqual(ranked.last?.key, "789")
    }

    func testLimRankingOfThePapersHistory() throws {
        let h = try AccuracyHistory.read(Self.repo.appendingPathComponent("data/selection/acc_step_500.json"))
        let ranked = HistoricalVariance.rank(h, method: .lim)
        // From the rules of the paper's data_selection.py, computed in Python: m = 44.
        XCTAssertEqual(ranked.prefix(3).map(\.key), ["416", "964", "569"])
        XCTAssertEqual(ranked[0].score, 0.940892, accuracy: 1e-6)
        XCTAssertEqual(ranked[1].score, 0.939494, accuracy: 1e-6)
        XCTAssertEqual(ranked[2].score, 0.938801, accuracy: 1e-6)
    }

    func testHandMadeHistoryTiesEmptyListsAndBadFiles() throws {
        let text = #"{"b": [0, 1], "a": [0.5, 0.5], "c": [], "d": [1, 0], "e\"x": [0.25]}"#
        let h = try AccuracyHistory.parse(Data(text.utf8), file: "h.json")
        XCTAssertEqual(h.entries.map(\.key), ["b", "a", "c", "d", "e\"x"])
        // std: b and d tie at 0.5 (file order b, d), a and e"x tie at 0; c is never drawn and left out.
        XCTAssertEqual(HistoricalVariance.rank(h, method: .std).map(\.key), ["b", "d", "a", "e\"x"])
        XCTAssertEqual(HistoricalVariance.rank(h, method: .std).map(\.score), [0.5, 0.5, 0, 0])
        // lim over m = 1 entry: the means are 0.4375; score = 1 - (a - 0.4375)^2 / (1 - 0.4375)^2.
        let lim = HistoricalVariance.rank(h, method: .lim)
        let expected: [String: Double] = [
            "b": 1 - 0.4375 * 0.4375 / (0.5625 * 0.5625), "a": 1 - 0.0625 * 0.0625 / (0.5625 * 0.5625),
            "d": 0, "e\"x": 1 - 0.1875 * 0.1875 / (0.5625 * 0.5625),
        ]
        XCTAssertEqual(lim.map(\.key), ["a", "e\"x", "b", "d"])
        for s in lim { XCTAssertEqual(s.score, expected[s.key]!, accuracy: 1e-12, s.key) }
        // Round trip through the writer.
        XCTAssertEqual(try AccuracyHistory.parse(Data(h.jsonText().utf8), file: "back"), h)
        for (bad, what) in [
            ("[1, 2]", "h.json:1: expected '{'"), ("{\"a\": [1, \"x\"]}", "expected a number"),
            ("{\"a\": [1],\n \"a\": [2]}", "h.json:2: key \"a\" appears twice"), ("{\"a\": [1]} x", "text after"),
        ] {
            XCTAssertThrowsError(try AccuracyHistory.parse(Data(bad.utf8), file: "h.json"), bad) { e in
                XCTAssertTrue("\(e)".contains(what), "\(e)")
            }
        }
    }
}

extension SelectionTests {
    /// The demo's 1-shot example is what `verity select --method std --top 1` picks from the full-pool run's history.
    func testTheDemosPi1IsTheFirstByHistoricalVariance() throws {
        let h = try AccuracyHistory.read(Self.repo.appendingPathComponent("data/demo/pool500_history.json"))
        XCTAssertEqual(h.entries.count, 500)
        let top = HistoricalVariance.rank(h, method: .std)[0]
        let pi1 = try String(contentsOf: Self.repo.appendingPathComponent("data/demo/pi1.jsonl"), encoding: .utf8)
        XCTAssertEqual(
            try HistoricalVariance.select(
                keys: [top.key], from: Self.repo.appendingPathComponent("data/demo/pool500.jsonl")
            )
            .map { $0 + "\n" }.joined(), pi1)
    }

    func testSelectedExamplesAreCopiedInRankOrder() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sel-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("{\"index\": 7, \"p\": \"a\"}\n\n{\"index\": 3,  \"p\": \"b\"}\n{\"p\": \"c\"}\n".utf8).write(to: url)
        XCTAssertEqual(
            try HistoricalVariance.select(keys: ["3", "7"], from: url),
            ["{\"index\": 3,  \"p\": \"b\"}", "{\"index\": 7, \"p\": \"a\"}"])
        XCTAssertEqual(try HistoricalVariance.select(keys: ["2"], from: url), ["{\"p\": \"c\"}"], "no index: position")
        XCTAssertThrowsError(try HistoricalVariance.select(keys: ["9"], from: url)) {
            XCTAssertTrue("\($0)".contains("no example with key 9"), "\($0)")
        }
    }
}

final class PackedRowsTests: XCTestCase {
    /// Log-probs and gradients of sequences packed into one row equal those of the same sequences in separate rows.
    func testPackedRowsComputeWhatSeparateRowsDo() throws {
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let seqs: [[Int32]] = [[5, 9, 14, 3, 77], [8, 2, 41], [30, 31, 32, 33, 34, 35, 36], [12, 99]]
        let separate = try TokenBatch(sequences: seqs)
        let packed = try TokenBatch(packedRows: [[seqs[0], seqs[1]], [seqs[2]], [seqs[3], seqs[1], seqs[0]]])
        XCTAssertEqual(packed.positions.suffix(10), [0, 1, 0, 1, 2, 0, 1, 2, 3, 4])
        func run(_ b: TokenBatch, pick: [(row: Int, token: Int)]) throws -> ([Float], [Float]) {
            model.zeroGrad()
            let h = try model.hiddenStates(b, trainable: true)
            let targets = b.nextTokenTargets
            var w = [Float](repeating: 0, count: b.rows * b.length)
            for p in pick { w[b.flatIndex(row: p.row, token: p.token)] = 1 }
            let (loss, lp, _) = model.tokenLoss(
                hidden: h, targets: targets, trainable: true, loss: { i, l, _ in (w[i] * -l, -w[i], 0) })
            loss.backward()
            model.store.finalizeGradients()
            return (pick.map { lp.values[b.flatIndex(row: $0.row, token: $0.token)] }, model.store.gradients.values)
        }
        // Every predicting token of sequences 0, 1, 2 (their last tokens predict nothing).
        let a = try run(separate, pick: [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)] + (0..<6).map { (2, $0) })
        let b = try run(packed, pick: [(0, 0), (0, 1), (0, 2), (0, 3), (0, 5), (0, 6)] + (0..<6).map { (1, $0) })
        for (x, y) in zip(a.0, b.0) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        let scale = a.1.map(abs).max() ?? 1
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThan(zip(a.1, b.1).map { abs($0 - $1) }.max() ?? 1, 1e-5 * scale)
        // A sequence's last token does not predict the next one's first.
        XCTAssertEqual(packed.nextTokenTargets[packed.flatIndex(row: 0, token: 4)], 0)
        XCTAssertEqual(packed.nextTokenTargets[packed.flatIndex(row: 0, token: 3)], 77)
        // Micro-batches of packed rows keep their segments.
        let micro = try packed.micro(rowsPerBatch: 2)
        XCTAssertEqual(micro.map(\.segments), [[[5, 3], [7]], [[2, 3, 5]]])
    }

    func testPackingIsFirstFitLongestFirst() {
        XCTAssertEqual(Trainer.pack([6, 5, 4, 3, 2], capacity: 8), [[0, 4], [1, 3], [2]])
        XCTAssertEqual(Trainer.pack([8, 8], capacity: 8), [[0], [1]])
    }
}

/// A temporary SFT run on the tiny fixture: each example's response is fixed text.
final class SFTRun {
    let root: URL
    init(steps: Int, pack: Int, extra: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("verity-sft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data(
            ("{\"prompt\": \"Two plus two is\", \"solution\": \" four, so \\\\boxed{4}.\", \"answer\": \"4\"}\n"
                + "{\"prompt\": \"Three and one make\", \"solution\": \" four: \\\\boxed{4}.\", \"answer\": \"4\"}\n"
                + "{\"prompt\": \"Half of eight is\", \"solution\": \" 4, that is \\\\boxed{4}.\", \"answer\": \"4\"}\n")
                .utf8
        ).write(to: root.appendingPathComponent("data.jsonl"))
        let recipe = """
            return {
              name = "sft-toy",
              model = "\(Fixtures.url("tiny-qwen2").path)",
              algorithm = "sft",
              sft = { response_field = "solution", max_tokens = 64, pack_tokens = \(pack) },
              train = { data = "\(root.path)/data.jsonl", batch_size = 6, repeat_to = 6 },
              prompt = require "prompts.raw",
              reward = function(sample) return 0 end,
              optimizer = { lr = 1e-2, weight_decay = 0.0, max_grad_norm = 1.0 },
              update = { micro_batch_size = 2 },
              loss = function(step, terms) return { sft = 1.0 } end,
              steps = \(steps), save_every = 2, seed = 5,
              \(extra)
            }
            """
        try Data(recipe.utf8).write(to: root.appendingPathComponent("sft.lua"))
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    func trainer(run: String = "run", resume: Bool = false, maxSteps: Int? = nil) throws -> Trainer {
        try quietTrainer(
            recipe: root.appendingPathComponent("sft.lua"), run: root.appendingPathComponent(run), resume: resume,
            maxSteps: maxSteps)
    }
}

final class SFTTests: XCTestCase {
    func testLossFallsAndPackedEqualsUnpacked() throws {
        let packed = try SFTRun(steps: 8, pack: 64), plain = try SFTRun(steps: 8, pack: 0)
        let mp = try packed.trainer().run(), mu = try plain.trainer().run()
        XCTAssertEqual(mp.count, 8)
        // Same examples, same weights: the first step's loss is the same packed or not (float32 rounding apart).
        XCTAssertEqual(mp[0]["sft_loss"] ?? 0, mu[0]["sft_loss"] ?? 1, accuracy: 1e-5 * (mu[0]["sft_loss"] ?? 1))
        XCTAssertLessThan(mp[0]["rows"] ?? 9, mu[0]["rows"] ?? 0, "packing uses fewer rows")
        XCTAssertEqual(mu[0]["rows"], 6)
        let first = mp[0]["sft_loss"] ?? 0, last = mp[7]["sft_loss"] ?? 0
        XCTAssertGreaterThan(first, 1)
        // Margin (issue 22): over 16 seeds under OpenBLAS's Haswell, SkylakeX and Cooperlake kernels (48 runs,
        // Scripts/audit/toy_spread.py --algorithm sft, 2026-12-06) the last loss is 0.0019 of the first, std 1e-8.
        XCTAssertLessThan(last, first * 0.5, "SFT loss \(first) -> \(last)")
        print("SFT toy: loss \(first) -> \(last) over 8 steps; rows packed \(mp[0]["rows"] ?? 0) vs 6")
    }

    /// SFT trains LoRA adapters too, over a base frozen in bfloat16: only the adapters change, the loss falls, and the
    /// checkpoint is PEFT's layout.
    func testLoRAUnderSFTTrainsTheAdaptersOverABFloat16Base() throws {
        let run = try SFTRun(
            steps: 8, pack: 64, extra: "lora = { rank = 4, alpha = 8 }, reference = { dtype = \"bf16\" },")
        let t = try run.trainer()
        XCTAssertNotNil(t.model.adapters)
        XCTAssertEqual(t.model.frozenBF16.count, t.model.layers.count * 7)
        let norm = t.model.store.variables[t.model.finalNormIndex].value.values
        let m = try t.run()
        let first = m[0]["sft_loss"] ?? 0, last = m[7]["sft_loss"] ?? 0
        XCTAssertLessThan(last, first * 0.9, "SFT loss with LoRA \(first) -> \(last)")
        XCTAssertEqual(t.model.store.variables[t.model.finalNormIndex].value.values, norm, "the base is frozen")
        let ckpt = run.root.appendingPathComponent("run/checkpoints/step-8")
        let fm = FileManager.default
        XCTAssertTrue(fm.fileExists(atPath: ckpt.appendingPathComponent("adapter_model.safetensors").path))
        XCTAssertTrue(fm.fileExists(atPath: ckpt.appendingPathComponent("adapter_config.json").path))
        XCTAssertFalse(fm.fileExists(atPath: ckpt.appendingPathComponent("model.safetensors").path))
        print("SFT toy with LoRA rank 4 on a bf16 base: loss \(first) -> \(last) over 8 steps")
    }

    func testTheLossIsTheMeanResponseNLLWithThePromptMasked() throws {
        // Recompute step 1's loss by hand from the base model: the mean of -log p over response tokens (and EOS) only.
        let run = try SFTRun(steps: 1, pack: 0, extra: "")
        let t = try run.trainer()
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let examples = t.loaded.trainExamples
        var indices = t.sampler
        let drawn = indices.next(6)
        var total = 0.0, count = 0
        for i in drawn {
            let prompt = t.tokenizer.encodeInt32(examples[i]["prompt"]!.stringValue!)
            let response = try t.sftResponse(i)
            XCTAssertEqual(
                response.last.map(Int.init), t.tokenizer.eosTokenID ?? t.engine.eosTokenIds.min().map(Int.init))
            let seq = prompt + response
            let b = try TokenBatch(sequences: [seq])
            let lp = model.tokenLogProbs(
                hidden: try model.hiddenStates(b, trainable: false), targets: b.nextTokenTargets, trainable: false
            ).logprobs.value.values
            for k in (prompt.count - 1)..<(seq.count - 1) { total -= Double(lp[k]); count += 1 }
        }
        let m = try t.run()
        XCTAssertEqual(m[0]["response_tokens"], Double(count))
        XCTAssertEqual(m[0]["sft_loss"] ?? 0, total / Double(count), accuracy: 1e-5 * total / Double(count))
    }

    func testResumeGivesTheUninterruptedRunAndRecipesAreChecked() throws {
        let run = try SFTRun(steps: 4, pack: 64)
        let whole = try run.trainer(run: "a")
        try whole.run()
        _ = try run.trainer(run: "b", maxSteps: 3).run()
        let resumed = try run.trainer(run: "b", resume: true)
        try resumed.run()
        XCTAssertEqual(resumed.step, 4)
        let fa = try Data(contentsOf: run.root.appendingPathComponent("a/checkpoints/step-4/model.safetensors"))
        let fb = try Data(contentsOf: run.root.appendingPathComponent("b/checkpoints/step-4/model.safetensors"))
        XCTAssertEqual(fa, fb, "byte-identical checkpoints")
        // A recipe without the response field, a loss mix without sft, a pack size under max_tokens.
        let bad = try SFTRun(steps: 1, pack: 0, extra: "")
        try Data("{\"prompt\": \"x\", \"answer\": \"1\"}\n".utf8).write(
            to: bad.root.appendingPathComponent("data.jsonl"))
        XCTAssertThrowsError(try bad.trainer()) { XCTAssertTrue("\($0)".contains("solution"), "\($0)") }
        let nosft = try SFTRun(steps: 1, pack: 0)
        let text = try String(contentsOf: nosft.root.appendingPathComponent("sft.lua"), encoding: .utf8)
            .replacingOccurrences(of: "return { sft = 1.0 }", with: "return { pg = 1.0 }")
        try Data(text.utf8).write(to: nosft.root.appendingPathComponent("sft.lua"))
        XCTAssertThrowsError(try nosft.trainer().run()) { XCTAssertTrue("\($0)".contains("`sft`"), "\($0)") }
        XCTAssertThrowsError(try SFTRun(steps: 1, pack: 10).trainer()) {
            XCTAssertTrue("\($0)".contains("pack_tokens"), "\($0)")
        }
    }
}
