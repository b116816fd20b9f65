// The public tokenizer: byte-level BPE that gives the same ids as Hugging Face `tokenizers` for
// Qwen2/Qwen2.5/Qwen3, Llama-3 and GPT-2 style checkpoints. Pipeline (as `tokenizers` runs it):
// added tokens are split out of the raw text, the rest is NFC-normalized, split by the
// pre-tokenizer pattern, mapped to the byte-level alphabet and merged by BPE. Decoding maps ids
// back to bytes (ByteLevel decoder) and replaces invalid UTF-8 with U+FFFD. Loading lives in
// Loading.swift; there is no chat-template engine here (chat formats are Lua prompt plugins), only
// the raw template text from tokenizer_config.json. Encoding never adds BOS/EOS.
import Foundation

// MARK: - Options

/// How special-token strings inside the text are treated by `encode`.
public enum SpecialTokenHandling: Sendable {
    /// A special token's text (e.g. `<|im_end|>`) becomes its single id, as `tokenizers` does by default.
    case parse
    /// Special tokens are encoded as ordinary text (`encode_special_tokens` in `tokenizers`);
    /// non-special added tokens are still matched.
    case plainText
}

// MARK: - Tokenizer

/// A loaded byte-level BPE tokenizer. Immutable after loading and safe to share across threads.
public final class Tokenizer: @unchecked Sendable {
    // Pipeline.
    let model: BPEModel
    let normalizeNFC: Bool
    let pattern: SplitPattern?
    let addPrefixSpace: Bool
    let rawAdded: AddedTokenMatcher
    let normalizedAdded: AddedTokenMatcher

    // Id tables.
    let tokenStrings: [String?]
    let tokenIDs: TokenTable
    let byteStart: [Int32]
    let byteCount: [Int32]
    let tokenBytes: [UInt8]
    let specialFlags: [Bool]

    /// Every added token (special or not), in id order.
    public let addedTokens: [AddedToken]
    /// The ids of the special added tokens (skipped by `decode(skipSpecialTokens: true)`).
    public let specialTokenIDs: Set<Int>
    /// One more than the largest token id (regular and added tokens).
    public let vocabularySize: Int
    /// The end-of-sequence id named by tokenizer_config.json (`eos_token`), if any.
    public let eosTokenID: Int?
    /// The padding id named by tokenizer_config.json (`pad_token`), if any.
    public let padTokenID: Int?
    /// The beginning-of-sequence id named by tokenizer_config.json (`bos_token`), if any.
    public let bosTokenID: Int?
    /// The raw Jinja chat template from tokenizer_config.json (or chat_template.jinja); never executed here.
    public let chatTemplate: String?
    /// The pre-tokenizer pattern in use (nil when the pre-tokenizer does not split).
    public var splitPattern: SplitPattern? { pattern }

    // Per-thread workspaces (piece cache and buffers), lent out under a lock.
    private let poolLock = NSLock()
    private var pool: [EncodeWorkspace] = []

    /// Assembles a tokenizer from resolved parts (see Loading.swift).
    init(
        model: BPEModel, normalizeNFC: Bool, pattern: SplitPattern?, addPrefixSpace: Bool,
        vocabulary: [String?], tokenTable: TokenTable, addedTokens: [AddedToken],
        special ids: (eos: Int?, pad: Int?, bos: Int?),
        chatTemplate: String?
    ) {
        self.model = model
        self.normalizeNFC = normalizeNFC
        self.pattern = pattern
        self.addPrefixSpace = addPrefixSpace
        var strings = vocabulary
        let maxAdded = addedTokens.map(\.id).max() ?? -1
        if strings.count <= maxAdded {
            strings.append(contentsOf: [String?](repeating: nil, count: maxAdded + 1 - strings.count))
        }
        for t in addedTokens { strings[t.id] = t.content }
        var starts = [Int32](repeating: 0, count: strings.count)
        var counts = [Int32](repeating: -1, count: strings.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(strings.count * 7)
        for (id, s) in strings.enumerated() {
            guard let s else { continue }
            starts[id] = Int32(bytes.count)
            ByteLevel.appendDecodedBytes(ofToken: s, to: &bytes)
            counts[id] = Int32(bytes.count) - starts[id]
        }
        var special = [Bool](repeating: false, count: strings.count)
        for t in addedTokens where t.special { special[t.id] = true }
        self.tokenStrings = strings
        self.tokenIDs = tokenTable
        self.byteStart = starts
        self.byteCount = counts
        self.tokenBytes = bytes
        self.specialFlags = special
        self.addedTokens = addedTokens.sorted { $0.id < $1.id }
        self.specialTokenIDs = Set(addedTokens.filter(\.special).map(\.id))
        self.vocabularySize = strings.count
        self.eosTokenID = ids.eos
        self.padTokenID = ids.pad
        self.bosTokenID = ids.bos
        self.chatTemplate = chatTemplate
        rawAdded = AddedTokenMatcher(addedTokens.filter { !$0.normalized }) { Array($0.content.utf8) }
        normalizedAdded = AddedTokenMatcher(addedTokens.filter(\.normalized)) { token in
            normalizeNFC ? Array(token.content.precomposedStringWithCanonicalMapping.utf8) : Array(token.content.utf8)
        }
    }

    // MARK: - Lookups

    /// The id of a token string (a byte-level vocabulary entry such as "Ġworld", or an added token).
    public func id(forToken token: String) -> Int? { tokenIDs.id(token).map { Int($0) } }

    /// The token string of an id (byte-level form for regular tokens), or nil when the id is unknown.
    public func token(forID id: Int) -> String? {
        guard id >= 0, id < tokenStrings.count else { return nil }
        return tokenStrings[id]
    }

    /// The raw bytes an id decodes to, or nil when the id is unknown.
    public func bytes(forID id: Int) -> [UInt8]? {
        guard id >= 0, id < byteCount.count, byteCount[id] >= 0 else { return nil }
        let s = Int(byteStart[id])
        return Array(tokenBytes[s..<(s + Int(byteCount[id]))])
    }

    /// Whether `id` is a special added token.
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < specialFlags.count && specialFlags[id] }

