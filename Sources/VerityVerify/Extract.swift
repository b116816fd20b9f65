// Answer extraction for the `math-verify` and `verity` profiles (the `paper` and `qwen-eval`
// extractors are literal ports in DeepScaler.swift and QwenEval.swift). Both look for a final
// `\boxed{}`/`\fbox{}` first, then answer phrases; they differ in what happens after that:
// Math-Verify falls back to the last LaTeX span or number in the text, Verity reports no answer.

// MARK: - Shared scanners

enum Scan {
    /// The content of the last `\boxed{...}` / `\fbox{...}` (or `\boxed X` up to `$`), skipping empty and unclosed boxes.
    static func lastBox(_ t: Bytes, allowUnclosed: Bool) -> Bytes? {
        var end = t.count
        var tries = 0
        while tries < 64 {
            tries += 1
            let kb = t.findLast("\\boxed", before: end), kf = t.findLast("\\fbox", before: end)
            guard let k = max(kb ?? -1, kf ?? -1) as Int?, k >= 0 else { return nil }
            let start = k + (k == kb ? 6 : 5)
            var j = start
            while j < t.count && t[j] == 32 { j += 1 }
            if j < t.count && t[j] == 123 {
                var depth = 0, q = j
                var close = -1
                while q < t.count {
                    if t[q] == 123 { depth += 1 } else if t[q] == 125 { depth -= 1; if depth == 0 { close = q; break } }
                    q += 1
                }
                if close < 0 {
                    if allowUnclosed { return Bytes(t[(j + 1)...]) }
                    end = k; continue
                }
                let inner = Bytes(t[(j + 1)..<close]).trimmed()
                if inner.isEmpty { end = k; continue }
                return inner
            }
            // `\boxed 5$`: up to the next `$` or line end.
            var q = j
            while q < t.count && t[q] != 36 && t[q] != 10 { q += 1 }
            let inner = Bytes(t[j..<q]).trimmed()
            if inner.isEmpty || j == start { end = k; continue }
            return inner.rstripping([46]).trimmed()
        }
        return nil
    }

    /// The text after the last occurrence of any phrase, to the end of its line, without `$`, `**` and a final period.
    static func afterPhrase(_ t: Bytes, _ phrases: [String]) -> Bytes? {
        var best = -1, bestLen = 0
        for p in phrases {
            if let k = t.findLast(Bytes(p)), k > best { best = k; bestLen = Bytes(p).count }
        }
        guard best >= 0 else { return nil }
        var rest = Bytes(t[(best + bestLen)...])
        if let nl = rest.find([10]) {
            let head = Bytes(rest[..<nl]).trimmed()
            if head.isEmpty || head == [36] || head == Bytes("$$") || head == Bytes("\\[") {
                // Display math on the next lines.
                rest = Bytes(rest[(nl + 1)...])
                if let e = rest.find("\\]") ?? rest.find("$$") { rest = Bytes(rest[..<e]) }
            } else {
                rest = head
            }
        }
        for stop in [". I hope", "<|", ". Hence", ". This"] {
            if let e = rest.find(Bytes(stop)) { rest = Bytes(rest[..<e]) }
        }
        var a = rest.trimmed().replacing("**", []).trimmed()
        a = a.lstripping([58]).trimmed()
        if a.first == 36, let e = Bytes(a.dropFirst()).find([36]) { a = Bytes(a[1...e]) }
        a = a.replacing("\\[", []).replacing("\\]", []).replacing("\\(", []).replacing("\\)", []).removingAll(36)
        a = a.trimmed()
        while a.last == 46 { a.removeLast() }
        return a.isEmpty ? nil : a.trimmed()
    }

    /// The last `$...$`, `\(...\)` or `\[...\]` span.
    static func lastMathSpan(_ t: Bytes) -> Bytes? {
        var best: (Int, Bytes)? = nil
        if let e = t.findLast("\\]"), let s = Bytes(t[..<e]).findLast("\\[") { best = (e, Bytes(t[(s + 2)..<e])) }
        if let e = t.findLast("\\)"), let s = Bytes(t[..<e]).findLast("\\("), e > (best?.0 ?? -1) {
            best = (e, Bytes(t[(s + 2)..<e]))
        }
        // `$...$`: pair dollars from the start.
        var i = 0
        var open = -1
        while i < t.count {
            if t[i] == 36 && (i == 0 || t[i - 1] != 92) {
                let dbl = i + 1 < t.count && t[i + 1] == 36
                if open < 0 {
                    open = i + (dbl ? 2 : 1)
                } else {
                    if i > (best?.0 ?? -1) { best = (i, Bytes(t[open..<i])) }
                    open = -1
                }
                i += dbl ? 2 : 1; continue
            }
            i += 1
        }
        guard let b = best?.1.trimmed(), !b.isEmpty else { return nil }
        return b
    }

