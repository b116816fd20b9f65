// A literal port of Qwen2.5-Eval's answer pipeline, the paper's evaluation grader: extraction
// (`parser.py::extract_answer`, RULES.md A), normalization (`strip_string`, B, including the
// MathQA unit-word list and its odd consequences, reproduced on purpose) and `grader.py::math_equal`
// (C). The symbolic step C.11 uses this package's parser and evaluator instead of sympy. Nothing here
// is "fixed": the `verity` profile has its own rules.

// MARK: - Extraction (A)

/// A set of byte values (256 bits).
struct ByteMask: Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    @inline(__always) mutating func insert(_ c: UInt8) {
        let bit = UInt64(1) << UInt64(c & 63)
        switch c >> 6 {
        case 0: w0 |= bit;
        case 1: w1 |= bit;
        case 2: w2 |= bit;
        default: w3 |= bit
        }
    }
    @inline(__always) func isSubset(of o: ByteMask) -> Bool {
        (w0 & ~o.w0) | (w1 & ~o.w1) | (w2 & ~o.w2) | (w3 & ~o.w3) == 0
    }
}

/// Answers longer than this (bytes) skip the literal normalizers and compare as strings: bounded work (RULES.md F.5).
let maxNormalized = 2048

enum QwenEval {
    static let boxed = Bytes("boxed")

    /// A.1–A.3: the candidate answer of a response, normalized once (A.3).
    static func extract(_ text: Bytes, skipUnit: Bool = false) -> Bytes {
        let t = text.replacing("\u{043A}\u{0438}", [])
        var pred: Bytes
        if let k = t.find("final answer is $"), let rest = Optional(Bytes(t[(k + 17)...])),
            let e = rest.find("$. I hope")
        {
            pred = Bytes(rest[..<e]).trimmed()
        } else if let k = t.findLast(boxed) {
            let ans = Bytes(t[(k + 5)...])
            if ans.isEmpty { return [] }
            if ans[0] == 123 {
                // Copy up to the brace that closes the first one (or to the end when it never closes).
                let close: Int = ans.withUnsafeBufferPointer { b in
                    var depth = 1, j = 1
                    while j < b.count {
                        let c = b[j]
                        if c == 123 { depth += 1 } else if c == 125 { depth -= 1; if depth == 0 { return j } }
                        j += 1
                    }
                    return b.count
                }
                pred = Bytes(ans[1..<close])
            } else {
                pred = (ans.split(on: [36]).first ?? []).trimmed()
            }
        } else if let k = t.findLast("he answer is") {
            pred = Bytes(t[(k + 12)...]).trimmed()
        } else if let k = t.findLast("final answer is") {
            pred = Bytes(t[(k + 15)...]).trimmed()
        } else if let k = t.find("答案是") {
            pred = (Bytes(t[(k + 9)...]).trimmed().split(on: Bytes("\n\n")).first ?? []).trimmed()
        } else {
            pred = lastNumber(t)
        }
        // A.3: newlines with following whitespace, then one leading ':' and one trailing '.' and '/'.
        if pred.contains(10) {
            var out = Bytes(); out.reserveCapacity(pred.count)
            var j = 0
            while j < pred.count {
                if pred[j] == 10 {
                    j += 1
                    while j < pred.count && (isSpace(pred[j])) { j += 1 }
                    continue
                }
                out.append(pred[j]); j += 1
            }
            pred = out
        }
        if pred.first == 58 { pred.removeFirst() }
        if pred.last == 46 { pred.removeLast() }
        if pred.last == 47 { pred.removeLast() }
        return strip(pred, skipUnit: skipUnit)
    }

