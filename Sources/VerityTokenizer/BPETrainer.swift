// Training a byte-level BPE vocabulary from texts, for small demo models. Texts go through the same
// front end the Qwen2 tokenizer runs when encoding (special tokens split out, NFC, the Qwen2 split
// pattern with one digit per piece); the distinct pieces are counted, spelled in the 256-character
// byte-level alphabet (ByteLevel.swift), and the most frequent adjacent pair is merged until the
// vocabulary reaches its size, as Hugging Face `tokenizers`' BpeTrainer does (models/bpe/trainer.rs):
// pair counts are updated incrementally, touching only the words that hold the merged pair, and the
// best pair comes from a lazily refreshed max-heap. Ties go to the pair whose (left, right) token
// strings come first in code-point order, so a result depends only on the multiset of texts.
// Writing the tokenizer.json / tokenizer_config.json lives in BPETrainerOutput.swift; this file
// neither encodes nor writes.
import Foundation
import VerityJSON

// MARK: - Errors

/// Why a BPE training run cannot start or finish; each message names the flag, file or token at fault.
public enum BPETrainerError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The vocabulary size leaves no room for the 256 byte symbols and the special tokens.
    case vocabularyTooSmall(requested: Int, minimum: Int, specialTokens: Int)
    /// The vocabulary size is beyond the largest supported token id.
    case vocabularyTooLarge(requested: Int, maximum: Int)
    /// The minimum pair frequency is below 1.
    case invalidMinFrequency(Int)
    /// A special token is empty or repeated.
    case invalidSpecialToken(token: String, reason: String)
    /// A JSONL line is not an object holding a string under `field` (or, with no fields, not a string);
    /// `found` describes what is there instead (nil: the line has no such field).
    case missingField(file: String, line: Int, field: String?, found: String?)
    /// A special token's text is also a learned vocabulary entry, so its id would be ambiguous.
    case specialTokenInVocabulary(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case let .vocabularyTooSmall(requested, minimum, specials):
            return "vocabulary size \(requested) is below the minimum \(minimum) "
                + "(256 byte symbols + \(specials) special tokens)"
        case let .vocabularyTooLarge(requested, maximum):
            return "vocabulary size \(requested) is above the maximum \(maximum)"
        case let .invalidMinFrequency(n):
            return "minimum frequency \(n) must be at least 1"
        case let .invalidSpecialToken(token, reason):
            return "special token \(token.debugDescription): \(reason)"
        case let .missingField(file, line, field, found):
            guard let field else { return "\(file):\(line): expected a JSON string, found \(found ?? "nothing")" }
            guard let found else { return "\(file):\(line): no field \(field.debugDescription)" }
            return "\(file):\(line): field \(field.debugDescription) is not a string (found \(found))"
        case let .specialTokenInVocabulary(token):
            return "special token \(token.debugDescription) is also a vocabulary entry (a byte symbol or a learned "
                + "piece); choose one the pre-tokenizer splits, such as <|name|>"
        }
    }

    /// The same text as `description`.
    public var errorDescription: String? { description }
}

// MARK: - Trainer

/// Counts the pre-tokenized words of texts and learns byte-level BPE merges from them.
public struct BPETrainer {
    /// The special tokens a trained tokenizer gets when none are named (Qwen2's three).
    public static let defaultSpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// The total vocabulary size wanted: 256 byte symbols, the merges, and the special tokens.
    public let vocabularySize: Int
    /// The special tokens, given ids after the BPE vocabulary in this order.
    public let specialTokens: [String]
    /// Pairs seen fewer times than this are never merged (training may then stop below `vocabularySize`).
    public let minFrequency: Int

    /// Texts added so far.
    public private(set) var textCount = 0
    /// UTF-8 bytes of the texts added so far.
    public private(set) var byteCount = 0
    /// Distinct pre-tokenized pieces (raw bytes, after NFC) and how often each occurred.
    private var wordCounts: [[UInt8]: Int] = [:]
    private let specials: AddedTokenMatcher

    /// The smallest vocabulary size for `specialTokens` special tokens: 256 byte symbols plus the specials.
    public static func minimumVocabularySize(specialTokens: Int) -> Int { 256 + specialTokens }

