// Reference tests: every encode / decode / chat-template case of the fixtures made by Hugging Face
// `transformers` 5.24.0 and `tokenizers` 0.23.3 (Tests/Fixtures/*/reference.json) must give
// identical ids, tokens and text, for both loading forms of the Qwen2.5 tokenizer and for the
// tiny-qwen2 tokenizer. Incremental decoding is checked against the full decode of the same ids.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityTokenizer

// MARK: - Fixture access

/// One `encode` / `tokenization` case of a reference.json.
struct EncodeCase: Decodable {
    let text: String
    let ids: [Int]
    let tokens: [String]
    let decoded: String
    let roundtrip_equal: Bool
    let decoded_skip_special: String?
}

/// One `chat_template` case of a reference.json.
struct ChatCase: Decodable {
    let text: String
    let ids: [Int]
}

struct QwenReference: Decodable {
    let encode: [EncodeCase]
    let chat_template: [ChatCase]
}

struct TinyReference: Decodable {
    let tokenization: [EncodeCase]
    let chat_template: [ChatCase]
}

/// Tokenizers loaded once per test process (loading the 151k vocabulary in a debug build takes a moment).
enum Loaded {
    static let qwenJSON: Result<Tokenizer, Error> = Result {
        try Tokenizer(
            tokenizerJSON: Fixtures.url("qwen2.5-tokenizer/tokenizer.json"),
            config: Fixtures.url("qwen2.5-tokenizer/tokenizer_config.json"))
    }
    static let qwenVocab: Result<Tokenizer, Error> = Result {
        try Tokenizer(
            vocab: Fixtures.url("qwen2.5-tokenizer/vocab.json"), merges: Fixtures.url("qwen2.5-tokenizer/merges.txt"),
            config: Fixtures.url("qwen2.5-tokenizer/tokenizer_config.json"))
    }
    static let tiny: Result<Tokenizer, Error> = Result { try Tokenizer(folder: Fixtures.url("tiny-qwen2")) }
    static let qwenReference: Result<QwenReference, Error> = Result {
        try JSONDecoder().decode(QwenReference.self, from: Fixtures.data("qwen2.5-tokenizer/reference.json"))
    }
    static let tinyReference: Result<TinyReference, Error> = Result {
        try JSONDecoder().decode(TinyReference.self, from: Fixtures.data("tiny-qwen2/reference.json"))
    }
}

/// SplitMix64, for test-order shuffles.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Tests