    /// The last match of `-?\\d*\\.?\\d+` in `t` with its commas removed, or empty. Matches lie inside runs of
    /// `[-0-9.,]`, so only the last run holding a digit is scanned (left to right, as the regex does).
    static func lastNumber(_ text: Bytes) -> Bytes {
        guard let lastDigit = text.lastIndex(where: isDigit) else { return [] }
        var a = lastDigit
        while a > 0 && (isDigit(text[a - 1]) || text[a - 1] == 45 || text[a - 1] == 46 || text[a - 1] == 44) { a -= 1 }
        let t = Bytes(text[a...lastDigit]).removingAll(44)
        var lastRange = 0..<0
        var i = 0
        while i < t.count {
            var j = i
            if t[j] == 45 { j += 1 }
            let ds = j
            while j < t.count && isDigit(t[j]) { j += 1 }
            var end = -1
            if j < t.count && t[j] == 46 && j + 1 < t.count && isDigit(t[j + 1]) {
                var k = j + 1
                while k < t.count && isDigit(t[k]) { k += 1 }
                end = k
            } else if j > ds {
                end = j
            }
            if end > i && !(end == i + 1 && t[i] == 45) {
                lastRange = i..<end; i = end
            } else {
                i += 1
            }
        }
        return Bytes(t[lastRange])
    }

    /// A.4 + A.5: the prediction as the evaluation compares it (normalized twice, multiple-choice fix-up).
    static func prediction(_ response: Bytes, gold: Bytes) -> Bytes {
        var p = strip(extract(response))
        if ["A", "B", "C", "D", "E"].map(Bytes.init).contains(gold)
            && !["A", "B", "C", "D", "E"].map(Bytes.init).contains(p)
        {
            p = choiceClean(response, long: true)
        } else if gold.allSatisfy({ $0 >= 65 && $0 <= 69 }) && !p.allSatisfy({ $0 >= 65 && $0 <= 69 }) {
            p = p.filter { $0 >= 65 && $0 <= 69 }
        }
        return p
    }

    /// A.6 (math500 path): the gold as the evaluation compares it.
    static func gold(_ g: Bytes) -> Bytes { strip(extract(g)) }

    /// `choice_answer_clean` (A.5 long form with triggers; C.3 uses it too).
    static func choiceClean(_ text: Bytes, long: Bool) -> Bytes {
        var pred = text.stripping([10])
        let triggers = [Bytes("choice is"), Bytes("answer is")]
        if triggers.contains(where: { pred.occurrences($0) > 1 }) { pred = pred.split(on: Bytes("\n\n"))[0] }
        // Split on either trigger; keep the last piece.
        var pieces: [Bytes] = [], cur = Bytes(), k = 0
        while k < pred.count {
            if let t = triggers.first(where: { pred.has($0, at: k) }) {
                pieces.append(cur); cur = []; k += t.count; continue
            }
            cur.append(pred[k]); k += 1
        }
        pieces.append(cur)
        let flag = pieces.count > 1
        pred = pieces.last ?? []
        pred = pred.stripping([10]).rstripping([46]).rstripping([47]).stripping([32]).lstripping([58])
        let up = pred.uppered()
        var letters: [UInt8] = []
        for (j, c) in up.enumerated() where c >= 65 && c <= 69 {
            let before = j == 0 || !isWord(up[j - 1])
            let after = j + 1 == up.count || !isWord(up[j + 1])
            if before && after { letters.append(c) }
        }
        var out: Bytes
        if letters.isEmpty {
            out = pred.trimmed().stripping([46])
        } else {
            out = [flag ? letters[0] : letters[letters.count - 1]]
        }
        return out.rstripping([46]).rstripping([47])
    }
}

// MARK: - Normalization (B)

