// Rollout engine tests against the tiny-qwen2 fixture: greedy generations equal transformers'
// (`generation.single` and `generation.left_padded_batch` in reference.json), cached decode logits
// equal a full recompute by the trainer's forward, sampled log-probs equal the trainer's token
// log-probs, tokens do not depend on batch size or thread count, prefix sharing prefills once,
// stop rules, continuous batching and the memory budget.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
import VerityModel
@testable import VeritySampling

// MARK: - Fixture reading

/// The generation part of tiny-qwen2/reference.json.
struct GenerationReference: Decodable {
    struct Single: Decodable {
        let input_ids: [Int32]
        let new_token_ids: [Int32]
        let new_token_logprobs: [Float]
        let stopped_on_eos: Bool
    }
    struct Row: Decodable {
        let prompt_ids_unpadded: [Int32]
        let new_token_ids: [Int32]
        let new_token_logprobs: [Float]
    }
    struct Batch: Decodable {
        let rows: [Row]
    }
    struct Generation: Decodable {
        let max_new_tokens: Int
        let eos_token_ids: [Int]
        let single: [Single]
        let left_padded_batch: Batch
    }
    let generation: Generation

    static func load() throws -> GenerationReference {
        try JSONDecoder().decode(GenerationReference.self, from: Fixtures.data("tiny-qwen2/reference.json"))
    }
}

func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The engine over the tiny checkpoint with adjusted options.
func tinyEngine(_ configure: (inout EngineOptions) -> Void = { _ in }) throws -> RolloutEngine {
    var o = EngineOptions()
    configure(&o)
    return try RolloutEngine.load(directory: Fixtures.url("tiny-qwen2"), options: o)
}

/// Detokenizer for tests: token id t becomes "<t>".
struct BracketDetokenizer: IncrementalDetokenizer {
    mutating func append(_ id: Int32) -> String { "<\(id)>" }
}

// MARK: - Tests

final class EngineTests: XCTestCase {
    func testGreedySingleMatchesTransformers() throws {
        let ref = try GenerationReference.load().generation
        let engine = try tinyEngine()
        XCTAssertTrue(engine.eosTokenIds.isSuperset(of: ref.eos_token_ids.map { Int32($0) }))
        let req = GenerationRequest(
            prompts: ref.single.map(\.input_ids), maxNewTokens: ref.max_new_tokens, sampling: .greedy)
        let out = try engine.generate(req)
        XCTAssertEqual(out.samples.count, ref.single.count)
        for (s, r) in zip(out.samples, ref.single) {
            XCTAssertEqual(s.tokens, r.new_token_ids)
            XCTAssertLessThan(maxAbs(s.logprobs, r.new_token_logprobs), 1e-4)
            XCTAssertEqual(s.finishReason, r.stopped_on_eos ? .stop : .length)
            XCTAssertEqual(s.samplingLogprobs, [Float](repeating: 0, count: s.tokens.count))
        }
    }

    func testGreedyLeftPaddedBatchMatchesTransformers() throws {
        let ref = try GenerationReference.load().generation
        let engine = try tinyEngine()
        // The engine batches prompts of different lengths without padding; each row must equal transformers' padded batch row.
        let rows = ref.left_padded_batch.rows
        let out = try engine.generate(
            GenerationRequest(
                prompts: rows.map(\.prompt_ids_unpadded), maxNewTokens: ref.max_new_tokens, sampling: .greedy))
        XCTAssertEqual(out.samples.count, rows.count)
        for (s, r) in zip(out.samples, rows) {
            XCTAssertEqual(s.tokens, r.new_token_ids)
            XCTAssertLessThan(maxAbs(s.logprobs, r.new_token_logprobs), 1e-4)
        }
        XCTAssertEqual(out.stats.peakLiveRows, 2)
    }