    /// A trainer for a vocabulary of `vocabularySize` ids in all; throws when the settings cannot work.
    public init(
        vocabularySize: Int, specialTokens: [String] = BPETrainer.defaultSpecialTokens, minFrequency: Int = 2
    ) throws {
        var seen = Set<[UInt8]>()
        for token in specialTokens {
            guard !token.isEmpty else { throw BPETrainerError.invalidSpecialToken(token: token, reason: "is empty") }
            guard seen.insert(Array(token.utf8)).inserted else {
                throw BPETrainerError.invalidSpecialToken(token: token, reason: "is named twice")
            }
        }
        let minimum = BPETrainer.minimumVocabularySize(specialTokens: specialTokens.count)
        guard vocabularySize >= minimum else {
            throw BPETrainerError.vocabularyTooSmall(
                requested: vocabularySize, minimum: minimum, specialTokens: specialTokens.count)
        }
        guard vocabularySize <= TokenizerLimits.maxID else {
            throw BPETrainerError.vocabularyTooLarge(requested: vocabularySize, maximum: TokenizerLimits.maxID)
        }
        guard minFrequency >= 1 else { throw BPETrainerError.invalidMinFrequency(minFrequency) }
        self.vocabularySize = vocabularySize
        self.specialTokens = specialTokens
        self.minFrequency = minFrequency
        let tokens = specialTokens.enumerated().map { AddedToken(id: $0.offset, content: $0.element, special: true) }
        specials = AddedTokenMatcher(tokens) { Array($0.content.utf8) }
    }

    // MARK: Counting

    /// Adds one text: special tokens are cut out, the rest is NFC-normalized, split by the Qwen2
    /// pattern and each piece counted.
    public mutating func add(_ text: String) {
        textCount += 1
        byteCount += text.utf8.count
        // The counts are moved out for the call so the closures below own them (no copy, no overlap).
        var counts: [[UInt8]: Int] = [:]
        swap(&counts, &wordCounts)
        defer { swap(&counts, &wordCounts) }
        let matcher = specials
        var normalized: [UInt8] = []
        var text = text
        text.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            matcher.split(
                p, buf.count, skipSpecial: false,
                text: { start, end in
                    let q = p + start, n = end - start
                    if NFC.mayChange(q, n) {
                        NFC.normalize(q, n, into: &normalized)
                        normalized.withUnsafeBufferPointer { b in
                            if let r = b.baseAddress { BPETrainer.countPieces(r, b.count, into: &counts) }
                        }
                    } else {
                        BPETrainer.countPieces(q, n, into: &counts)
                    }
                },
                token: { _ in })
        }
    }

    /// Adds every text of `texts`.
    public mutating func add<S: Sequence>(contentsOf texts: S) where S.Element == String {
        for text in texts { add(text) }
    }

    /// Splits `p[0..<n]` by the Qwen2 pattern and counts each piece.
    private static func countPieces(_ p: UnsafePointer<UInt8>, _ n: Int, into counts: inout [[UInt8]: Int]) {
        let scanner = SplitScanner(p: p, end: n, pattern: .qwen2)
        var i = 0
        while i < n {
            let j = scanner.pieceEnd(from: i)
            counts[Array(UnsafeBufferPointer(start: p + i, count: j - i)), default: 0] += 1
            i = j
        }
    }

    // MARK: Merging

    /// Learns the merges: repeatedly the most frequent adjacent pair (ties: the smaller (left, right)
    /// in code-point order) until the vocabulary is full or no pair reaches `minFrequency`.
    public func train() throws -> TrainedBPE {
        // The 256 byte symbols, in GPT-2's vocabulary order (by the code point that stands for each byte).
        let order = (0..<256).sorted { ByteLevel.scalarOfByte[$0] < ByteLevel.scalarOfByte[$1] }
        // The heap owns the token strings (UTF-8 of the byte-level spelling, by id) for its tie-break.
        var heap = PairHeap(strings: order.map { Array(ByteLevel.token(ofBytes: [UInt8($0)]).utf8) })
        var idOfByte = [Int32](repeating: 0, count: 256)
        for (id, b) in order.enumerated() { idOfByte[b] = Int32(id) }
        var idOfString: [[UInt8]: Int32] = [:]
        for (id, s) in heap.strings.enumerated() { idOfString[s] = Int32(id) }

        // Words in byte order (the result does not depend on it; it keeps runs reproducible to debug).
        let entries = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = entries.map { $0.key.map { idOfByte[Int($0)] } }
        let counts: [Int] = entries.map(\.value)

        // Pair counts and, per pair, the words that may hold it.
        var pairCount: [UInt64: Int] = [:]
        var holders: [UInt64: [Int32]] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let key = pairKey(word[i], word[i + 1])
                pairCount[key, default: 0] += counts[w]
                if holders[key]?.last != Int32(w) { holders[key, default: []].append(Int32(w)) }
            }
        }
        for (key, count) in pairCount { heap.push(PairHeap.Entry(count: count, pair: key)) }

        var merges: [(Int32, Int32)] = []
        let target = vocabularySize - specialTokens.count
        while heap.strings.count < target {
            guard let top = heap.pop() else { break }
            let actual = pairCount[top.pair] ?? 0
            if actual != top.count {
                // Stale: a smaller count is re-queued; a larger one was queued when it grew.
                if actual > 0 && actual < top.count { heap.push(PairHeap.Entry(count: actual, pair: top.pair)) }
                continue
            }
            if actual < minFrequency { break }
            let (a, b) = (Int32(truncatingIfNeeded: top.pair >> 32), Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF))
            let joined = heap.strings[Int(a)] + heap.strings[Int(b)]
            if joined.count > ByteKeyTable.maxLength { continue }  // too long to load; never merged
            let m: Int32
            if let existing = idOfString[joined] {
                m = existing  // another pair already spelled this token; the merge still counts, as in `tokenizers`
            } else {
                m = Int32(heap.strings.count)
                heap.strings.append(joined)
                idOfString[joined] = m
            }
            merges.append((a, b))

            var delta: [UInt64: Int] = [:]
            for w in holders.removeValue(forKey: top.pair) ?? [] {
                let word = words[Int(w)]
                let n = word.count
                var found = false
                for i in 0..<(n - 1) where word[i] == a && word[i + 1] == b {
                    found = true
                    break
                }
                guard found else { continue }
                let c = counts[Int(w)]
                for i in 0..<(n - 1) { delta[pairKey(word[i], word[i + 1]), default: 0] -= c }
                var merged: [Int32] = []
                merged.reserveCapacity(n - 1)
                var i = 0
                while i < n {
                    if i + 1 < n && word[i] == a && word[i + 1] == b {
                        merged.append(m)
                        i += 2
                    } else {
                        merged.append(word[i])
                        i += 1
                    }
                }
                for i in 0..<max(0, merged.count - 1) {
                    let key = pairKey(merged[i], merged[i + 1])
                    delta[key, default: 0] += c
                    if merged[i] == m || merged[i + 1] == m, holders[key]?.last != w {
                        holders[key, default: []].append(w)
                    }
                }
                words[Int(w)] = merged
            }
            for (key, d) in delta where d != 0 {
                let now = (pairCount[key] ?? 0) + d
                precondition(now >= 0, "BPE pair count went negative")
                pairCount[key] = now == 0 ? nil : now
                if d > 0 { heap.push(PairHeap.Entry(count: now, pair: key)) }
            }
        }
        let vocabulary = heap.strings.map { String(decoding: $0, as: UTF8.self) }
        let mergeStrings = merges.map { (left: vocabulary[Int($0.0)], right: vocabulary[Int($0.1)]) }
        let learned = Set(heap.strings)
        for token in specialTokens where learned.contains(Array(token.utf8)) {
            throw BPETrainerError.specialTokenInVocabulary(token)
        }
        return TrainedBPE(vocabulary: vocabulary, merges: mergeStrings, specialTokens: specialTokens)
    }
}