extension QwenEval {
    /// `strip_string(s, skip_unit)` (RULES.md B.1–B.27), byte for byte.
    static func strip(_ input: Bytes, skipUnit: Bool = false) -> Bytes {
        // Bounded work: an "answer" this long is left as it is (the reference would normalize it, slowly).
        if input.count > maxNormalized { return input.trimmed() }
        var s = input.trimmed().removingAll(10).rstripping([46])
        s = s.replacing("\\!", [])
        // B.3 matrices
        while let k = s.find("\\begin{array}{") {
            guard let e = s.find([125], from: k + 14) else { break }
            s = Bytes(s[..<k]) + Bytes("\\begin{pmatrix}") + Bytes(s[(e + 1)...])
        }
        s = s.replacing("\\end{array}", "\\end{pmatrix}").replacing("bmatrix", "pmatrix")
        s = s.replacing("tfrac", "frac").replacing("dfrac", "frac")
        s = s.replacing("\\neq", "\\ne").replacing("\\leq", "\\le").replacing("\\geq", "\\ge")
        s = s.replacing("\\left", []).replacing("\\right", [])
        s = s.replacing("\\{", [123]).replacing("\\}", [125])
        // B.6 trailing \text{...}
        if s.last == 125, let k = s.find("\\text{") {
            let t = Bytes(s[..<k]).trimmed()
            if !t.isEmpty && t != s { s = t }
        }
        // B.7 unit words, two passes
        if !skipUnit {
            var present = ByteMask()
            for c in s { present.insert(c) }
            let candidates: [Int] = unitMasks.withUnsafeBufferPointer { masks in
                var out: [Int] = []
                for k in 0..<masks.count where masks[k].isSubset(of: present) { out.append(k) }
                return out
            }
            for _ in 0..<2 {
                for k in candidates {
                    let w = unitPatterns[k]
                    let r = removeUnit(s, w)
                    if !r.isEmpty { s = r }
                }
            }
        }
        s = s.replacing("^{\\circ}", []).replacing("^\\circ", [])
        s = s.replacing("\\$", []).removingAll(36)
        s = s.replacing("\\(", []).replacing("\\)", [])
        // B.10 number words
        if let w = wordToNumber(s) { s = w }
        // B.11 unwrap \text{X}
        s = unwrapText(s)
        for key in ["x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"] {
            s = s.replacing(Bytes(key), [])
        }
        s = s.replacing("\\emptyset", "{}").replacing("(-\\infty,\\infty)", "\\mathbb{R}")
        s = s.replacing("\\%", []).removingAll(37)
        s = s.replacing(" .", " 0.").replacing("{.", "{0.")
        s = s.replacing("infinity", "\\infty")
        if !s.has("\\infty") { s = s.replacing("inf", "\\infty") }
        s = s.replacing("+\\inity", "\\infty")
        s = s.replacing("and", []).replacing("\\mathbf", [])
        // B.19 \mbox{...} with content (shortest)
        while let k = s.find("\\mbox{"), let e = s.find([125], from: k + 6) {
            s = Bytes(s[..<k]) + Bytes(s[(e + 1)...])
        }
        if s.contains(106) && !s.contains(105) { s = s.map { $0 == 106 ? 105 : $0 } }
        s = trailingZeros(s)
        if s.isEmpty { return s }
        if s[0] == 46 { s.insert(48, at: 0) }
        let eq = s.split(on: [61])
        if eq.count == 2 && eq[0].count <= 2 { s = eq[1] }
        s = fixSqrt(s)
        s = s.removingAll(32)
        s = fixFracs(s)
        s = fixSlash(s)
        return s
    }

    /// B.11: `\text{X}` → `X` (shortest match, all occurrences).
    static func unwrapText(_ s: Bytes) -> Bytes {
        var s = s
        var from = 0
        while let k = s.find("\\text{", from: from), let e = s.find([125], from: k + 6) {
            s = Bytes(s[..<k]) + Bytes(s[(k + 6)..<e]) + Bytes(s[(e + 1)...])
            from = k
        }
        return s
    }