    /// Samples with a shared-prefix prompt set, recording the logits each token was drawn from.
    func sampledRun(share: Bool = true, weights: WeightFormat = .float32) throws
        -> (RolloutEngine, GenerationRequest, GenerationResult, [String: [Float]])
    {
        let engine = try tinyEngine {
            $0.sharePrefixes = share; $0.weights = weights
        }
        let ref = try GenerationReference.load().generation
        let base = ref.single[0].input_ids
        let prompts: [[Int32]] = [
            base, base + [17, 18, 19], Array(base.prefix(3)) + [400, 401], ref.single[1].input_ids,
        ]
        let req = GenerationRequest(
            prompts: prompts, samplesPerPrompt: 3, maxNewTokens: 20,
            sampling: SamplingParams(temperature: 1.0), seed: 42)
        var seen: [String: [Float]] = [:]
        let out = try engine.generate(
            req, observer: { e in seen["\(e.promptIndex)/\(e.sampleIndex)/\(e.tokenIndex)"] = Array(e.logits) })
        return (engine, req, out, seen)
    }

    /// Benchmarks force varying lengths: each sample ends after its own length, its tokens are the free run's
    /// prefix (the length cap changes no draw), and a list of the wrong size or a length past max_tokens is refused.
    func testForcedLengthsEndEachSampleAtItsOwnLength() throws {
        let engine = try tinyEngine { _ in }
        let ref = try GenerationReference.load().generation
        var req = GenerationRequest(
            prompts: [ref.single[0].input_ids, ref.single[1].input_ids], samplesPerPrompt: 3, maxNewTokens: 12,
            sampling: SamplingParams(temperature: 1.0), seed: 7, ignoreEOS: true)
        let free = try engine.generate(req)
        req.forcedLengths = [1, 12, 5, 7, 3, 9]
        let forced = try engine.generate(req)
        for (k, s) in forced.samples.enumerated() {
            XCTAssertEqual(s.tokens.count, req.forcedLengths?[k], "sample \(k)")
            XCTAssertEqual(s.finishReason, .length)
            XCTAssertEqual(s.tokens, Array(free.samples[k].tokens.prefix(s.tokens.count)), "sample \(k)")
        }
        req.forcedLengths = [1, 2, 3]
        XCTAssertThrowsError(try engine.generate(req)) { XCTAssertTrue("\($0)".contains("forced_lengths"), "\($0)") }
        req.forcedLengths = [1, 2, 3, 4, 5, 13]
        XCTAssertThrowsError(try engine.generate(req)) { XCTAssertTrue("\($0)".contains("13"), "\($0)") }
    }

    func testCachedDecodeLogitsEqualFullRecompute() throws {
        let (engine, req, out, seen) = try sampledRun()
        var worst: Float = 0, scale: Float = 1
        for s in out.samples {
            let prompt = req.prompts[s.promptIndex]
            let seq = prompt + s.tokens.dropLast()
            let hidden = try engine.model.hiddenStates(ids: seq, batch: 1, trainable: false)
            let full = engine.model.logits(hidden: hidden.value)
            let v = engine.model.config.vocabSize
            for i in 0..<s.tokens.count {
                guard let cached = seen["\(s.promptIndex)/\(s.sampleIndex)/\(i)"] else {
                    return XCTFail("no logits for token \(i)")
                }
                let row = Array(UnsafeBufferPointer(start: full.data + (prompt.count - 1 + i) * v, count: v))
                worst = max(worst, maxAbs(cached, row))
                scale = max(scale, row.map(abs).max() ?? 0)
            }
        }
        // Float32 rounding: two sgemm calls of different row counts already differ by ~1e-6 relative on these
        // logits (|z| up to ~6.5), so the bound is 1e-5 relative to the largest logit (absolute when |z| ≤ 1).
        XCTAssertLessThan(worst, 1e-5 * scale, "cached decode vs full recompute")
    }