    /// All closed boxes at the end of the text that are separated only by commas, "and", spacing or math delimiters,
    /// joined with ", " (a list of answers written one box each); nil when there is no closed non-empty box.
    static func boxGroup(_ t: Bytes) -> Bytes? {
        var spans: [(Int, Int, Bytes)] = []
        var i = 0
        while spans.count < 64, let k = t.find("\\boxed{", from: i) {
            var depth = 0, q = k + 6, close = -1
            while q < t.count {
                if t[q] == 123 { depth += 1 } else if t[q] == 125 { depth -= 1; if depth == 0 { close = q; break } }
                q += 1
            }
            if close < 0 { break }
            let inner = Bytes(t[(k + 7)..<close]).trimmed()
            if !inner.isEmpty { spans.append((k, close + 1, inner)) }
            i = close + 1
        }
        guard var group = spans.last.map({ [$0] }) else { return nil }
        var j = spans.count - 2
        while j >= 0 {
            let gap = Bytes(t[spans[j].1..<group[0].0])
            var g = gap
            for sep in [
                "\\text{and}", "\\text{ and }", "\\quad", "\\qquad", "\\]", "\\[", "\\)", "\\(", "and", "or", "$", ",",
                ";", "\\,",
            ] {
                g = g.replacing(Bytes(sep), [])
            }
            if !g.allSatisfy(isSpace) || gap.count > 60 { break }
            group.insert(spans[j], at: 0)
            j -= 1
        }
        if group.count == 1 { return group[0].2 }
        var out = Bytes()
        for (n, s) in group.enumerated() { if n > 0 { out += Bytes(", ") }; out += s.2 }
        return out
    }

    /// Text after the last `</think>`, or the whole text.
    static func afterThink(_ t: Bytes) -> Bytes {
        if let k = t.findLast("</think>") { return Bytes(t[(k + 8)...]) }
        return t
    }

    static let answerPhrases = [
        "final answer is", "answer is", "Answer:", "answer:", "ANSWER:", "\u{7B54}\u{6848}\u{662F}", "Answer is",
        "answer should be",
    ]
}

// MARK: - Math-Verify extraction

/// Extracted answers longer than this (bytes) are not answers: they are dropped, which bounds all later work.
let maxAnswer = 8192

enum MathVerify {
    /// Math-Verify-style extraction: last box, answer phrase, last LaTeX span, last number.
    static func extract(_ t: Bytes) -> Bytes? {
        guard let a = extractUnbounded(t), a.count <= maxAnswer else { return nil }
        return a
    }

    static func extractUnbounded(_ t: Bytes) -> Bytes? {
        let lastBoxAt = max(t.findLast("\\boxed") ?? -1, t.findLast("\\fbox") ?? -1)
        if let k = t.findLast("final answer is $"), k > lastBoxAt, let e = t.find("$. I hope", from: k) {
            return Bytes(t[(k + 17)..<e]).trimmed()
        }
        if let b = Scan.boxGroup(t) { return b }
        if let b = Scan.lastBox(t, allowUnclosed: false) { return b }
        if let a = Scan.afterPhrase(t, Scan.answerPhrases), !a.has("\\boxed"), !VerityRules.looksLikeProse(a),
            Semantic.parse(Semantic.normalize(a, .mathVerify).0, .mathVerify) != nil
        {
            return a
        }
        // Later matches win: the last math span or the last plain number, whichever ends later.
        let span = Scan.lastMathSpan(t)
        let spanEnd = max(t.findLast([36]) ?? -1, t.findLast("\\)") ?? -1, t.findLast("\\]") ?? -1)
        var n = QwenEval.lastNumber(t)
        var numberAt = n.isEmpty ? -1 : (t.findLast(n) ?? -1)
        // A number glued to letters (`AZYUK2A`) is not an answer.
        if numberAt >= 0
            && ((numberAt > 0 && isAlpha(t[numberAt - 1]))
                || (numberAt + n.count < t.count && isAlpha(t[numberAt + n.count])))
        {
            n = []; numberAt = -1
        }
        if let m = span, spanEnd >= numberAt { return m }
        return n.isEmpty ? span : n
    }

    /// `verify(parse(gold), parse(pred))`, approximated with the semantic comparator.
    static func grade(response: Bytes, gold: Bytes) -> Grade {
        guard let p = extract(response) else { return Grade(correct: false, extracted: nil) }
        guard let g = extract(gold) ?? Optional(gold) else { return Grade(correct: false, extracted: p.string) }
        return Grade(correct: Semantic.equal(gold: g, pred: p, .mathVerify), extracted: p.string)
    }
}

// MARK: - Verity extraction and grading

enum VerityRules {
    /// A run of three or more letters not introduced by a backslash, that is not a function name or inside `\text{}`.
    static func looksLikeProse(_ a: Bytes) -> Bool {
        var i = 0
        var words = 0
        while i < a.count {
            if a[i] == 92 {
                i += 1
                while i < a.count && isAlpha(a[i]) { i += 1 }
                continue
            }
            if isAlpha(a[i]) {
                let st = i
                while i < a.count && isAlpha(a[i]) { i += 1 }
                if i - st >= 4 && asciiFunctions[Bytes(a[st..<i]).string] == nil && Bytes(a[st..<i]) != Bytes("pi") {
                    words += 1
                }
                continue
            }
            i += 1
        }
        return words >= 1
    }

