// Tests against Tests/Fixtures/qwen2.5-tokenizer/extra_reference.json, made by Hugging Face
// `tokenizers` 0.23.3 (Scripts/bench/tokenizer_hf_reference.py) on the genuine Qwen2.5 vocabulary:
// the Llama-3 and GPT-2 split patterns and `ignore_merges` (as variants of tokenizer.json),
// special tokens encoded as plain text, tricky Unicode and long pieces, and decoding of byte tokens
// that form invalid UTF-8, including the streaming decoder on those bytes.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityTokenizer

// MARK: - Fixture

struct ExtraReference: Decodable {
    struct Encodings: Decodable {
        let parse: [[Int]]
        let plain: [[Int]]
    }
    struct DecodeCase: Decodable {
        let ids: [Int]
        let text: String
        let text_skip_special: String
    }
    let texts: [String]
    let splits: [String: [[String]]]
    let encode: [String: Encodings]
    let decode: [DecodeCase]
}

/// A temporary folder removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-tokenizer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

// MARK: - Tests

final class ExtraReferenceTests: XCTestCase {
    /// The Qwen2.5 tokenizer.json with its normalizer, pre-tokenizer and ignore_merges replaced by a variant.
    func variantTokenizer(_ name: String, folder: URL) throws -> Tokenizer {
        let fixture =
            try JSONSerialization.jsonObject(with: Fixtures.data("qwen2.5-tokenizer/extra_reference.json"))
            as? [String: Any]
        let variants = try XCTUnwrap(fixture?["variants"] as? [String: Any])
        let variant = try XCTUnwrap(variants[name] as? [String: Any])
        func text(_ value: Any?) throws -> String {
            let data = try JSONSerialization.data(withJSONObject: value ?? NSNull(), options: [.fragmentsAllowed])
            return String(decoding: data, as: UTF8.self)
        }
        var json = String(decoding: try Fixtures.data("qwen2.5-tokenizer/tokenizer.json"), as: UTF8.self)
        let start = try XCTUnwrap(json.range(of: "\"normalizer\": {"))
        let end = try XCTUnwrap(json.range(of: "\"post_processor\":"))
        json.replaceSubrange(
            start.lowerBound..<end.lowerBound,
            with:
                "\"normalizer\": \(try text(variant["normalizer"])), \"pre_tokenizer\": \(try text(variant["pre_tokenizer"])), "
        )
        if (variant["ignore_merges"] as? Bool) == true {
            let flag = try XCTUnwrap(json.range(of: "\"byte_fallback\": false,"))
            json.replaceSubrange(flag, with: "\"byte_fallback\": false, \"ignore_merges\": true,")
        }
        let url = folder.appendingPathComponent("\(name).json")
        try Data(json.utf8).write(to: url)
        return try Tokenizer(tokenizerJSON: url)
    }

    func testSplitPatternVariantsMatchTokenizers() throws {
        let reference = try JSONDecoder().decode(
            ExtraReference.self, from: Fixtures.data("qwen2.5-tokenizer/extra_reference.json"))
        let folder = try temporaryFolder(self)
        let expectedPatterns: [String: SplitPattern?] = [
            "qwen2": .qwen2, "llama3": .llama3, "gpt2": .gpt2, "qwen2_ignore_merges": .qwen2,
        ]
        XCTAssertEqual(Set(reference.encode.keys), Set(expectedPatterns.keys))
        for (name, encodings) in reference.encode.sorted(by: { $0.key < $1.key }) {
            let tokenizer = try variantTokenizer(name, folder: folder)
            XCTAssertEqual(tokenizer.splitPattern, expectedPatterns[name] ?? nil, name)
            XCTAssertEqual(encodings.parse.count, reference.texts.count)
            for (k, text) in reference.texts.enumerated() {
                XCTAssertEqual(
                    tokenizer.encode(text), encodings.parse[k], "\(name) parse case \(k): \(text.debugDescription)")
                XCTAssertEqual(
                    tokenizer.encode(text, specialTokens: .plainText), encodings.plain[k],
                    "\(name) plain-text case \(k): \(text.debugDescription)")
            }
        }
    }

