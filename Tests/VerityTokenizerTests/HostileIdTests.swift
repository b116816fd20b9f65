// Token ids that would trap or allocate gigabytes (issue 13, item 3): an added-token id of 10^12
// (beyond Int32) and one of 2^31 - 1 (a 34 GB id table), in tokenizer.json and in the vocabulary.
// Each must be a TokenizerError naming the file and key, before anything is allocated.
import Foundation
import XCTest
@testable import VerityTokenizer

final class HostileIdTests: XCTestCase {
    func tokenizerJSON(addedID: String = "4", vocab: String = #"{"a": 0, "b": 1, "ab": 2, "Ġ": 3}"#) -> String {
        """
        {"version": "1.0",
         "added_tokens": [{"id": \(addedID), "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
         "normalizer": null,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
         "post_processor": null,
         "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": \(vocab), "merges": ["a b"]}}
        """
    }

    func load(_ text: String) throws -> Tokenizer {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("tokenizer.json")
        try Data(text.utf8).write(to: url)
        return try Tokenizer(tokenizerJSON: url)
    }

    func expectError(_ text: String, _ fragments: [String], line: UInt = #line) {
        let start = Date()
        XCTAssertThrowsError(try load(text), line: line) { e in
            guard e is TokenizerError else { return XCTFail("\(e)", line: line) }
            let message = "\(e)"
            XCTAssertTrue(message.contains("tokenizer.json"), message, line: line)
            for f in fragments { XCTAssertTrue(message.contains(f), "\(f) not in \(message)", line: line) }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, line: line)
    }

    func testValidHelperLoads() throws {
        XCTAssertEqual(try load(tokenizerJSON()).encode("ab<|end|>"), [2, 4])
    }

    func testAddedTokenIdBeyondInt32IsAnError() {
        expectError(
            tokenizerJSON(addedID: "1000000000000"), ["added_tokens[0].id", "beyond the largest supported token id"])
    }

    func testAddedTokenIdFarPastTheVocabularyIsAnError() {
        expectError(tokenizerJSON(addedID: "2147483647"), ["added_tokens[0].id"])
        expectError(tokenizerJSON(addedID: "9000000"), ["added_tokens", "far beyond the vocabulary"])
    }

    func testVocabularyIdFarPastItsSizeIsAnError() {
        expectError(
            tokenizerJSON(vocab: #"{"a": 0, "b": 1, "ab": 2147483646, "Ġ": 3}"#), ["model.vocab", "far beyond"])
        expectError(
            tokenizerJSON(vocab: #"{"a": 0, "b": 1, "ab": 1000000000000, "Ġ": 3}"#), ["model.vocab", "far beyond"])
    }
}
