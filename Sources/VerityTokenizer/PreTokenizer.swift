// Hand-written matchers for the pre-tokenizer split patterns that byte-level BPE checkpoints use,
// matched as the Rust `tokenizers` crate matches them (Oniguruma: leftmost match, alternatives
// tried in order, greedy quantifiers with backtracking). Supported patterns, recognised by their
// exact text: the Qwen2 pattern (single digits), the Llama-3 / cl100k pattern (digit groups of
// 1–3), the GPT-2 pattern used by ByteLevel(use_regex: true), and that one after a Digits(individual_digits: true)
// pre-tokenizer (SmolLM2). Any other regex is rejected at load time; there is no general regex engine here. Input is valid UTF-8; pieces are byte ranges.

// MARK: - Patterns

/// A split pattern this module can match exactly.
public enum SplitPattern: Sendable, Equatable {
    /// Qwen2 / Qwen2.5 / Qwen3: `(?i:'s|…)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case qwen2
    /// Llama-3 (and OpenAI cl100k): as Qwen2 but `\p{N}{1,3}`.
    case llama3
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM / SmolLM2 (llama.cpp's `smollm`; tokenizer.json's `Digits` with `individual_digits` before a
    /// `ByteLevel` that uses the GPT-2 regex): every \p{N} is a piece of its own, and the GPT-2 pattern runs on the
    /// text between numbers, so a number ends a piece as the end of the text does.
    case gpt2Digits

    /// The Qwen2 regex exactly as tokenizer.json writes it.
    public static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// The Llama-3 regex exactly as tokenizer.json writes it.
    public static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// The GPT-2 regex (ByteLevel pre-tokenizer with `use_regex: true`).
    public static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The pattern whose regex text is exactly `regex`, or nil.
    public init?(regex: String) {
        switch regex {
        case SplitPattern.qwen2Regex: self = .qwen2
        case SplitPattern.llama3Regex: self = .llama3
        case SplitPattern.gpt2Regex: self = .gpt2
        default: return nil
        }
    }

    /// The pieces this pattern splits `text` into (a convenience for tests and tools).
    public func split(_ text: String) -> [String] {
        var utf8 = Array(text.utf8)
        let n = utf8.count
        var out: [String] = []
        utf8.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let scanner = SplitScanner(p: UnsafePointer(base), end: n, pattern: self)
            var i = 0
            while i < n {
                let j = scanner.pieceEnd(from: i)
                out.append(String(decoding: UnsafeBufferPointer(start: base + i, count: j - i), as: UTF8.self))
                i = j
            }
        }
        return out
    }
}

// MARK: - Scanner

/// Finds, from a start offset, the end of the piece the pattern matches there (always > start).
struct SplitScanner {
    let p: UnsafePointer<UInt8>
    let end: Int
    let pattern: SplitPattern
    let table: UnsafeMutablePointer<UInt8> = CharClass.bmp

    @inline(__always)
    func cls(_ i: Int) -> (bits: UInt8, length: Int) {
        let b = p[i]
        if b < 0x80 { return (table[Int(b)], 1) }
        let (u, l) = decodeScalar(p, i)
        return (CharClass.of(u, bmp: table), l)
    }

    /// Advances over scalars whose class intersects `mask`.
    @inline(__always)
    func run(_ start: Int, _ mask: UInt8) -> Int {
        var j = start
        while j < end {
            let (c, l) = cls(j)
            if c & mask == 0 { break }
            j += l
        }
        return j
    }

    /// Advances over scalars that are not space, letter or number ([^\s\p{L}\p{N}]).
    @inline(__always)
    func runOther(_ start: Int) -> Int {
        var j = start
        while j < end {
            let (c, l) = cls(j)
            if c & (CharClass.letter | CharClass.number | CharClass.space) != 0 { break }
            j += l
        }
        return j
    }

    /// Advances over \r and \n bytes.
    @inline(__always)
    func runNewlines(_ start: Int) -> Int {
        var j = start
        while j < end, p[j] == 0x0A || p[j] == 0x0D { j += 1 }
        return j
    }

    /// The end of the piece starting at `i` (requires i < end).
    @inline(__always)
    func pieceEnd(from i: Int) -> Int {
        switch pattern {
        case .qwen2: return modernEnd(i, maxDigits: 1)
        case .llama3: return modernEnd(i, maxDigits: 3)
        case .gpt2: return gpt2End(i, digits: false)
        case .gpt2Digits: return gpt2End(i, digits: true)
        }
    }