    /// The hand-written matchers cut every text exactly where `tokenizers`' regex does.
    func testSplitPiecesMatchTokenizers() throws {
        let reference = try JSONDecoder().decode(
            ExtraReference.self, from: Fixtures.data("qwen2.5-tokenizer/extra_reference.json"))
        let patterns: [String: SplitPattern] = ["qwen2": .qwen2, "llama3": .llama3, "gpt2": .gpt2]
        XCTAssertEqual(Set(reference.splits.keys), Set(patterns.keys))
        for (name, pattern) in patterns {
            let expected = try XCTUnwrap(reference.splits[name])
            for (k, text) in reference.texts.enumerated() {
                let pieces = pattern.split(text).map { ByteLevel.token(ofBytes: $0.utf8) }
                XCTAssertEqual(pieces, expected[k], "\(name) case \(k): \(text.debugDescription)")
            }
        }
    }

    /// The Llama-3 pattern on a vocabulary with multi-digit tokens (where `\\p{N}{1,3}` matters).
    func testLlama3DigitGroupsOnSyntheticVocabulary() throws {
        let data = try Fixtures.data("qwen2.5-tokenizer/extra_reference.json")
        let fixture = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let spec = try XCTUnwrap(fixture["digits_tokenizer"])
        let cases = try XCTUnwrap(fixture["digits_cases"] as? [[String: Any]])
        let url = try temporaryFolder(self).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: spec).write(to: url)
        let tokenizer = try Tokenizer(tokenizerJSON: url)
        XCTAssertEqual(tokenizer.splitPattern, .llama3)
        XCTAssertGreaterThan(cases.count, 10)
        var multiDigit = 0
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let ids = try XCTUnwrap(c["ids"] as? [Int])
            XCTAssertEqual(tokenizer.encode(text), ids, text.debugDescription)
            XCTAssertEqual(tokenizer.decode(ids), text.precomposedStringWithCanonicalMapping)
            multiDigit +=
                ids.filter {
                    (tokenizer.token(forID: $0)?.count ?? 0) == 3
                        && tokenizer.token(forID: $0)?.allSatisfy(\.isNumber) == true
                }.count
        }
        XCTAssertGreaterThan(multiDigit, 3, "the cases must use three-digit tokens")
    }

    func testPlainTextSpecialTokensWithShippedTokenizer() throws {
        let reference = try JSONDecoder().decode(
            ExtraReference.self, from: Fixtures.data("qwen2.5-tokenizer/extra_reference.json"))
        let tokenizer = try Loaded.qwenJSON.get()
        let vocabForm = try Loaded.qwenVocab.get()
        let encodings = try XCTUnwrap(reference.encode["qwen2"])
        var differs = 0
        for (k, text) in reference.texts.enumerated() {
            XCTAssertEqual(tokenizer.encode(text, specialTokens: .plainText), encodings.plain[k], "case \(k)")
            XCTAssertEqual(
                vocabForm.encode(text, specialTokens: .plainText), encodings.plain[k], "vocab form case \(k)")
            XCTAssertEqual(vocabForm.encode(text), encodings.parse[k], "vocab form case \(k)")
            if encodings.plain[k] != encodings.parse[k] { differs += 1 }
        }
        XCTAssertGreaterThan(differs, 10, "the fixture must exercise special tokens inside text")
    }

    func testDecodeInvalidUTF8MatchesTokenizers() throws {
        let reference = try JSONDecoder().decode(
            ExtraReference.self, from: Fixtures.data("qwen2.5-tokenizer/extra_reference.json"))
        let tokenizer = try Loaded.qwenJSON.get()
        XCTAssertGreaterThan(reference.decode.count, 30)
        for (k, c) in reference.decode.enumerated() {
            XCTAssertEqual(tokenizer.decode(c.ids), c.text, "decode case \(k) \(c.ids)")
            XCTAssertEqual(
                tokenizer.decode(c.ids, skipSpecialTokens: true), c.text_skip_special,
                "decode case \(k) skipping specials")
            for skip in [false, true] {
                var stream = tokenizer.streamingDecoder(skipSpecialTokens: skip)
                var text = ""
                for id in c.ids { text += stream.push(id) }
                text += stream.finish()
                XCTAssertEqual(text, skip ? c.text_skip_special : c.text, "streaming decode case \(k) skip \(skip)")
            }
        }
    }
}
