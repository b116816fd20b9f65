// BPETrainer: a trained tokenizer loads with the project's own loader and round-trips any text; the
// first merges of a toy corpus are the ones computed by hand below; ties go to the smaller pair in
// code-point order; training is deterministic and independent of text order; special tokens are cut
// out of the training text; bad settings and bad JSONL lines give errors naming the problem; and
// Hugging Face `tokenizers` loads the written tokenizer.json and gives the same ids (skipped only
// when `tokenizers` is not installed).
import Foundation
import VerityJSON
import XCTest
@testable import VerityTokenizer

// MARK: - Corpus

/// A small, fixed corpus of arithmetic word problems (English words, digits, \boxed{}, \frac{}{}).
private let corpus: [String] = {
    let names = ["Alice", "Bob", "Carol", "Dan", "Eve"]
    let things = ["apples", "books", "coins", "marbles"]
    var out: [String] = []
    for k in 0..<60 {
        let a = (k * 7) % 23 + 2, b = (k * 5) % 17 + 1
        let name = names[k % names.count], thing = things[k % things.count]
        out.append("\(name) has \(a) \(thing) and buys \(b) more. How many \(thing) does \(name) have now?")
        out.append("\(name) has \(a) + \(b) = \(a + b) \(thing). The answer is \\boxed{\(a + b)}.")
        out.append("Half of \(a) is \\frac{\(a)}{2}.<|endoftext|>")
    }
    return out
}()

/// Strings the corpus never holds: other scripts, emoji, control bytes, white space runs, specials.
private let heldOut: [String] = [
    "Zoë paid $3.50 for 12 pencils; how many can she buy for 100?",
    "naïve café — ünïcödé, 漢字, Ελληνικά, русский, 😀👩‍👩‍👧 🇫🇷",
    "\\boxed{\\frac{7}{3}} and \\sqrt{2} \\cdot \\pi",
    "tabs\tand\r\nnew lines\n\n   spaces   \u{A0}nbsp",
    "\u{0}\u{1}\u{7F}\u{80}\u{FFFD} control",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n\\boxed{4}<|im_end|><|endoftext|>",
    "don't I'LL we've 1234567890",
    "",
]

/// A trainer over `texts` with `specials`, `vocabularySize` and `minFrequency`.
private func train(
    _ texts: [String], vocabularySize: Int, specials: [String] = BPETrainer.defaultSpecialTokens,
    minFrequency: Int = 2
) throws -> TrainedBPE {
    var trainer = try BPETrainer(
        vocabularySize: vocabularySize, specialTokens: specials, minFrequency: minFrequency)
    trainer.add(contentsOf: texts)
    return try trainer.train()
}

// MARK: - Tests