    // MARK: - Encoding

    /// The token ids of `text` (no BOS/EOS added), identical to `tokenizers`' `encode(text, add_special_tokens=False)`.
    public func encode(_ text: String, specialTokens: SpecialTokenHandling = .parse) -> [Int] {
        encodeInt32(text, specialTokens: specialTokens).map { Int($0) }
    }

    /// `encode` returning 32-bit ids (no conversion pass; for throughput-sensitive callers).
    public func encodeInt32(_ text: String, specialTokens: SpecialTokenHandling = .parse) -> [Int32] {
        let ws = checkOut()
        defer { checkIn(ws) }
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var text = text
        text.withUTF8 { buf in
            guard let p = buf.baseAddress, buf.count > 0 else { return }
            encodeRaw(p, buf.count, skipSpecial: specialTokens == .plainText, ws: ws, into: &out)
        }
        return out
    }

    /// Added-token split of the raw text, then normalization, then the normalized added tokens.
    private func encodeRaw(
        _ p: UnsafePointer<UInt8>, _ n: Int, skipSpecial: Bool, ws: EncodeWorkspace,
        into out: inout [Int32]
    ) {
        rawAdded.split(
            p, n, skipSpecial: skipSpecial,
            text: { start, end in
                self.encodeUnnormalized(p + start, end - start, skipSpecial: skipSpecial, ws: ws, into: &out)
            },
            token: { id in
                out.append(id)
            })
    }

    private func encodeUnnormalized(
        _ p: UnsafePointer<UInt8>, _ n: Int, skipSpecial: Bool, ws: EncodeWorkspace,
        into out: inout [Int32]
    ) {
        if normalizeNFC && NFC.mayChange(p, n) {
            var buffer = ws.normalized
            ws.normalized = []
            NFC.normalize(p, n, into: &buffer)
            buffer.withUnsafeBufferPointer { b in
                if let q = b.baseAddress { encodeNormalized(q, b.count, skipSpecial: skipSpecial, ws: ws, into: &out) }
            }
            ws.normalized = buffer
        } else {
            encodeNormalized(p, n, skipSpecial: skipSpecial, ws: ws, into: &out)
        }
    }

    private func encodeNormalized(
        _ p: UnsafePointer<UInt8>, _ n: Int, skipSpecial: Bool, ws: EncodeWorkspace,
        into out: inout [Int32]
    ) {
        if normalizedAdded.isEmpty {
            encodeSegment(p, n, ws: ws, into: &out)
            return
        }
        normalizedAdded.split(
            p, n, skipSpecial: skipSpecial,
            text: { start, end in
                self.encodeSegment(p + start, end - start, ws: ws, into: &out)
            },
            token: { id in
                out.append(id)
            })
    }

    /// Pre-tokenizes one normalized segment and appends the BPE ids of each piece.
    private func encodeSegment(_ p: UnsafePointer<UInt8>, _ n: Int, ws: EncodeWorkspace, into out: inout [Int32]) {
        guard n > 0 else { return }
        if addPrefixSpace && p[0] != 0x20 {
            var buffer = [UInt8](repeating: 0x20, count: n + 1)
            buffer.withUnsafeMutableBufferPointer { b in
                guard let q = b.baseAddress else { return }
                (q + 1).update(from: p, count: n)
                splitAndMerge(UnsafePointer(q), n + 1, ws: ws, into: &out)
            }
        } else {
            splitAndMerge(p, n, ws: ws, into: &out)
        }
    }

    @inline(__always)
    private func splitAndMerge(_ p: UnsafePointer<UInt8>, _ n: Int, ws: EncodeWorkspace, into out: inout [Int32]) {
        guard let pattern else {
            model.encodePiece(p, n, into: &out, workspace: ws)
            return
        }
        let scanner = SplitScanner(p: p, end: n, pattern: pattern)
        var i = 0
        while i < n {
            let j = scanner.pieceEnd(from: i)
            model.encodePiece(p + i, j - i, into: &out, workspace: ws)
            i = j
        }
    }

    private func checkOut() -> EncodeWorkspace {
        poolLock.lock()
        defer { poolLock.unlock() }
        return pool.popLast() ?? EncodeWorkspace()
    }

    private func checkIn(_ ws: EncodeWorkspace) {
        poolLock.lock()
        defer { poolLock.unlock() }
        if pool.count < 16 { pool.append(ws) }
    }

    // MARK: - Decoding

    /// Appends the bytes of `id` to `bytes`; unknown ids (and special ones when skipping) add nothing.
    @inline(__always)
    func appendBytes(of id: Int, skipSpecialTokens: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, id < byteCount.count else { return }
        let c = Int(byteCount[id])
        guard c >= 0, !(skipSpecialTokens && specialFlags[id]) else { return }
        let s = Int(byteStart[id])
        tokenBytes.withUnsafeBufferPointer { b in
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[s..<(s + c)]))
        }
    }

    /// The text of `ids` (ByteLevel decoder; invalid UTF-8 becomes U+FFFD). Unknown ids are skipped,
    /// as `tokenizers` does; with `skipSpecialTokens`, special added tokens are left out.
    public func decode<S: Sequence>(_ ids: S, skipSpecialTokens: Bool = false) -> String
    where S.Element: BinaryInteger {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: Int(id), skipSpecialTokens: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A decoder that turns ids into text one at a time, for streaming samples.
    public func streamingDecoder(skipSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }
}
