// Bad input (issue part 7): unsupported tokenizer models (Unigram, WordPiece), malformed or
// truncated files, merges naming unknown tokens, invalid UTF-8 in a vocabulary, and other
// unsupported pipeline pieces must each fail with a typed error whose message names the file.
// Broken files are written into a temporary folder by each test.
import VerityJSON
import Foundation
import XCTest
import VerityFixtures
@testable import VerityTokenizer

final class BadInputTests: XCTestCase {
    // MARK: Helpers

    /// A small, valid byte-level BPE tokenizer.json with `model` members overridden by `model`.
    func tokenizerJSON(
        model: String? = nil, preTokenizerRegex: String = SplitPattern.qwen2Regex,
        normalizer: String = #"{"type": "NFC"}"#, decoder: String = #"{"type": "ByteLevel"}"#
    ) -> String {
        let regex = jsonStringLiteral(preTokenizerRegex)
        let defaultModel =
            #"{"type": "BPE", "dropout": null, "unk_token": null, "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}"#
        return """
            {"version": "1.0",
             "added_tokens": [{"id": 4, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
             "normalizer": \(normalizer),
             "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": \(regex)}, "behavior": "Isolated", "invert": false},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
             "post_processor": null,
             "decoder": \(decoder),
             "model": \(model ?? defaultModel)}
            """
    }