    /// Verity's extraction: after any `</think>`, the last non-empty closed box, else a Minerva or answer phrase; else nil.
    static func extract(_ response: Bytes) -> Bytes? {
        guard let a = extractUnbounded(response), a.count <= maxAnswer else { return nil }
        return a
    }

    static func extractUnbounded(_ response: Bytes) -> Bytes? {
        let t = Scan.afterThink(response)
        // The last stated answer wins: a Minerva line or answer phrase after the last box overrides it.
        let lastBoxAt = max(t.findLast("\\boxed") ?? -1, t.findLast("\\fbox") ?? -1)
        if let k = t.findLast("final answer is $"), k > lastBoxAt, let e = t.find("$. I hope", from: k) {
            return Bytes(t[(k + 17)..<e]).trimmed()
        }
        if lastBoxAt >= 0 {
            let tail = Bytes(t[lastBoxAt...])
            if let a = Scan.afterPhrase(tail, Scan.answerPhrases), parses(a) { return a }
            if let b = Scan.boxGroup(t) { return b }
            if let b = Scan.lastBox(t, allowUnclosed: false) { return b }
        }
        if let a = Scan.afterPhrase(t, Scan.answerPhrases) {
            // An unclosed box after the phrase means the response was cut off: no answer.
            if a.has("\\boxed") || a.has("\\fbox") { return nil }
            if parses(a) { return a }
            if let m = Scan.lastMathSpan(a), parses(m, words: true) { return m }
            let n = QwenEval.lastNumber(a)
            return n.isEmpty ? a : n
        }
        // A short response is its own answer: the whole text if it is mathematics, else its last math span.
        if t.count <= 400 {
            let whole = t.trimmed()
            if parses(whole) { return whole }
            if let m = Scan.lastMathSpan(t), parses(m, words: true) { return m }
        }
        return nil
    }

    /// Whether `a` normalizes and parses as an answer (and is not a sentence).
    static func parses(_ a: Bytes, words: Bool = false) -> Bool {
        let (n, _) = Semantic.normalize(a, .verity)
        if !words && looksLikeProse(n) && !(n.allSatisfy(isAlpha)) { return false }
        return !n.isEmpty
            && (Semantic.parse(n, .verity) != nil || QwenEval.wordToNumberStrict(n) != nil
                || Semantic.choiceLetter(n) != nil)
    }

    /// Whether two bare answers are equal under Verity's rules.
    static func equalAnswers(gold: Bytes, pred: Bytes) -> Bool {
        if gold.count > maxAnswer || pred.count > maxAnswer { return false }
        // Identical answers are equal (the common case of a correct response): no parsing needed.
        let gt = gold.trimmed(), pt = pred.trimmed()
        if !gt.isEmpty && gt == pt { return true }
        if gold.count <= 24 && pred.count <= 24, let fast = fastEqual(gold, pred) { return fast }
        return Semantic.equal(gold: gold, pred: pred, .verity)
    }

    /// Grade a response; a raw gold is extracted the same way (falling back to the whole gold).
    static func grade(response: Bytes, gold: Bytes, goldIsBare: Bool) -> Grade {
        guard let p = extract(response) else { return Grade(correct: false, extracted: nil) }
        let g = goldIsBare ? gold : (extract(gold) ?? gold)
        if let gl = Semantic.choiceLetter(g), Semantic.choiceLetter(p, strict: false) == nil {
            // A choice written inside a sentence: "the answer is (C) 12".
            let letters = p.uppered().enumerated().filter { (j, c) in
                c >= 65 && c <= 69 && (j == 0 || !isWord(p[j - 1])) && (j + 1 == p.count || !isWord(p[j + 1]))
            }
            return Grade(correct: letters.first.map { $0.1 == gl } ?? false, extracted: p.string)
        }
        return Grade(correct: equalAnswers(gold: g, pred: p), extracted: p.string)
    }

    /// Integers and plain decimals compared without parsing; nil when either side is anything else.
    @inline(__always) static func fastEqual(_ a: Bytes, _ b: Bytes) -> Bool? {
        guard let x = plainDecimal(a), let y = plainDecimal(b) else { return nil }
        return x == y
    }

    /// A plain decimal `-?\d+(\.\d+)?` as an exact rational.
    static func plainDecimal(_ s: Bytes) -> Rat? {
        var i = 0, neg = false
        if s.first == 45 { neg = true; i = 1 }
        var v = 0, den = 1, dot = false, digits = 0
        if i >= s.count { return nil }
        while i < s.count {
            let c = s[i]
            if isDigit(c) {
                v = v * 10 + Int(c - 48); digits += 1
                if dot { den *= 10 }
                if digits > 17 { return nil }
            } else if c == 46 && !dot && digits > 0 && i + 1 < s.count {
                dot = true
            } else {
                return nil
            }
            i += 1
        }
        return Rat(neg ? -v : v, den)
    }
}