final class BPETrainerTests: XCTestCase {
    func testTrainedTokenizerLoadsAndRoundTrips() throws {
        let trained = try train(corpus, vocabularySize: 320)
        XCTAssertEqual(trained.vocabularySize, 320)
        XCTAssertEqual(trained.vocabulary.count, 317)
        XCTAssertEqual(trained.merges.count, 61)
        let folder = try temporaryFolder(self)
        try trained.write(to: folder)
        let tok = try Tokenizer(folder: folder)
        XCTAssertEqual(tok.vocabularySize, 320)
        XCTAssertEqual(tok.splitPattern, .qwen2)
        XCTAssertEqual(tok.eosTokenID, 317)
        XCTAssertEqual(tok.padTokenID, 317)
        XCTAssertNil(tok.bosTokenID)
        XCTAssertEqual(tok.id(forToken: "<|endoftext|>"), 317)
        XCTAssertEqual(tok.id(forToken: "<|im_start|>"), 318)
        XCTAssertEqual(tok.id(forToken: "<|im_end|>"), 319)
        XCTAssertEqual(tok.specialTokenIDs, [317, 318, 319])
        // GPT-2's byte order: "!" first, the space byte as "Ġ" at 220.
        XCTAssertEqual(tok.id(forToken: "!"), 0)
        XCTAssertEqual(tok.id(forToken: "Ġ"), 220)
        for id in 0..<tok.vocabularySize { XCTAssertNotNil(tok.bytes(forID: id), "id \(id)") }
        // Every text round-trips exactly (all NFC), held-out bytes included: byte-level covers everything.
        for text in corpus + heldOut {
            let ids = tok.encode(text)
            XCTAssertEqual(tok.decode(ids), text, "round trip of \(text.debugDescription)")
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < 320 })
        }
        // The normalizer is NFC, as Qwen2.5's: a decomposed é comes back composed.
        XCTAssertEqual(tok.decode(tok.encode("e\u{301}")), "\u{E9}")
        // Specials are single ids; digits are one per token, as in Qwen2.
        XCTAssertEqual(tok.encode("<|im_end|>"), [319])
        let digits = tok.encode("1234567890")
        XCTAssertEqual(digits.count, 10)
        XCTAssertEqual(digits.map { tok.decode([$0]) }, "1234567890".map { String($0) })
        // Merges pay off on the training text.
        let bytes = corpus.reduce(0) { $0 + $1.utf8.count }
        let tokens = tok.tokenCount(of: corpus)
        XCTAssertLessThan(tokens * 2, bytes, "\(bytes) bytes in \(tokens) tokens")
        print("BPE toy corpus: \(bytes) bytes -> \(tokens) tokens (\(Double(bytes) / Double(tokens)) bytes/token)")
    }

    func testFirstMergesMatchHandComputation() throws {
        // Pieces (Qwen2 split, space as Ġ): "aaab" x1, "Ġaaab" x1, "ab" x1.
        // Pairs: (a,a) 2+2 = 4, (a,b) 1+1+1 = 3, (Ġ,a) 1.
        // 1. (a,a) -> aa: words [aa a b], [Ġ aa a b], [a b]; pairs (aa,a) 2, (a,b) 3, (Ġ,aa) 1.
        // 2. (a,b) -> ab: words [aa ab], [Ġ aa ab], [ab]; pairs (aa,ab) 2, (Ġ,aa) 1.
        // 3. (aa,ab) -> aaab: words [aaab], [Ġ aaab], [ab]; pairs (Ġ,aaab) 1.
        // 4. (Ġ,aaab) -> Ġaaab (only when pairs seen once may merge).
        let toy = ["aaab aaab", "ab"]
        let all = try train(toy, vocabularySize: 300, specials: [], minFrequency: 1)
        XCTAssertEqual(
            all.merges.map { [$0.left, $0.right] }, [["a", "a"], ["a", "b"], ["aa", "ab"], ["Ġ", "aaab"]])
        XCTAssertEqual(Array(all.vocabulary.dropFirst(256)), ["aa", "ab", "aaab", "Ġaaab"])
        // With the default minimum frequency 2, step 4 (count 1) is not taken.
        let frequent = try train(toy, vocabularySize: 300, specials: [])
        XCTAssertEqual(frequent.merges.map { [$0.left, $0.right] }, [["a", "a"], ["a", "b"], ["aa", "ab"]])
        // The vocabulary size caps the merges: 258 = 256 bytes + 2 merges.
        let capped = try train(toy, vocabularySize: 258, specials: [], minFrequency: 1)
        XCTAssertEqual(capped.merges.map { [$0.left, $0.right] }, [["a", "a"], ["a", "b"]])
        // The loaded tokenizer applies them: "aaab" is one token, " aaab" one more.
        let folder = try temporaryFolder(self)
        try all.write(to: folder)
        let tok = try Tokenizer(folder: folder)
        XCTAssertEqual(tok.encode("aaab aaab"), [258, 259])
        // "aaaab": the leftmost (a,a) twice gives [aa aa b]; no later merge applies ("b" is byte 0x62, id 0x62 - 0x21).
        XCTAssertEqual(tok.encode("aaaab"), [256, 256, 65])
    }

    func testTiesGoToTheSmallerPairInCodePointOrder() throws {
        // Every pair is seen once: (a,b), (a,c), (z,y), (Ġ,y). "a" < "z" < "Ġ" (U+0120), and with the
        // same left token the right one decides: b before c.
        let trained = try train(["zy", " y", "ac", "ab"], vocabularySize: 260, specials: [], minFrequency: 1)
        XCTAssertEqual(
            trained.merges.map { [$0.left, $0.right] }, [["a", "b"], ["a", "c"], ["z", "y"], ["Ġ", "y"]])
    }

    func testTrainingIsDeterministicAndIndependentOfTextOrder() throws {
        // 400 is more than the corpus supports at min frequency 2: the run stops early (346), the same way each time.
        let first = try train(corpus, vocabularySize: 400)
        XCTAssertEqual(first.vocabularySize, 346)
        let again = try train(corpus, vocabularySize: 400)
        let reversed = try train(corpus.reversed(), vocabularySize: 400)
        XCTAssertEqual(first.tokenizerJSON(), again.tokenizerJSON())
        XCTAssertEqual(first.tokenizerJSON(), reversed.tokenizerJSON())
        XCTAssertEqual(first.tokenizerConfigJSON(), reversed.tokenizerConfigJSON())
        let a = try temporaryFolder(self), b = try temporaryFolder(self)
        try first.write(to: a)
        try reversed.write(to: b)
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            XCTAssertEqual(
                try Data(contentsOf: a.appendingPathComponent(name)),
                try Data(contentsOf: b.appendingPathComponent(name)), name)
        }
    }

    func testSpecialTokensAreCutOutOfTheTrainingText() throws {
        let trained = try train(
            Array(repeating: "hello<|im_end|>world<|im_start|>", count: 10), vocabularySize: 1000)
        // Without the cut, "<|", "_end", "_start" and "|>" would be learned (each seen 10 times).
        for piece in ["<|", "|>", "_end", "_start", "im"] {
            XCTAssertFalse(trained.vocabulary.contains(piece), piece)
        }
        XCTAssertTrue(trained.vocabulary.contains("hello"))
        XCTAssertTrue(trained.vocabulary.contains("world"))
        // A special token spelled like a vocabulary entry (a byte symbol, or the byte-level spelling of a
        // learned piece) would have two ids: an error, not a silent shadowing.
        XCTAssertThrowsError(try train([" hello", " hello"], vocabularySize: 1000, specials: ["Ġhello"])) { error in
            XCTAssertEqual(error as? BPETrainerError, .specialTokenInVocabulary("Ġhello"))
        }
        XCTAssertThrowsError(try train([], vocabularySize: 300, specials: ["!"])) { error in
            XCTAssertEqual(error as? BPETrainerError, .specialTokenInVocabulary("!"))
        }
    }

    func testSmallestVocabularyHasNoMergesAndStillRoundTrips() throws {
        let trained = try train(corpus, vocabularySize: 259)
        XCTAssertTrue(trained.merges.isEmpty)
        let folder = try temporaryFolder(self)
        try trained.write(to: folder)
        let tok = try Tokenizer(folder: folder)
        XCTAssertEqual(tok.vocabularySize, 259)
        for text in heldOut { XCTAssertEqual(tok.decode(tok.encode(text)), text) }
        XCTAssertEqual(tok.encode("ab").count, 2)
    }

    func testBadSettingsAndLinesAreNamed() throws {
        XCTAssertThrowsError(try BPETrainer(vocabularySize: 258)) { error in
            XCTAssertEqual(
                error as? BPETrainerError, .vocabularyTooSmall(requested: 258, minimum: 259, specialTokens: 3))
            XCTAssertEqual(
                "\(error)", "vocabulary size 258 is below the minimum 259 (256 byte symbols + 3 special tokens)")
        }
        XCTAssertNoThrow(try BPETrainer(vocabularySize: 256, specialTokens: []))
        XCTAssertThrowsError(try BPETrainer(vocabularySize: 300, specialTokens: ["<a>", "<a>"])) { error in
            XCTAssertEqual(error as? BPETrainerError, .invalidSpecialToken(token: "<a>", reason: "is named twice"))
        }
        XCTAssertThrowsError(try BPETrainer(vocabularySize: 300, specialTokens: [""]))
        XCTAssertThrowsError(try BPETrainer(vocabularySize: 300, minFrequency: 0)) { error in
            XCTAssertEqual(error as? BPETrainerError, .invalidMinFrequency(0))
        }

        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("data.jsonl")
        try Data(
            """
            {"problem": "1+1", "solution": "\\\\boxed{2}"}

            {"problem": "2+2"}
            """.utf8
        ).write(to: url)
        XCTAssertThrowsError(try BPETrainer.texts(jsonl: url, fields: ["problem", "solution"])) { error in
            XCTAssertEqual(
                error as? BPETrainerError, .missingField(file: url.path, line: 3, field: "solution", found: nil))
            XCTAssertEqual("\(error)", "\(url.path):3: no field \"solution\"")
        }
        XCTAssertEqual(try BPETrainer.texts(jsonl: url, fields: ["problem"]), ["1+1", "2+2"])
        try Data("{\"problem\": 7}\n".utf8).write(to: url)
        XCTAssertThrowsError(try BPETrainer.texts(jsonl: url, fields: ["problem"])) { error in
            XCTAssertEqual(
                error as? BPETrainerError, .missingField(file: url.path, line: 1, field: "problem", found: "a number"))
            XCTAssertEqual("\(error)", "\(url.path):1: field \"problem\" is not a string (found a number)")
        }
        try Data("\"plain\"\n[1]\n".utf8).write(to: url)
        XCTAssertThrowsError(try BPETrainer.texts(jsonl: url, fields: [])) { error in
            XCTAssertEqual(
                error as? BPETrainerError, .missingField(file: url.path, line: 2, field: nil, found: "an array"))
        }
    }

    func testTokenizersLoadsTheFileAndGivesTheSameIds() throws {
        let trained = try train(corpus, vocabularySize: 340)
        XCTAssertEqual(trained.vocabularySize, 340)
        let folder = try temporaryFolder(self)
        try trained.write(to: folder)
        let tok = try Tokenizer(folder: folder)
        let texts = heldOut + corpus.prefix(12)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/hf_encode.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, folder.appendingPathComponent("tokenizer.json").path]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("python3 is not installed") }
        let list = "[" + texts.map(jsonStringLiteral).joined(separator: ",") + "]"
        input.fileHandleForWriting.write(Data(list.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 3 || p.terminationStatus == 127 {
            throw XCTSkip("the Python tokenizers package is not installed")
        }
        XCTAssertEqual(p.terminationStatus, 0)
        struct Case: Decodable { let ids: [Int]; let decoded: String }
        struct Result: Decodable { let vocab_size: Int; let cases: [Case] }
        let theirs = try JSONDecoder().decode(Result.self, from: data)
        XCTAssertEqual(theirs.vocab_size, 340)
        XCTAssertEqual(theirs.cases.count, texts.count)
        for (text, their) in zip(texts, theirs.cases) {
            XCTAssertEqual(tok.encode(text), their.ids, text.debugDescription)
            XCTAssertEqual(tok.decode(their.ids), their.decoded, text.debugDescription)
        }
    }
}
