// The sampler on the tiny-qwen3 fixture: the same decode executor runs Qwen3's layer (per-head q/k
// RMSNorm) as the trainer's executor does, so greedy tokens equal transformers' generate(), the
// sampler's log-probs equal the trainer's within 1e-5, and rows are batch- and thread-invariant.
import Foundation
import XCTest
import VerityFixtures
import VerityModel
@testable import VeritySampling

/// tiny-qwen3/reference.json's greedy generations.
private struct Qwen3Generation: Decodable {
    struct Item: Decodable {
        let input_ids: [Int32]
        let new_token_ids: [Int32]
        let new_token_logprobs: [Float]
    }
    let generation: [Item]
}

final class Qwen3EngineTests: XCTestCase {
    func engine(_ configure: (inout EngineOptions) -> Void = { _ in }) throws -> RolloutEngine {
        var o = EngineOptions()
        configure(&o)
        return try RolloutEngine.load(directory: Fixtures.url("tiny-qwen3"), options: o)
    }

    func testGreedyMatchesTransformers() throws {
        let ref = try JSONDecoder().decode(Qwen3Generation.self, from: Fixtures.data("tiny-qwen3/reference.json"))
            .generation
        XCTAssertEqual(ref.count, 2)
        let e = try engine()
        let out = try e.generate(GenerationRequest(prompts: ref.map(\.input_ids), maxNewTokens: 16, sampling: .greedy))
        var worst: Float = 0
        for (s, r) in zip(out.samples, ref) {
            XCTAssertEqual(s.tokens, r.new_token_ids)
            worst = max(worst, maxAbs(s.logprobs, Array(r.new_token_logprobs.prefix(s.tokens.count))))
        }
        XCTAssertLessThanOrEqual(worst, 1e-4)
        print("PARITY qwen3 sampler greedy: tokens equal, log-prob max abs err \(worst)")
    }

    func testSampledLogprobsEqualTrainerAndRowsAreBatchInvariant() throws {
        let e = try engine()
        let req = GenerationRequest(
            prompts: [[5, 6, 7, 8], [5, 6, 9], [300, 301, 302, 303, 304]], samplesPerPrompt: 3, maxNewTokens: 16,
            sampling: SamplingParams(temperature: 1), seed: 7)
        let out = try e.generate(req)
        var worst: Float = 0
        for s in out.samples {
            let seq = req.prompts[s.promptIndex] + s.tokens
            let hidden = try e.model.hiddenStates(ids: Array(seq.dropLast()), batch: 1, trainable: false)
            let (lp, _) = e.model.tokenLogProbs(hidden: hidden, targets: Array(seq.dropFirst()), trainable: false)
            worst = max(worst, maxAbs(s.logprobs, Array(lp.value.values.suffix(s.tokens.count))))
        }
        XCTAssertLessThanOrEqual(worst, 1e-5)
        print("qwen3 sampler vs trainer log-prob, max abs over \(out.samples.count) samples: \(worst)")
        let one = try engine {
            $0.maxBatch = 1; $0.threads = 1; $0.sharePrefixes = false
        }.generate(req)
        XCTAssertEqual(one.samples, out.samples)
    }
}