    /// Qwen2 / Llama-3 pattern.
    @inline(__always)
    func modernEnd(_ i: Int, maxDigits: Int) -> Int {
        let b0 = p[i]
        // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d); case-insensitive, so 'ſ' (U+017F, folds to s) counts too.
        if b0 == 0x27, i + 1 < end {
            let b1 = p[i + 1] | 0x20
            if b1 == 0x73 || b1 == 0x74 || b1 == 0x6D || b1 == 0x64 { return i + 2 }
            if p[i + 1] == 0xC5, i + 2 < end, p[i + 2] == 0xBF { return i + 3 }
            if i + 2 < end {
                let b2 = p[i + 2] | 0x20
                if (b1 == 0x72 && b2 == 0x65) || (b1 == 0x76 && b2 == 0x65) || (b1 == 0x6C && b2 == 0x6C) {
                    return i + 3
                }
            }
        }
        let (c0, l0) = cls(i)
        // 2. [^\r\n\p{L}\p{N}]?\p{L}+
        if c0 & CharClass.letter != 0 { return run(i + l0, CharClass.letter) }
        if c0 & (CharClass.newline | CharClass.number) == 0, i + l0 < end {
            let (c1, l1) = cls(i + l0)
            if c1 & CharClass.letter != 0 { return run(i + l0 + l1, CharClass.letter) }
        }
        // 3. \p{N} or \p{N}{1,3}
        if c0 & CharClass.number != 0 {
            var j = i + l0
            var count = 1
            while count < maxDigits, j < end {
                let (c, l) = cls(j)
                if c & CharClass.number == 0 { break }
                j += l
                count += 1
            }
            return j
        }
        // 4.  ?[^\s\p{L}\p{N}]+[\r\n]*
        let otherMask = CharClass.letter | CharClass.number | CharClass.space
        if b0 == 0x20, i + 1 < end {
            let (c1, l1) = cls(i + 1)
            if c1 & otherMask == 0 { return runNewlines(runOther(i + 1 + l1)) }
        }
        if c0 & otherMask == 0 { return runNewlines(runOther(i + l0)) }
        // c0 is white space from here on.
        return spaceEnd(i, newlineRule: true)
    }

    /// GPT-2 pattern; with `digits`, each \p{N} alone and the pattern cut at every number (as after `Digits`).
    @inline(__always)
    func gpt2End(_ i: Int, digits: Bool) -> Int {
        let b0 = p[i]
        if digits {
            let (c, l) = cls(i)
            if c & CharClass.number != 0 { return i + l }
        }
        if b0 == 0x27, i + 1 < end {
            let b1 = p[i + 1]
            if b1 == 0x73 || b1 == 0x74 || b1 == 0x6D || b1 == 0x64 { return i + 2 }
            if i + 2 < end {
                let b2 = p[i + 2]
                if (b1 == 0x72 && b2 == 0x65) || (b1 == 0x76 && b2 == 0x65) || (b1 == 0x6C && b2 == 0x6C) {
                    return i + 3
                }
            }
        }
        let otherMask = CharClass.letter | CharClass.number | CharClass.space
        var start = i
        if b0 == 0x20, i + 1 < end {
            let (c1, _) = cls(i + 1)
            let stop = digits ? CharClass.space | CharClass.number : CharClass.space
            if c1 & stop == 0 { start = i + 1 }
        }
        let (c, l) = cls(start)
        if c & CharClass.letter != 0 { return run(start + l, CharClass.letter) }
        if c & CharClass.number != 0 { return run(start + l, CharClass.number) }
        if c & otherMask == 0 { return runOther(start + l) }
        return spaceEnd(i, newlineRule: false, numberEnds: digits)
    }

    /// White space at `i`: `\s*[\r\n]+` (when `newlineRule`), then `\s+(?!\S)`, then `\s+`. With `numberEnds`, a
    /// number after the run counts as the end of the text.
    @inline(__always)
    func spaceEnd(_ i: Int, newlineRule: Bool, numberEnds: Bool = false) -> Int {
        var j = i
        var lastStart = i
        var lastNewlineEnd = -1
        while j < end {
            let (c, l) = cls(j)
            if c & CharClass.space == 0 { break }
            if c & CharClass.newline != 0 { lastNewlineEnd = j + l }
            lastStart = j
            j += l
        }
        // \s*[\r\n]+ : backtracking \s* stops at the last \r or \n of the run.
        if newlineRule && lastNewlineEnd >= 0 { return lastNewlineEnd }
        // \s+(?!\S) : the whole run at the end of text, else the run minus its last scalar.
        if j == end || (numberEnds && cls(j).bits & CharClass.number != 0) { return j }
        if lastStart > i { return lastStart }
        // \s+
        return j
    }
}