    func testCachedDecodeEqualsUncachedPrefillExactly() throws {
        let (engine, req, out, seen) = try sampledRun()
        for s in out.samples.prefix(4) {
            for i in stride(from: 0, to: s.tokens.count, by: 3) {
                // The whole sequence so far as a fresh prompt: no cache reuse, one prefill pass.
                let seq = req.prompts[s.promptIndex] + s.tokens.prefix(i)
                var fresh: [Float] = []
                _ = try engine.generate(
                    GenerationRequest(prompts: [seq], maxNewTokens: 1, sampling: .greedy),
                    observer: { e in fresh = Array(e.logits) })
                XCTAssertEqual(
                    seen["\(s.promptIndex)/\(s.sampleIndex)/\(i)"], fresh,
                    "sample \(s.promptIndex)/\(s.sampleIndex) token \(i)")
            }
        }
    }

    /// Max |sampler log-prob − trainer (float32) log-prob| over every token of `out`.
    func trainerLogprobError(_ engine: RolloutEngine, _ req: GenerationRequest, _ out: GenerationResult) throws -> Float
    {
        var worst: Float = 0
        for s in out.samples {
            let seq = req.prompts[s.promptIndex] + s.tokens
            let hidden = try engine.model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false)
            let (lp, _) = engine.model.tokenLogProbs(hidden: hidden, targets: Array(seq.dropFirst()), trainable: false)
            worst = max(worst, maxAbs(s.logprobs, Array(lp.value.values.suffix(s.tokens.count))))
        }
        return worst
    }

    func testBF16LogprobErrorAgainstFloat32Model() throws {
        let (engine, req, out, _) = try sampledRun(weights: .bfloat16)
        XCTAssertEqual(engine.weightFormat, .bfloat16)
        let worst = try trainerLogprobError(engine, req, out)
        // bfloat16 keeps 8 significant bits: each weight moves by at most 2^-9 relative (0.2%). A logit z = Σ h·w then
        // moves by at most 2^-9·Σ|h·w| from the output layer alone (≈ 2^-9·|z|·a few, since terms partly cancel), and
        // by a like amount propagated from each earlier product; a log-prob z_t − logsumexp(z) moves by at most twice
        // the largest logit change. With |z| ≤ ~6.5 on this model and ~15 products on the path, 2·2^-9·6.5·4 ≈ 0.1 nats
        // is a safe ceiling (measured: see the message). The error must also be well above float32 rounding (1e-5),
        // or the bfloat16 store is not in use.
        XCTAssertLessThan(worst, 0.1, "bf16 vs float32 model log-probs: \(worst)")
        XCTAssertGreaterThan(worst, 1e-4, "bf16 vs float32 model log-probs: \(worst)")
        print("bf16 sampler vs float32 trainer log-prob, max abs over \(out.samples.count) samples: \(worst)")
        // bfloat16 rows are batch- and thread-invariant too.
        let one = try tinyEngine {
            $0.weights = .bfloat16; $0.maxBatch = 1; $0.threads = 2
        }.generate(req)
        XCTAssertEqual(one.samples, out.samples)
    }

    func testStaleWeightsAreRepackedWhenTheStoreVersionMoves() throws {
        let engine = try tinyEngine()
        let ref = try GenerationReference.load().generation
        let req = GenerationRequest(
            prompts: ref.single.map(\.input_ids), maxNewTokens: 8, sampling: SamplingParams(temperature: 1), seed: 9)
        let before = try engine.generate(req)
        XCTAssertEqual(engine.packedVersion, engine.model.store.version)
        // An optimizer step changes the weights in place and bumps the store's version: the next generate repacks.
        let store = engine.model.store, gate = engine.model.layers[0].gate
        let span = store.offsets[gate]..<(store.offsets[gate] + store.variables[gate].value.count)
        store.update { values, _ in for i in span { values[i] *= 1.5 } }
        XCTAssertFalse(engine.weightsAreCurrent)
        let after = try engine.generate(req)
        XCTAssertTrue(engine.weightsAreCurrent)
        XCTAssertNotEqual(before.samples.map(\.logprobs), after.samples.map(\.logprobs))
        XCTAssertLessThan(try trainerLogprobError(engine, req, after), 1e-5)
    }

    func testStaleWeightsFailLoudlyUnderTheFailPolicy() throws {
        let engine = try tinyEngine { $0.stalePolicy = .fail }
        let req = GenerationRequest(prompts: [[5, 6, 7]], maxNewTokens: 4, sampling: .greedy)
        _ = try engine.generate(req)
        let w = engine.model.store.variables[engine.model.layers[0].gate].value
        for i in 0..<w.count { w.data[i] *= 1.5 }
        engine.model.store.bumpVersion()
        XCTAssertThrowsError(try engine.generate(req)) { e in
            XCTAssertEqual(e as? SamplingError, .staleWeights(packedVersion: 0, storeVersion: 1))
            XCTAssertTrue("\(e)".contains("refreshWeights"), "\(e)")
        }
        engine.refreshWeights()
        let fresh = try engine.generate(req)
        XCTAssertLessThan(try trainerLogprobError(engine, req, fresh), 1e-5)
    }

    func testSampledLogprobsEqualTrainerLogprobs() throws {
        let (engine, req, out, _) = try sampledRun()
        var worst: Float = 0
        var distinct = Set<[Int32]>()
        for s in out.samples {
            distinct.insert(s.tokens)
            let prompt = req.prompts[s.promptIndex]
            let seq = prompt + s.tokens
            let inputs = Array(seq.dropLast())
            let hidden = try engine.model.hiddenStates(ids: inputs, batch: 1, trainable: false)
            let targets = Array(seq.dropFirst())
            let (lp, _) = engine.model.tokenLogProbs(hidden: hidden, targets: targets, trainable: false)
            let trainer = Array(lp.value.values.suffix(s.tokens.count))
            worst = max(worst, maxAbs(s.logprobs, trainer))
            // At temperature 1 with no truncation the sampling distribution is the model's.
            XCTAssertLessThan(maxAbs(s.samplingLogprobs, s.logprobs), 1e-4)
        }
        XCTAssertLessThan(worst, 1e-5, "sampler vs trainer log-probs")
        XCTAssertGreaterThan(distinct.count, 8, "samples of one prompt should differ")
    }

    func testSameTokensForBatchSizesAndThreads() throws {
        let ref = try GenerationReference.load().generation
        let prompts = ref.single.map(\.input_ids)
        let req = GenerationRequest(
            prompts: prompts, samplesPerPrompt: 22, maxNewTokens: 12,
            sampling: SamplingParams(temperature: 0.9, topK: 50, topP: 0.95), seed: 7)
        var outputs: [[GeneratedSample]] = []
        for (batch, threads) in [(1, 1), (7, 1), (64, 1), (1, 2), (7, 2), (64, 2)] {
            let engine = try tinyEngine {
                $0.maxBatch = batch; $0.threads = threads
            }
            let out = try engine.generate(req)
            XCTAssertEqual(out.stats.peakLiveRows, min(batch, 66))
            outputs.append(out.samples)
        }
        // Bit-identical samples (tokens and log-probs) whatever the batch size and thread count.
        for o in outputs.dropFirst() { XCTAssertEqual(o, outputs[0]) }
        // A different seed gives different tokens.
        var other = req
        other.seed = 8
        let engine = try tinyEngine()
        XCTAssertNotEqual(try engine.generate(other).samples.map(\.tokens), outputs[0].map(\.tokens))
    }

    func testPrefixSharingPrefillsOnce() throws {
        let ref = try GenerationReference.load().generation
        let prompt = ref.single[2].input_ids
        let req = GenerationRequest(
            prompts: [prompt], samplesPerPrompt: 8, maxNewTokens: 6, sampling: SamplingParams(temperature: 1), seed: 3)
        let shared = try tinyEngine().generate(req)
        let alone = try tinyEngine { $0.sharePrefixes = false }.generate(req)
        XCTAssertEqual(shared.stats.prefillTokens, prompt.count)
        XCTAssertEqual(alone.stats.prefillTokens, 8 * prompt.count)
        XCTAssertEqual(shared.stats.promptTokensAllSamples, 8 * prompt.count)
        XCTAssertEqual(shared.samples, alone.samples)
        // A common prefix is prefilled once; greedy results equal running each prompt alone.
        let sys: [Int32] = [5, 6, 7, 8, 9, 10, 11, 12]
        let prompts = [sys + [100, 101], sys + [200], sys + [100, 102, 103]]
        let greedy = GenerationRequest(prompts: prompts, maxNewTokens: 10, sampling: .greedy)
        let tree = try tinyEngine().generate(greedy)
        // Nodes: sys (8), [100] (1), [101] (1), [102, 103] (2), [200] (1).
        XCTAssertEqual(tree.stats.prefillTokens, 13)
        for (i, p) in prompts.enumerated() {
            let single = try tinyEngine().generate(GenerationRequest(prompts: [p], maxNewTokens: 10, sampling: .greedy))
            XCTAssertEqual(tree.samples[i].tokens, single.samples[0].tokens, "prompt \(i) alone vs in the shared tree")
            XCTAssertEqual(
                tree.samples[i].logprobs, single.samples[0].logprobs, "prompt \(i) alone vs in the shared tree")
        }
    }

    func testStopTokenAndStopString() throws {
        let ref = try GenerationReference.load().generation
        let r = ref.single[0]
        let engine = try tinyEngine()
        let stopId = r.new_token_ids[5]
        let first = r.new_token_ids.firstIndex(of: stopId) ?? 5
        var req = GenerationRequest(prompts: [r.input_ids], maxNewTokens: 24, sampling: .greedy, stopTokenIds: [stopId])
        var out = try engine.generate(req)
        XCTAssertEqual(out.samples[0].tokens, Array(r.new_token_ids.prefix(first + 1)))
        XCTAssertEqual(out.samples[0].finishReason, .stop)
        req.stopTokenIds = []
        req.stopStrings = ["<\(r.new_token_ids[3])><\(r.new_token_ids[4])>"]
        out = try engine.generate(req, detokenizer: { BracketDetokenizer() })
        XCTAssertEqual(out.samples[0].tokens, Array(r.new_token_ids.prefix(5)))
        XCTAssertEqual(out.samples[0].matchedStopString, req.stopStrings[0])
        XCTAssertEqual(out.samples[0].text, r.new_token_ids.prefix(5).map { "<\($0)>" }.joined())
        XCTAssertThrowsError(try engine.generate(req))  // stop strings without a detokenizer
        req.stopStrings = []
        out = try engine.generate(req)
        XCTAssertEqual(out.samples[0].finishReason, .length)
        XCTAssertEqual(out.samples[0].tokens.count, 24)
    }

    func testContinuousBatchingAndMemoryBudget() throws {
        let ref = try GenerationReference.load().generation
        let prompts = ref.single.map(\.input_ids)
        let req = GenerationRequest(
            prompts: prompts, samplesPerPrompt: 4, maxNewTokens: 16,
            sampling: SamplingParams(temperature: 1.2), seed: 11, stopTokenIds: [Int32](0..<60))
        let free = try tinyEngine().generate(req)
        let lengths = Set(free.samples.map(\.tokens.count))
        XCTAssertGreaterThan(lengths.count, 1, "rows should finish at different steps")
        // Two slots: waiting rows join as others finish, with the same tokens.
        let two = try tinyEngine { $0.maxBatch = 2 }.generate(req)
        XCTAssertEqual(two.samples, free.samples)
        XCTAssertEqual(two.stats.peakLiveRows, 2)
        // A budget for about three rows bounds the live batch.
        let engine = try tinyEngine()
        let longest = prompts.map(\.count).max() ?? 0
        let perRow = engine.bytesPerPosition * (longest + 15)
        let tight = try tinyEngine { $0.memoryBudgetBytes = perRow * 3 }.generate(req)
        XCTAssertEqual(tight.samples, free.samples)
        XCTAssertLessThanOrEqual(tight.stats.peakCacheBytes, perRow * 3)
        XCTAssertLessThan(tight.stats.peakLiveRows, free.stats.peakLiveRows)
        // A budget below one row is a clear error, not a crash.
        XCTAssertThrowsError(try tinyEngine { $0.memoryBudgetBytes = engine.bytesPerPosition * 4 }.generate(req)) { e in
            guard case SamplingError.rowDoesNotFit = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("memory budget"))
        }
    }

    func testBadRequestsAreErrors() throws {
        let engine = try tinyEngine()
        XCTAssertThrowsError(try engine.generate(GenerationRequest(prompts: [[]])))
        XCTAssertThrowsError(try engine.generate(GenerationRequest(prompts: [[5, 5000]])))
        XCTAssertThrowsError(try engine.generate(GenerationRequest(prompts: [[5]], sampling: SamplingParams(topP: 0))))
        XCTAssertThrowsError(try engine.generate(GenerationRequest(prompts: [[5]], maxNewTokens: 0)))
    }

    func testNaNWeightsStopWithTheRowNamed() throws {
        let engine = try tinyEngine()
        // A diverged down projection in the last layer: every logit of every row becomes NaN.
        let w = engine.model.store.variables[engine.model.layers[engine.model.layers.count - 1].down].value
        w.data[3] = Float.nan
        engine.model.store.bumpVersion()
        for sampling in [SamplingParams.greedy, SamplingParams(temperature: 1)] {
            XCTAssertThrowsError(
                try engine.generate(
                    GenerationRequest(prompts: [[5, 6, 7], [8, 9]], maxNewTokens: 4, sampling: sampling))
            ) { e in
                XCTAssertEqual(e as? SamplingError, .nonFiniteLogits(prompt: 0, sample: 0, token: 0))
                XCTAssertTrue("\(e)".contains("NaN or infinite"), "\(e)")
            }
        }
    }

    func testTokensDependOnGlobalIndicesNotOnHowTheBatchIsSplit() throws {
        let engine = try tinyEngine()
        let prompts: [[Int32]] = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [5, 6, 7]]
        let whole = try engine.generate(
            GenerationRequest(
                prompts: prompts, samplesPerPrompt: 4, maxNewTokens: 10,
                sampling: SamplingParams(temperature: 1), seed: 5))
        // As two processes would: prompts 0-1 and 2-3, each told its first prompt's global index.
        var parts: [GeneratedSample] = []
        for (first, slice) in [(0, prompts[0..<2]), (2, prompts[2..<4])] {
            var req = GenerationRequest(
                prompts: Array(slice), samplesPerPrompt: 4, maxNewTokens: 10, sampling: SamplingParams(temperature: 1),
                seed: 5)
            req.firstPromptIndex = first
            parts += try engine.generate(req).samples.map {
                var s = $0; s.promptIndex += first; return s
            }
        }
        XCTAssertEqual(parts, whole.samples)
        // Samples 2-3 of every prompt on their own, told their first sample index.
        var tail = GenerationRequest(
            prompts: prompts, samplesPerPrompt: 2, maxNewTokens: 10, sampling: SamplingParams(temperature: 1), seed: 5)
        tail.firstSampleIndex = 2
        let t = try engine.generate(tail).samples
        XCTAssertEqual(t.map(\.tokens), whole.samples.filter { $0.sampleIndex >= 2 }.map(\.tokens))
        // The indices matter: without them prompt 3 (sent as the part's prompt 1) draws other tokens than in the whole batch.
        let unindexed = try engine.generate(
            GenerationRequest(
                prompts: Array(prompts[2..<4]), samplesPerPrompt: 4, maxNewTokens: 10,
                sampling: SamplingParams(temperature: 1), seed: 5))
        XCTAssertNotEqual(
            unindexed.samples.filter { $0.promptIndex == 1 }.map(\.tokens),
            whole.samples.filter { $0.promptIndex == 3 }.map(\.tokens))
    }
}