    func write(_ text: String, _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Asserts that `body` throws a TokenizerError whose message names `file` and contains `fragments`.
    func assertError(
        _ file: String, _ fragments: [String], line: UInt = #line,
        _ body: () throws -> Tokenizer
    ) -> TokenizerError? {
        do {
            _ = try body()
            XCTFail("expected an error naming \(file)", line: line)
            return nil
        } catch let error as TokenizerError {
            let message = error.description
            XCTAssertTrue(message.contains(file), "message does not name \(file): \(message)", line: line)
            for f in fragments {
                XCTAssertTrue(message.contains(f), "message lacks \(f.debugDescription): \(message)", line: line)
            }
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", line: line)
            return nil
        }
    }

    // MARK: Sanity: the helper's file is valid

    func testHelperTokenizerLoadsAndEncodes() throws {
        let folder = try temporaryFolder(self)
        let url = try write(tokenizerJSON(), "tokenizer.json", in: folder)
        let tok = try Tokenizer(tokenizerJSON: url)
        XCTAssertEqual(tok.encode("ab a<|end|>b"), [2, 3, 0, 4, 1])
        XCTAssertEqual(tok.decode([2, 3, 0, 4, 1]), "ab a<|end|>b")
    }

    // MARK: Unsupported models and pipeline pieces

    func testUnigramModelIsRejected() throws {
        let folder = try temporaryFolder(self)
        let url = try write(
            tokenizerJSON(model: #"{"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]}"#),
            "unigram.json", in: folder)
        let error = assertError("unigram.json", ["model.type", "Unigram"]) { try Tokenizer(tokenizerJSON: url) }
        XCTAssertEqual(error, .unsupported(file: url.path, key: "model.type", value: "Unigram"))
    }

    func testWordPieceModelIsRejected() throws {
        let folder = try temporaryFolder(self)
        let url = try write(
            tokenizerJSON(
                model:
                    ###"{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1}}"###
            ),
            "wordpiece.json", in: folder)
        _ = assertError("wordpiece.json", ["model.type", "WordPiece"]) { try Tokenizer(tokenizerJSON: url) }
    }

    func testUnknownSplitRegexIsRejected() throws {
        let folder = try temporaryFolder(self)
        let url = try write(tokenizerJSON(preTokenizerRegex: #"\w+|\s+"#), "regex.json", in: folder)
        _ = assertError("regex.json", ["pre_tokenizer", #"\w+|\s+"#]) { try Tokenizer(tokenizerJSON: url) }
    }

    func testUnsupportedNormalizerAndDecoderAreRejected() throws {
        let folder = try temporaryFolder(self)
        let n = try write(tokenizerJSON(normalizer: #"{"type": "NFKC"}"#), "nfkc.json", in: folder)
        _ = assertError("nfkc.json", ["normalizer.type", "NFKC"]) { try Tokenizer(tokenizerJSON: n) }
        let d = try write(
            tokenizerJSON(decoder: #"{"type": "Metaspace", "replacement": "▁"}"#), "metaspace.json", in: folder)
        _ = assertError("metaspace.json", ["decoder.type", "Metaspace"]) { try Tokenizer(tokenizerJSON: d) }
    }

    func testUnsupportedTokenizerClassInVocabForm() throws {
        let folder = try temporaryFolder(self)
        let vocab = try write(#"{"a": 0, "b": 1, "ab": 2}"#, "vocab.json", in: folder)
        let merges = try write("a b\n", "merges.txt", in: folder)
        let config = try write(#"{"tokenizer_class": "LlamaTokenizer"}"#, "tokenizer_config.json", in: folder)
        _ = assertError("tokenizer_config.json", ["tokenizer_class", "LlamaTokenizer"]) {
            try Tokenizer(vocab: vocab, merges: merges, config: config)
        }
    }

    // MARK: Malformed and truncated files

    func testTruncatedTokenizerJSON() throws {
        let folder = try temporaryFolder(self)
        let full = try Fixtures.data("tiny-qwen2/tokenizer.json")
        let url = folder.appendingPathComponent("tokenizer.json")
        try full.prefix(full.count / 2).write(to: url)
        _ = assertError("tokenizer.json", ["malformed JSON", "truncated"]) { try Tokenizer(folder: folder) }
    }

    func testMalformedJSONReportsLineAndColumn() throws {
        let folder = try temporaryFolder(self)
        let url = try write("{\n  \"model\": {\"type\": \"BPE\",,\n}}", "broken.json", in: folder)
        let error = assertError("broken.json", ["malformed JSON"]) { try Tokenizer(tokenizerJSON: url) }
        guard case let .malformedJSON(_, line, column, _)? = error else {
            return XCTFail("wrong case \(String(describing: error))")
        }
        XCTAssertEqual(line, 2)
        XCTAssertEqual(column, 27)
    }

    func testTruncatedVocabJSON() throws {
        let folder = try temporaryFolder(self)
        let full = try Fixtures.data("qwen2.5-tokenizer/vocab.json")
        try full.prefix(5000).write(to: folder.appendingPathComponent("vocab.json"))
        _ = try write("a b\n", "merges.txt", in: folder)
        try Fixtures.data("qwen2.5-tokenizer/tokenizer_config.json").write(
            to: folder.appendingPathComponent("tokenizer_config.json"))
        _ = assertError("vocab.json", ["truncated"]) { try Tokenizer(folder: folder) }
    }

    func testMalformedMergesLine() throws {
        let folder = try temporaryFolder(self)
        let vocab = try write(#"{"a": 0, "b": 1, "ab": 2}"#, "vocab.json", in: folder)
        let merges = try write("a b\nab\n", "merges.txt", in: folder)
        let config = try write(#"{"tokenizer_class": "Qwen2Tokenizer"}"#, "tokenizer_config.json", in: folder)
        let error = assertError("merges.txt", ["merges.txt:2", "\"ab\""]) {
            try Tokenizer(vocab: vocab, merges: merges, config: config)
        }
        XCTAssertEqual(error, .malformedMerge(file: merges.path, line: 2, text: "ab"))
    }

    func testMissingFilesAreNamed() throws {
        let folder = try temporaryFolder(self)
        _ = try write(#"{"a": 0}"#, "vocab.json", in: folder)
        _ = assertError(folder.path, ["merges.txt", "tokenizer_config.json"]) { try Tokenizer(folder: folder) }
    }

    // MARK: Merges naming unknown tokens

    func testMergeNamingUnknownTokenInTokenizerJSON() throws {
        let folder = try temporaryFolder(self)
        let url = try write(
            tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a zz"]}"#),
            "tokenizer.json", in: folder)
        let error = assertError("tokenizer.json", ["model.merges[1]", "\"zz\""]) { try Tokenizer(tokenizerJSON: url) }
        XCTAssertEqual(error, .unknownMergeToken(file: url.path, place: "model.merges[1]", token: "zz"))
    }

    func testMergeNamingUnknownTokenInMergesTxt() throws {
        let folder = try temporaryFolder(self)
        let vocab = try write(#"{"a": 0, "b": 1, "ab": 2}"#, "vocab.json", in: folder)
        let merges = try write("#version: 0.2\na b\nb a\n", "merges.txt", in: folder)
        let config = try write(#"{"tokenizer_class": "Qwen2Tokenizer"}"#, "tokenizer_config.json", in: folder)
        // "b a" is made of known tokens but its result "ba" is not in the vocabulary.
        let error = assertError("merges.txt", ["line 3", "\"ba\""]) {
            try Tokenizer(vocab: vocab, merges: merges, config: config)
        }
        XCTAssertEqual(error, .unknownMergeToken(file: merges.path, place: "line 3", token: "ba"))
    }

    // MARK: Invalid UTF-8

    func testInvalidUTF8InVocabJSON() throws {
        let folder = try temporaryFolder(self)
        var bytes = Array("{\"a\": 0,\n \"b\": 1, \"X\": 2}".utf8)
        let x = try XCTUnwrap(bytes.firstIndex(of: UInt8(ascii: "X")))
        bytes.replaceSubrange(x...x, with: [0x61, 0xC3, 0x28])  // 0xC3 0x28 is not valid UTF-8
        try Data(bytes).write(to: folder.appendingPathComponent("vocab.json"))
        let vocab = folder.appendingPathComponent("vocab.json")
        let merges = try write("a b\n", "merges.txt", in: folder)
        let config = try write(#"{"tokenizer_class": "Qwen2Tokenizer"}"#, "tokenizer_config.json", in: folder)
        let error = assertError("vocab.json", ["invalid UTF-8"]) {
            try Tokenizer(vocab: vocab, merges: merges, config: config)
        }
        XCTAssertEqual(error, .invalidUTF8(file: vocab.path, line: 2, column: 12))
    }

    func testInvalidUTF8InTokenizerJSONVocab() throws {
        let folder = try temporaryFolder(self)
        var bytes = Array(tokenizerJSON().utf8)
        let marker = Array(#""ab": 2"#.utf8)
        let at = try XCTUnwrap(
            (0..<(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
        bytes.insert(0xFF, at: at + 2)
        let url = folder.appendingPathComponent("tokenizer.json")
        try Data(bytes).write(to: url)
        _ = assertError("tokenizer.json", ["invalid UTF-8"]) { try Tokenizer(tokenizerJSON: url) }
    }

    func testInvalidUTF8InMergesTxt() throws {
        let folder = try temporaryFolder(self)
        let vocab = try write(#"{"a": 0, "b": 1, "ab": 2}"#, "vocab.json", in: folder)
        let merges = folder.appendingPathComponent("merges.txt")
        try Data([0x61, 0x20, 0x62, 0x0A, 0x61, 0xFE, 0x20, 0x62, 0x0A]).write(to: merges)
        let config = try write(#"{"tokenizer_class": "Qwen2Tokenizer"}"#, "tokenizer_config.json", in: folder)
        let error = assertError("merges.txt", ["invalid UTF-8"]) {
            try Tokenizer(vocab: vocab, merges: merges, config: config)
        }
        XCTAssertEqual(error, .invalidUTF8(file: merges.path, line: 2, column: 2))
    }

    // MARK: Config values

    func testEOSNamingUnknownToken() throws {
        let folder = try temporaryFolder(self)
        _ = try write(tokenizerJSON(), "tokenizer.json", in: folder)
        _ = try write(#"{"eos_token": "</s>"}"#, "tokenizer_config.json", in: folder)
        _ = assertError("tokenizer_config.json", ["eos_token", "</s>"]) { try Tokenizer(folder: folder) }
    }

    func testNonIntegerVocabID() throws {
        let folder = try temporaryFolder(self)
        let url = try write(
            tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": "one"}, "merges": []}"#), "tokenizer.json",
            in: folder)
        _ = assertError("tokenizer.json", ["model.vocab[\"b\"]"]) { try Tokenizer(tokenizerJSON: url) }
    }
}