    /// B.21: `(\d+)\.0*([^\d])` → `\1\2` and `(\d+)\.0*$` → `\1`.
    static func trailingZeros(_ s: Bytes) -> Bytes {
        var out = Bytes(); out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == 46 && i > 0 && isDigit(s[i - 1]) {
                var j = i + 1
                while j < s.count && s[j] == 48 { j += 1 }
                if j == s.count || !isDigit(s[j]) {
                    // Only when the preceding digits were part of this number (always true for \d+ greedy).
                    i = j; continue
                }
            }
            out.append(c); i += 1
        }
        return out
    }

    /// B.24: `\sqrt(\w+)` → `\sqrt{\1}`.
    static func fixSqrt(_ s: Bytes) -> Bytes {
        let key = Bytes("\\sqrt")
        guard s.has(key) else { return s }
        var out = Bytes(), i = 0
        while i < s.count {
            if s.has(key, at: i) {
                out.append(contentsOf: key); i += key.count
                var j = i
                while j < s.count && isWord(s[j]) { j += 1 }
                if j > i { out.append(123); out.append(contentsOf: s[i..<j]); out.append(125); i = j }
                continue
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    /// B.26: `\frac` shorthand.
    static func fixFracs(_ s: Bytes) -> Bytes {
        let parts = s.split(on: Bytes("\\frac"))
        if parts.count == 1 { return s }
        var out = parts[0]
        for p in parts.dropFirst() {
            out.append(contentsOf: Bytes("\\frac"))
            if p.first == 123 { out.append(contentsOf: p); continue }
            if p.count < 2 { return s }
            let a = p[0], b = p[1]
            if b != 123 {
                out += [123, a, 125, 123, b, 125] + Bytes(p[2...])
            } else {
                out += [123, a, 125, b] + Bytes(p[2...])
            }
        }
        return out
    }

    /// B.27: `a/b` with integer a and b → `\frac{a}{b}`.
    static func fixSlash(_ s: Bytes) -> Bytes {
        let parts = s.split(on: [47])
        guard parts.count == 2 else { return s }
        let sqrtKey = Bytes("sqrt")
        var a = parts[0], b = parts[1]
        if !a.has(sqrtKey) { guard let v = pyInt(a) else { return s }; a = Bytes(String(v)) }
        if !b.has(sqrtKey) { guard let v = pyInt(b) else { return s }; b = Bytes(String(v)) }
        guard a + [47] + b == s else { return s }
        return Bytes("\\frac{") + a + Bytes("}{") + b + [125]
    }
}

// MARK: - Unit words (B.7)

extension QwenEval {
    /// The MathQA unit list of `parser.py`, as data; each word also appears with a trailing `s`.
    static let unitWords: [String] = [
        "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .", "monkey", "prime",
        "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain", "ab", "way", "west",
        "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change", "men", "soldier", "pie",
        "bc",
        "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c", "acre", "rise", "a . m", "th", "π r 2",
        "sq",
        "mark", "l", "toy", "coin", "sq . m", "gallon", "° f", "profit", "minw", "yr", "women", "feet", "am", "pm",
        "hr",
        "cu cm", "square", "v â € ™", "are", "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "kmph",
        "day",
        "hour", "minute", "min", "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare",
        "more", "sec", "unit", "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple",
        "liter",
        "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m", "s .",
        "metre",
        "meter", "inch",
    ]
    static let unitPatterns: [Bytes] = {
        let w = unitWords.map(Bytes.init); return w + w.map { $0 + [115] }
    }()
    /// The literal bytes each pattern needs (its '.' wildcards excluded): a pattern is tried only when all occur.
    static let unitMasks: [ByteMask] = unitPatterns.map { p in
        var m = ByteMask()
        for c in p where c != 46 { m.insert(c) }
        return m
    }

    /// Length of the character at `i` and whether Python's `\w` matches it.
    @inline(__always) static func charInfo(_ s: Bytes, _ i: Int) -> (Int, Bool) {
        let c = s[i]
        if c < 0x80 { return (1, isWord(c)) }
        var n = 1
        while i + n < s.count && s[i + n] & 0xC0 == 0x80 { n += 1 }
        // Common non-word symbols: ° × · − ≤ ≥ ∞ √ ∪ ≠ ± ÷ € ™ (letters and digits such as π, ³ are word characters).
        let sym: [[UInt8]] = [
            [0xC2, 0xB0], [0xC3, 0x97], [0xC2, 0xB7], [0xE2, 0x88, 0x92], [0xE2, 0x89, 0xA4], [0xE2, 0x89, 0xA5],
            [0xE2, 0x88, 0x9E], [0xE2, 0x88, 0x9A], [0xE2, 0x88, 0xAA], [0xE2, 0x89, 0xA0], [0xC2, 0xB1], [0xC3, 0xB7],
            [0xE2, 0x82, 0xAC], [0xE2, 0x84, 0xA2], [0xE2, 0x88, 0x8F],
        ]
        for q in sym where q.count == n && s.has(q, at: i) { return (n, false) }
        return (n, true)
    }

    /// Match the unit pattern `w` ('.' matches any character) at `i`; the end index or nil.
    @inline(__always) static func matchWord(_ s: Bytes, _ i: Int, _ w: Bytes) -> Int? {
        var p = i
        for c in w {
            guard p < s.count else { return nil }
            if c == 46 {
                if s[p] == 10 { return nil }
                p += charInfo(s, p).0
            } else {
                if s[p] != c { return nil }
                p += 1
            }
        }
        return p
    }

    /// `re.sub(r"(^|\W)" + w + r"($|\W)", r"\1\2", s)`.
    static func removeUnit(_ s: Bytes, _ w: Bytes) -> Bytes {
        guard let f = w.first, f == 46 || s.contains(f) else { return s }
        var out = Bytes(), i = 0, changed = false
        var lastEnd = 0
        while i <= s.count {
            // Alternative 1: ^ at i == 0, word at i.
            var matched = false
            if i == 0, let e = matchWord(s, 0, w), tailOK(s, e) {
                let tl = e < s.count ? charInfo(s, e).0 : 0
                out.append(contentsOf: s[(e)..<(e + tl)])
                lastEnd = e + tl; i = lastEnd; matched = true; changed = true
            }
            if !matched && i < s.count {
                let (n, word) = charInfo(s, i)
                if !word, let e = matchWord(s, i + n, w), tailOK(s, e) {
                    out.append(contentsOf: s[lastEnd..<(i + n)])
                    let tl = e < s.count ? charInfo(s, e).0 : 0
                    out.append(contentsOf: s[e..<(e + tl)])
                    lastEnd = e + tl; i = lastEnd; matched = true; changed = true
                }
            }
            if matched { if lastEnd >= s.count { break }; continue }
            if i < s.count {
                let n = charInfo(s, i).0
                out.append(contentsOf: s[i..<(i + n)]); i += n; lastEnd = i
            } else {
                break
            }
        }
        return changed ? out : s
    }

    @inline(__always) static func tailOK(_ s: Bytes, _ e: Int) -> Bool { e == s.count || !charInfo(s, e).1 }
}

// MARK: - Number words (B.10, word2number semantics)

extension QwenEval {
    static let numberWords: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
        "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
        "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
        "million": 1_000_000, "billion": 1_000_000_000, "point": -1,
    ]

    /// `str(w2n.word_to_num(s))`, or nil when word2number raises.
    static func wordToNumber(_ s: Bytes) -> Bytes? {
        let low = s.map { $0 == 45 ? 32 : $0 }.lowered()
        if !low.isEmpty && low.allSatisfy(isDigit) {
            // int() of a digit string prints back without leading zeros.
            var t = low[...]
            while t.count > 1 && t.first == 48 { t = t.dropFirst() }
            return Bytes(t)
        }
        guard low.contains(where: isAlpha) else { return nil }
        var clean: [String] = []
        for w in low.split(whereSeparator: isSpace) {
            let ws = Bytes(w).string
            if numberWords[ws] != nil { clean.append(ws) }
        }
        if clean.isEmpty { return nil }
        for k in ["thousand", "million", "billion", "point"] where clean.filter({ $0 == k }).count > 1 { return nil }
        var decimals: [String] = []
        if let p = clean.firstIndex(of: "point") { decimals = Array(clean[(p + 1)...]); clean = Array(clean[..<p]) }
        let bi = clean.firstIndex(of: "billion") ?? -1, mi = clean.firstIndex(of: "million") ?? -1,
            ti = clean.firstIndex(of: "thousand") ?? -1
        if (ti > -1 && (ti < mi || ti < bi)) || (mi > -1 && mi < bi) { return nil }
        func form(_ ws: ArraySlice<String>) -> Int? {
            let n = ws.map { numberWords[$0] ?? 0 }
            switch n.count {
            case 0: return nil
            case 4: return n[0] * n[1] + n[2] + n[3]
            case 3: return n[0] * n[1] + n[2]
            case 2: return n.contains(100) ? n[0] * n[1] : n[0] + n[1]
            default: return n[0]
            }
        }
        var total = 0
        if clean.count == 1 {
            total = numberWords[clean[0]] ?? 0
        } else if clean.count > 1 {
            if bi > -1 { guard let m = form(clean[0..<bi]) else { return nil }; total += m * 1_000_000_000 }
            if mi > -1 {
                guard let m = form(clean[(bi > -1 ? bi + 1 : 0)..<mi]) else { return nil }; total += m * 1_000_000
            }
            if ti > -1 {
                let lo = mi > -1 ? mi + 1 : (bi > -1 ? bi + 1 : 0)
                guard lo <= ti, let m = form(clean[lo..<ti]) else { return nil }; total += m * 1000
            }
            var hundreds = 0
            if ti > -1 && ti != clean.count - 1 {
                guard let h = form(clean[(ti + 1)...]) else { return nil }; hundreds = h
            } else if mi > -1 && mi != clean.count - 1 {
                guard let h = form(clean[(mi + 1)...]) else { return nil }; hundreds = h
            } else if bi > -1 && bi != clean.count - 1 {
                guard let h = form(clean[(bi + 1)...]) else { return nil }; hundreds = h
            } else if ti == -1 && mi == -1 && bi == -1 {
                guard let h = form(clean[...]) else { return nil }; hundreds = h
            }
            total += hundreds
        }
        if !decimals.isEmpty {
            var digits = ""
            for d in decimals {
                guard let v = numberWords[d], v >= 0, v <= 9 else { return Bytes(String(total)) }
                digits += String(v)
            }
            let f = (Double("0." + digits) ?? 0) + Double(total)
            return Bytes(String(f))
        }
        return Bytes(String(total))
    }
}

// MARK: - Equivalence (C)

extension QwenEval {
    /// `math_equal(prediction, reference)` (RULES.md C.1–C.12).
    static func mathEqual(_ pred: Bytes, _ ref: Bytes, depth: Int = 0) -> Bool {
        if depth > 8 { return false }
        if pred.count > maxNormalized || ref.count > maxNormalized { return pred == ref }
        if pred.trimmed().lowered() == ref.trimmed().lowered() { return true }
        if ref.count == 1 && ref[0] >= 65 && ref[0] <= 69 && choiceCleanShort(pred) == ref { return true }
        if let p = parseDigits(pred), let g = parseDigits(ref) {
            for item in [g / 100, g, g * 100] where isClose(p, item) { return true }
            return false
        }
        if pred.isEmpty { return false }
        var reference = ref.trimmed()
        let prediction = pred.trimmed()
        if prediction.has("pmatrix") && !reference.has("pmatrix") { reference = strToPmatrix(reference) }
        // C.7 bracket-blind string match
        var ps = prediction, rs = reference
        if (ps.first == 91 && ps.last == 93 && reference.first != 40)
            || (ps.first == 40 && ps.last == 41 && reference.first != 91)
        {
            ps = ps.stripping([91, 93, 40, 41]); rs = rs.stripping([91, 93, 40, 41])
        }
        ps = ps.filter { ![123, 125, 40, 41].contains($0) }; rs = rs.filter { ![123, 125, 40, 41].contains($0) }
        if ps.lowered() == rs.lowered() { return true }
        // C.8 element-wise tuples
        if bracketed(prediction) && bracketed(reference) {
            let pp = Bytes(prediction.dropFirst().dropLast()).split(on: [44])
            let rp = Bytes(reference.dropFirst().dropLast()).split(on: [44])
            if pp.count == rp.count && zip(pp, rp).allSatisfy({ mathEqual($0, $1, depth: depth + 1) }) { return true }
        }
        // C.9 matrices
        if isMatrix(prediction) && isMatrix(reference) {
            let pl = matrixLines(prediction), rl = matrixLines(reference)
            if pl.count == rl.count && !pl.isEmpty {
                var ok = true
                for (a, b) in zip(pl, rl) {
                    let ac = a.split(on: [38]), bc = b.split(on: [38])
                    if ac.count != bc.count || !zip(ac, bc).allSatisfy({ mathEqual($0, $1, depth: depth + 1) }) {
                        ok = false; break
                    }
                }
                if ok { return true }
            }
        }
        // C.10 equations
        let pe = prediction.occurrences([61]), re = reference.occurrences([61])
        if pe == 1 && re == 1 {
            let a = prediction.split(on: [61]), b = reference.split(on: [61])
            let pf = a[0].trimmed() + Bytes(" - (") + a[1].trimmed() + [41]
            let rf = b[0].trimmed() + Bytes(" - (") + b[1].trimmed() + [41]
            if symbolicEqual(pf, rf) || symbolicEqual(Bytes("-(") + pf + [41], rf) { return true }
        } else if pe == 1 && prediction.split(on: [61])[0].trimmed().count <= 2 && re == 0 {
            if mathEqual(prediction.split(on: [61])[1], reference, depth: depth + 1) { return true }
        } else if re == 1 && reference.split(on: [61])[0].trimmed().count <= 2 && pe == 0 {
            if mathEqual(prediction, reference.split(on: [61])[1], depth: depth + 1) { return true }
        }
        return symbolicEqual(prediction, reference)
    }

    /// `1\\,940` → `1940` (sympy's LaTeX lexer skips the thin space inside a number).
    static func joinThinSpaces(_ s: Bytes) -> Bytes {
        guard s.has("\\,") else { return s }
        var out = Bytes(), i = 0
        while i < s.count {
            if s[i] == 92 && i + 1 < s.count && s[i + 1] == 44 && i > 0 && isDigit(s[i - 1]) && i + 2 < s.count
                && isDigit(s[i + 2])
            {
                i += 2; continue
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    /// `regex.match(r"(\(|\[).+(\)|\])", s)`: starts with a bracket and has a closing one later.
    static func bracketed(_ s: Bytes) -> Bool {
        guard s.count >= 3, s[0] == 40 || s[0] == 91 else { return false }
        return s[2...].contains { $0 == 41 || $0 == 93 }
    }

    static func isMatrix(_ s: Bytes) -> Bool {
        (s.starts("\\begin{pmatrix}") || s.starts("\\begin{bmatrix}"))
            && (s.ends("\\end{pmatrix}") || s.ends("\\end{bmatrix}")) && s.count >= 28
    }

    static func matrixLines(_ s: Bytes) -> [Bytes] {
        Bytes(s[15..<(s.count - 13)]).split(on: Bytes("\\\\")).map { $0.trimmed() }.filter { !$0.isEmpty }
    }

    /// C.6 `str_to_pmatrix`: each `{...}` group with a comma becomes a pmatrix.
    static func strToPmatrix(_ s: Bytes) -> Bytes {
        var groups: [Bytes] = []
        var i = 0
        while let a = s.find([123], from: i), let b = s.find([125], from: a + 1) {
            let g = Bytes(s[(a + 1)..<b])
            if g.contains(44) {
                groups.append(Bytes("\\begin{pmatrix}") + g.replacing([44], Bytes("\\\\")) + Bytes("\\end{pmatrix}"))
            }
            i = b + 1
        }
        if groups.isEmpty { return s }
        var out = Bytes()
        for (k, g) in groups.enumerated() { if k > 0 { out += Bytes(", ") }; out += g }
        return out
    }

    /// C.3 short choice-clean: last word-bounded A–E of the upper-cased text, else the cleaned text.
    static func choiceCleanShort(_ p: Bytes) -> Bytes {
        let pred = p.stripping([10]).rstripping([46]).rstripping([47]).stripping([32]).lstripping([58])
        let up = pred.uppered()
        var last: UInt8? = nil
        for (j, c) in up.enumerated() where c >= 65 && c <= 69 {
            if (j == 0 || !isWord(up[j - 1])) && (j + 1 == up.count || !isWord(up[j + 1])) { last = c }
        }
        if let l = last { return [l] }
        return pred.trimmed().stripping([46]).rstripping([46]).rstripping([47])
    }

    /// `parse_digits`: Python float after deleting commas, or a trailing percent divided by 100.
    static func parseDigits(_ s: Bytes) -> Double? {
        let t = s.removingAll(44)
        if let v = pyFloat(t) { return v }
        if t.last == 37 {
            var u = Bytes(t.dropLast())
            if u.last == 92 { u.removeLast() }
            if let v = pyFloat(u) { return v / 100 }
        }
        return nil
    }

    /// `math.isclose(a, b, rel_tol=1e-4)`.
    static func isClose(_ a: Double, _ b: Double) -> Bool {
        if a == b { return true }
        if !a.isFinite || !b.isFinite { return false }
        return abs(a - b) <= 1e-4 * max(abs(a), abs(b))
    }

    /// C.11 `symbolic_equal` with this package's parser in place of sympy.
    static func symbolicEqual(_ a0: Bytes, _ b0: Bytes) -> Bool {
        let a = joinThinSpaces(a0), b = joinThinSpaces(b0)
        let opt = ParseOptions(
            imaginaryI: false, eulerE: false, ascii: true, sciE: false, trailingDot: false, unicode: false,
            dropNumberSubscript: false, piConstant: false, textCommands: false, mixedNumbers: false)
        guard let x = parseMath(a.replacing("\\\\", [92]), opt) ?? parseMath(a, opt),
            let y = parseMath(b.replacing("\\\\", [92]), opt) ?? parseMath(b, opt)
        else { return false }
        if x == y { return true }
        if x.isScalar && y.isScalar { return scalarEqual(x, y, .exact) || scalarEqual(x, y, .relative(1e-4)) }
        if case .set(let xs) = x, case .set(let ys) = y {
            return xs.allSatisfy { e in ys.contains { scalarEqual(e, $0, .exact) } }
                && ys.allSatisfy { e in xs.contains { scalarEqual(e, $0, .exact) } }
        }
        if case .rel(let xs, let xo) = x, case .rel(let ys, let yo) = y, xo == ["="], yo == ["="] {
            let dx = Expr.add([xs[0], .neg(xs[1])]), dy = Expr.add([ys[0], .neg(ys[1])])
            return scalarEqual(dx, dy, .exact) || scalarEqual(dx, .neg(dy), .exact)
        }
        if case .matrix(let mx) = x, case .matrix(let my) = y, mx.count == my.count {
            for (r1, r2) in zip(mx, my) {
                guard r1.count == r2.count else { return false }
                for (c1, c2) in zip(r1, r2) where !scalarEqual(c1, c2, .relative(5e-4)) { return false }
            }
            return true
        }
        return false
    }
}