@inline(__always)
private func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
}

// MARK: - Pair heap

/// A binary max-heap of (count, pair) entries: higher count first, then the pair whose left and then
/// right token string is smaller in code-point (UTF-8 byte) order. Entries may be stale; the
/// trainer checks each popped count against the live table.
private struct PairHeap {
    struct Entry {
        var count: Int
        var pair: UInt64
    }
    private var items: [Entry] = []
    /// The UTF-8 bytes of each token string, by id (the trainer appends each new token here).
    var strings: [[UInt8]]

    init(strings: [[UInt8]]) { self.strings = strings }

    /// Whether `x` comes out before `y`.
    private func before(_ x: Entry, _ y: Entry) -> Bool {
        if x.count != y.count { return x.count > y.count }
        if x.pair == y.pair { return false }
        let xl = strings[Int(x.pair >> 32)], yl = strings[Int(y.pair >> 32)]
        if xl != yl { return xl.lexicographicallyPrecedes(yl) }
        return strings[Int(x.pair & 0xFFFF_FFFF)].lexicographicallyPrecedes(strings[Int(y.pair & 0xFFFF_FFFF)])
    }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && before(items[l], items[best]) { best = l }
            if r < items.count && before(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}

// MARK: - Training texts from JSON Lines

extension BPETrainer {
    /// The texts of a JSON Lines file: for each line, the string under each of `fields` (one text
    /// per field, in order), or, with no fields, the line itself as a JSON string. A line without
    /// one of the fields, or with a non-string there, is an error naming the file and line.
    public static func texts(jsonl url: URL, fields: [String]) throws -> [String] {
        var out: [String] = []
        for line in try VerityJSON.JSONLines.read(url) {
            if fields.isEmpty {
                guard case .string(let s) = line.value else {
                    throw BPETrainerError.missingField(
                        file: url.path, line: line.number, field: nil, found: kindName(line.value))
                }
                out.append(s)
                continue
            }
            for field in fields {
                guard case .object = line.value else {
                    throw BPETrainerError.missingField(
                        file: url.path, line: line.number, field: field, found: "a line holding " + kindName(line.value)
                    )
                }
                guard let value = line.value[field] else {
                    throw BPETrainerError.missingField(file: url.path, line: line.number, field: field, found: nil)
                }
                guard case .string(let s) = value else {
                    throw BPETrainerError.missingField(
                        file: url.path, line: line.number, field: field, found: kindName(value))
                }
                out.append(s)
            }
        }
        return out
    }
}