final class ReferenceTests: XCTestCase {
    /// Checks every encode case: ids, tokens, decode with and without special tokens, streaming decode.
    func checkEncodeCases(_ tokenizer: Tokenizer, _ cases: [EncodeCase], label: String) {
        XCTAssertEqual(cases.count, 40, label)
        for (k, c) in cases.enumerated() {
            let ids = tokenizer.encode(c.text)
            XCTAssertEqual(ids, c.ids, "\(label) case \(k) ids: \(c.text.debugDescription)")
            XCTAssertEqual(c.ids.map { tokenizer.token(forID: $0) ?? "<nil>" }, c.tokens, "\(label) case \(k) tokens")
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "\(label) case \(k) decode")
            if let skip = c.decoded_skip_special {
                XCTAssertEqual(
                    tokenizer.decode(c.ids, skipSpecialTokens: true), skip,
                    "\(label) case \(k) decode skipping specials")
            }
            if c.roundtrip_equal { XCTAssertEqual(tokenizer.decode(c.ids), c.text, "\(label) case \(k) round trip") }
            var stream = tokenizer.streamingDecoder()
            var text = ""
            for id in c.ids { text += stream.push(id) }
            text += stream.finish()
            XCTAssertEqual(text, c.decoded, "\(label) case \(k) streaming decode")
        }
    }

    func checkChatCases(_ tokenizer: Tokenizer, _ cases: [ChatCase], label: String) {
        XCTAssertEqual(cases.count, 3, label)
        for (k, c) in cases.enumerated() {
            XCTAssertEqual(tokenizer.encode(c.text), c.ids, "\(label) chat case \(k)")
            XCTAssertEqual(tokenizer.decode(c.ids), c.text, "\(label) chat case \(k) decode")
        }
    }

    func testQwenTokenizerJSONMatchesReference() throws {
        let tokenizer = try Loaded.qwenJSON.get()
        let reference = try Loaded.qwenReference.get()
        XCTAssertEqual(tokenizer.vocabularySize, 151_665)
        checkEncodeCases(tokenizer, reference.encode, label: "qwen2.5 tokenizer.json")
        checkChatCases(tokenizer, reference.chat_template, label: "qwen2.5 tokenizer.json")
    }

    func testQwenVocabMergesMatchesReference() throws {
        let tokenizer = try Loaded.qwenVocab.get()
        let reference = try Loaded.qwenReference.get()
        XCTAssertEqual(tokenizer.vocabularySize, 151_665)
        checkEncodeCases(tokenizer, reference.encode, label: "qwen2.5 vocab.json+merges.txt")
        checkChatCases(tokenizer, reference.chat_template, label: "qwen2.5 vocab.json+merges.txt")
    }

    func testTinyQwen2MatchesReference() throws {
        let tokenizer = try Loaded.tiny.get()
        let reference = try Loaded.tinyReference.get()
        XCTAssertEqual(tokenizer.vocabularySize, 1024)
        checkEncodeCases(tokenizer, reference.tokenization, label: "tiny-qwen2")
        checkChatCases(tokenizer, reference.chat_template, label: "tiny-qwen2")
    }

    /// The long-piece (heap) merge loop gives the same ids as the short-piece scan on every case.
    func testHeapMergeAgreesOnReferenceCases() throws {
        let tokenizer = try Loaded.qwenJSON.get()
        let reference = try Loaded.qwenReference.get()
        let ws = EncodeWorkspace()
        for c in reference.encode {
            for piece in SplitPattern.qwen2.split(c.text.precomposedStringWithCanonicalMapping) {
                var bytes = Array(piece.utf8)
                var scan: [Int32] = [], heap: [Int32] = []
                bytes.withUnsafeMutableBufferPointer { b in
                    guard let p = b.baseAddress else { return }
                    ws.cache.removeAll()
                    tokenizer.model.encodePiece(p, b.count, into: &scan, workspace: ws)
                    ws.cache.removeAll()
                    tokenizer.model.encodePiece(p, b.count, into: &heap, workspace: ws, forceHeap: true)
                }
                XCTAssertEqual(scan, heap, piece.debugDescription)
            }
        }
    }

    /// One tokenizer shared by several threads gives the reference ids on every thread.
    func testConcurrentEncodingMatchesReference() throws {
        let tokenizer = try Loaded.qwenJSON.get()
        let reference = try Loaded.qwenReference.get()
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var mismatches = 0
            var checked = 0
        }
        let counter = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            var generator = SeededGenerator(seed: UInt64(k + 1))
            for c in reference.encode.shuffled(using: &generator) {
                let same = tokenizer.encode(c.text) == c.ids
                counter.lock.lock()
                counter.checked += 1
                if !same { counter.mismatches += 1 }
                counter.lock.unlock()
            }
        }
        XCTAssertEqual(counter.checked, 8 * reference.encode.count)
        XCTAssertEqual(counter.mismatches, 0)
    }

    func testConfigValues() throws {
        let qwen = try Loaded.qwenJSON.get()
        XCTAssertEqual(qwen.eosTokenID, 151_643)
        XCTAssertEqual(qwen.padTokenID, 151_643)
        XCTAssertNil(qwen.bosTokenID)
        XCTAssertEqual(qwen.id(forToken: "<|im_start|>"), 151_644)
        XCTAssertEqual(qwen.id(forToken: "<|im_end|>"), 151_645)
        XCTAssertEqual(qwen.token(forID: 9707), "Hello")
        XCTAssertTrue(qwen.specialTokenIDs.contains(151_645))
        XCTAssertFalse(qwen.specialTokenIDs.contains(151_657), "<tool_call> is added but not special")
        XCTAssertEqual(qwen.specialTokenIDs.count, 14)
        XCTAssertEqual(qwen.addedTokens.count, 22)
        XCTAssertTrue(qwen.chatTemplate?.contains("<|im_start|>") ?? false)
        let vocab = try Loaded.qwenVocab.get()
        XCTAssertEqual(vocab.specialTokenIDs, qwen.specialTokenIDs)
        XCTAssertEqual(vocab.chatTemplate, qwen.chatTemplate)
        let tiny = try Loaded.tiny.get()
        XCTAssertEqual(tiny.eosTokenID, 1021)
        XCTAssertEqual(tiny.specialTokenIDs, [1021, 1022, 1023])
    }
}
