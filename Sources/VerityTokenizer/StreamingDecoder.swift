// Incremental detokenization for the sampler: ids go in one at a time and text comes out as soon
// as it is complete UTF-8. A trailing, still-incomplete UTF-8 sequence is held back until the
// bytes that finish it arrive, so no character is ever split; invalid bytes become U+FFFD exactly
// where the full decode puts them. The pieces returned by `push` plus `finish()` concatenate to
// `Tokenizer.decode` of the same ids. This is not a stop-string matcher.

// MARK: - Streaming decoder

/// Turns ids into text incrementally without splitting UTF-8 sequences.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []

    /// Creates a decoder; prefer `Tokenizer.streamingDecoder(skipSpecialTokens:)`.
    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// The new text that `id` completes (possibly empty while a character is still incomplete).
    public mutating func push(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending)
        let cut = StreamingDecoder.completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// The text of several ids (same as pushing them one by one and joining the results).
    public mutating func push<S: Sequence>(contentsOf ids: S) -> String where S.Element: BinaryInteger {
        for id in ids { tokenizer.appendBytes(of: Int(id), skipSpecialTokens: skipSpecialTokens, to: &pending) }
        let cut = StreamingDecoder.completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Flushes held-back bytes at the end of a sample (an unfinished character becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// True when bytes are held back waiting for the rest of a character.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// The length of the prefix that can be emitted now: everything except a trailing sequence
    /// that is a valid but incomplete start of a UTF-8 character (Unicode Table 3-7).
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        var q = n - 1
        let lowest = max(0, n - 3)
        // Find the lead byte of the last sequence (at most 3 bytes back).
        while q >= lowest && b[q] & 0xC0 == 0x80 { q -= 1 }
        guard q >= lowest else { return n }
        let lead = b[q]
        let need: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0: need = 3; lo = 0xA0
        case 0xED: need = 3; hi = 0x9F
        case 0xE1...0xEC, 0xEE...0xEF: need = 3
        case 0xF0: need = 4; lo = 0x90
        case 0xF4: need = 4; hi = 0x8F
        case 0xF1...0xF3: need = 4
        default: return n  // ASCII or an invalid lead: nothing to wait for
        }
        let have = n - q
        if have >= need { return n }
        // Held back only if the continuation bytes so far are valid for this lead.
        if have >= 2 && (b[q + 1] < lo || b[q + 1] > hi) { return n }
        return q
    }
}
