// Added tokens (the `added_tokens` of tokenizer.json, `added_tokens_decoder` of
// tokenizer_config.json): strings matched in the text before normalization and BPE and mapped
// straight to their ids. Matching follows Hugging Face `tokenizers` AddedVocabulary: leftmost-
// longest over all added tokens (Aho-Corasick `LeftmostLongest`), with the `single_word`,
// `lstrip` and `rstrip` options and the `encode_special_tokens` switch (special tokens left as
// plain text). This file finds the splits; Tokenizer.swift encodes the text between them.

// MARK: - Public description

/// One added token and its matching options, as in tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    /// The token id.
    public let id: Int
    /// The literal text the token stands for.
    public let content: String
    /// Special tokens are skipped by `decode(skipSpecialTokens: true)` and can be left as plain text.
    public let special: Bool
    /// Matches only when not preceded or followed by a word character.
    public let singleWord: Bool
    /// Swallows white space to its left.
    public let lstrip: Bool
    /// Swallows white space to its right.
    public let rstrip: Bool
    /// Matched against normalized (NFC) text rather than the raw input.
    public let normalized: Bool

    /// Creates an added token description.
    public init(
        id: Int, content: String, special: Bool, singleWord: Bool = false, lstrip: Bool = false,
        rstrip: Bool = false, normalized: Bool = false
    ) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

// MARK: - Matcher

/// Leftmost-longest matcher over a set of added tokens.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        let bytes: [UInt8]
        let token: AddedToken
    }
    /// Pattern indices by first byte, longest first.
    private let byFirstByte: [[Int]]
    private let patterns: [Pattern]
    private let classTable = CharClassTable()

    /// True when there is nothing to match.
    var isEmpty: Bool { patterns.isEmpty }

    init(_ tokens: [AddedToken], contentOf: (AddedToken) -> [UInt8]) {
        var patterns: [Pattern] = []
        for t in tokens {
            let bytes = contentOf(t)
            if !bytes.isEmpty { patterns.append(Pattern(bytes: bytes, token: t)) }
        }
        var table = [[Int]](repeating: [], count: 256)
        for (k, p) in patterns.enumerated() { table[Int(p.bytes[0])].append(k) }
        for b in 0..<256 {
            // Longest first; equal lengths keep declaration order (the first declared wins).
            table[b] = table[b].enumerated().sorted { lhs, rhs in
                let a = patterns[lhs.element].bytes.count, c = patterns[rhs.element].bytes.count
                return a != c ? a > c : lhs.offset < rhs.offset
            }.map(\.element)
        }
        self.patterns = patterns
        self.byFirstByte = table
    }

    /// Calls `text(start, end)` for each stretch of plain text and `token(start, end, id)` for each
    /// added token in `p[0..<n]`, in order. With `skipSpecial`, special tokens stay in the text.
    func split(
        _ p: UnsafePointer<UInt8>, _ n: Int, skipSpecial: Bool,
        text: (Int, Int) -> Void, token: (Int32) -> Void
    ) {
        if patterns.isEmpty {
            if n > 0 { text(0, n) }
            return
        }
        var offset = 0  // start of pending plain text
        var i = 0
        while i < n {
            let candidates = byFirstByte[Int(p[i])]
            if candidates.isEmpty { i += 1; continue }
            var found = -1
            for k in candidates {
                let pat = patterns[k].bytes
                if i + pat.count > n { continue }
                var same = true
                var m = 1
                while m < pat.count {
                    if p[i + m] != pat[m] { same = false; break }
                    m += 1
                }
                if same { found = k; break }
            }
            if found < 0 { i += 1; continue }
            let tok = patterns[found].token
            var start = i
            var stop = i + patterns[found].bytes.count
            i = stop
            if skipSpecial && tok.special { continue }
            if tok.singleWord {
                let startOK = start == 0 || !endsWithWord(p, start)
                let stopOK = stop == n || !startsWithWord(p, stop, n)
                if !startOK || !stopOK { continue }
            }
            if tok.lstrip { start = max(trailingSpaceStart(p, start), offset) }
            if tok.rstrip { stop = leadingSpaceEnd(p, stop, n) }
            if offset < start { text(offset, start) }
            token(Int32(tok.id))
            offset = stop
            i = max(i, stop)
        }
        if offset < n { text(offset, n) }
    }

    // MARK: Helpers (\w and \s as Rust `regex` defines them)

    /// The class bits of the scalar ending just before byte `end`.
    private func classBefore(_ p: UnsafePointer<UInt8>, _ end: Int) -> (bits: UInt8, start: Int) {
        var s = end - 1
        while s > 0 && p[s] & 0xC0 == 0x80 { s -= 1 }
        let (u, _) = decodeScalar(p, s)
        return (CharClass.of(u, bmp: classTable.table), s)
    }

    private func endsWithWord(_ p: UnsafePointer<UInt8>, _ end: Int) -> Bool {
        classBefore(p, end).bits & CharClass.word != 0
    }

    private func startsWithWord(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Bool {
        let (u, _) = decodeScalar(p, start)
        return CharClass.of(u, bmp: classTable.table) & CharClass.word != 0
    }

    /// The start of the white-space run that ends at `end`.
    private func trailingSpaceStart(_ p: UnsafePointer<UInt8>, _ end: Int) -> Int {
        var s = end
        while s > 0 {
            let (bits, start) = classBefore(p, s)
            if bits & CharClass.space == 0 { break }
            s = start
        }
        return s
    }

    /// The end of the white-space run that starts at `start`.
    private func leadingSpaceEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var s = start
        while s < n {
            let (u, l) = decodeScalar(p, s)
            if CharClass.of(u, bmp: classTable.table) & CharClass.space == 0 { break }
            s += l
        }
        return s
    }
}

/// A Sendable handle on the shared class table.
struct CharClassTable: @unchecked Sendable {
    let table: UnsafeMutablePointer<UInt8> = CharClass.bmp
}
