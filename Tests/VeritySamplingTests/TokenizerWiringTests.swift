// The engine with the real tokenizer's streaming decoder: each sample's text equals the
// tokenizer's full decode of its ids, and a stop string taken from transformers' greedy output
// (tiny-qwen2/reference.json) ends the sample at the token that completes it.
import Foundation
import XCTest
import VerityFixtures
import VerityTokenizer
@testable import VeritySampling

final class TokenizerWiringTests: XCTestCase {
    func testTextEqualsFullDecodeAndStopStringEndsSample() throws {
        let reference = try GenerationReference.load().generation
        let tokenizer = try Tokenizer(folder: Fixtures.url("tiny-qwen2"))
        let engine = try tinyEngine()
        let single = reference.single[0]
        let greedy = try engine.generate(
            GenerationRequest(
                prompts: [single.input_ids], samplesPerPrompt: 1, maxNewTokens: reference.max_new_tokens,
                sampling: .greedy),
            detokenizer: tokenizer.detokenizerFactory())
        let sample = try XCTUnwrap(greedy.samples.first)
        XCTAssertEqual(sample.tokens, single.new_token_ids)
        XCTAssertEqual(sample.text, tokenizer.decode(single.new_token_ids))

        // A stop string from the reference text: its first two consecutive ASCII letters (random
        // weights also emit bytes that are not valid UTF-8; those decode to U+FFFD and make poor stops).
        let full = tokenizer.decode(single.new_token_ids)
        let chars = Array(full)
        let at = try XCTUnwrap(
            chars.indices.dropLast().first {
                chars[$0].isASCII && chars[$0].isLetter && chars[$0 + 1].isASCII && chars[$0 + 1].isLetter
            })
        let stop = String(chars[at...at + 1])
        // The first token at which the decoded text contains the stop string.
        var expectedCount = 1
        while !tokenizer.decode(single.new_token_ids.prefix(expectedCount)).contains(stop) { expectedCount += 1 }
        let stopped = try engine.generate(
            GenerationRequest(
                prompts: [single.input_ids], samplesPerPrompt: 1, maxNewTokens: reference.max_new_tokens,
                sampling: .greedy, stopStrings: [stop]),
            detokenizer: tokenizer.detokenizerFactory())
        let s = try XCTUnwrap(stopped.samples.first)
        XCTAssertEqual(s.finishReason, .stop)
        XCTAssertEqual(s.matchedStopString, stop)
        XCTAssertLessThan(expectedCount, single.new_token_ids.count)
        XCTAssertEqual(s.tokens, Array(single.new_token_ids.prefix(expectedCount)))
    }
}
