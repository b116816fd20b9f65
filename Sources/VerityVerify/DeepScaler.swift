// A port of the paper's training reward: verl's DeepScaleR rule (`deepscaler.compute_score` with
// `use_think=False`), RULES.md D. Extraction is the last `\boxed{...}` only (D.2); the answer is
// correct if the Hendrycks MATH normalization makes both strings equal (D.5) or the PRM800K
// normalization plus a symbolic check says so (D.6). The symbolic check uses this package's parser
// in place of sympy; there is no numeric tolerance (D.7). The LaTeX-to-text step follows pylatexenc 2.10.

enum DeepScaler {
    // MARK: - Extraction (D.2)

    /// `last_boxed_only_string` + `remove_boxed`: the inside of the last `\boxed{...}`, or nil.
    static func extract(_ s: Bytes) -> Bytes? {
        guard let k = s.findLast("\\boxed") else { return nil }
        var depth = 0, j = k
        var close = -1
        while j < s.count {
            if s[j] == 123 { depth += 1 } else if s[j] == 125 { depth -= 1; if depth == 0 { close = j; break } }
            j += 1
        }
        guard close >= 0 else { return nil }
        let box = Bytes(s[k...close])
        let left = Bytes("\\boxed{")
        guard box.starts(left), box.last == 125 else { return nil }
        return Bytes(box[left.count..<(box.count - 1)])
    }

    /// D.3: the gold answer (extracted when it holds a box).
    static func gold(_ g: Bytes) -> Bytes? { g.has("\\boxed") ? extract(g) : g }

    /// D.4: whether `given` matches `truth` (D.5 or D.6).
    static func equal(given: Bytes, truth: Bytes) -> Bool {
        if given.count > maxNormalized || truth.count > maxNormalized { return given == truth }
        if normalizeMathd(truth) == normalizeMathd(given) { return true }
        return gradeSympy(given: given, truth: truth)
    }

    // MARK: - Hendrycks normalization (D.5, N1)

    /// `math_normalize.normalize_answer`.
    static func normalizeMathd(_ a: Bytes) -> Bytes {
        var s = a.trimmed()
        if s.starts("\\text{") && s.last == 125 && s.count > 7 { s = Bytes(s[6..<(s.count - 1)]).trimmed() }
        return stripHendrycks(s) ?? s
    }

    /// Hendrycks `_strip_string`; nil where the Python raises (the caller then keeps its input).
    static func stripHendrycks(_ input: Bytes) -> Bytes? {
        var s = input.removingAll(10).replacing("\\!", []).replacing("\\\\", [92])
        s = s.replacing("tfrac", "frac").replacing("dfrac", "frac")
        s = s.replacing("\\left", []).replacing("\\right", [])
        s = s.replacing("^{\\circ}", []).replacing("^\\circ", [])
        s = s.replacing("\\$", [])
        let unitKey = Bytes("\\text{ ")
        if s.has(unitKey) {
            let parts = s.split(on: unitKey)
            guard parts.count == 2 else { return nil }
            s = parts[0]
        }
        s = s.replacing("\\%", [])
        s = s.replacing(" .", " 0.").replacing("{.", "{0.")
        if s.isEmpty { return s }
        if s[0] == 46 { s.insert(48, at: 0) }
        let eq = s.split(on: [61])
        if eq.count == 2 && eq[0].count <= 2 { s = eq[1] }
        // _fix_sqrt: one character after \sqrt.
        let sq = s.split(on: Bytes("\\sqrt"))
        if sq.count > 1 {
            var out = sq[0]
            for p in sq.dropFirst() {
                guard let c = p.first else { return nil }
                if c != 123 {
                    out += Bytes("\\sqrt{") + [c] + [125] + Bytes(p.dropFirst())
                } else {
                    out += Bytes("\\sqrt") + p
                }
            }
            s = out
        }
        s = s.removingAll(32)
        // _fix_fracs
        let fr = s.split(on: Bytes("\\frac"))
        if fr.count > 1 {
            var out = fr[0]
            var abandoned = false
            for p in fr.dropFirst() {
                out += Bytes("\\frac")
                guard let c = p.first else { return nil }
                if c == 123 { out += p; continue }
                if p.count < 2 { abandoned = true; break }
                let b = p[1]
                if b != 123 {
                    out += [123, c, 125, 123, b, 125] + Bytes(p[2...])
                } else {
                    out += [123, c, 125, b] + Bytes(p[2...])
                }
            }
            if !abandoned { s = out }
        }
        if s == Bytes("0.5") { s = Bytes("\\frac{1}{2}") }
        // _fix_a_slash_b: int() failures raise ValueError, which escapes to normalize_answer.
        let sl = s.split(on: [47])
        if sl.count == 2 {
            guard let x = pyInt(sl[0]), let y = pyInt(sl[1]) else { return nil }
            if s == Bytes("\(x)/\(y)") { s = Bytes("\\frac{\(x)}{\(y)}") }
        }
        return s
    }

    // MARK: - PRM800K normalization (D.6, N2)

    static let unitNames = [
        "degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
        "year", "foot", "feet", "inch", "yard",
    ].map(Bytes.init)

    /// `grader._normalize`.
    static func normalizeSympy(_ input: Bytes) -> Bytes {
        var s = input
        if s.starts("\\text{") && s.last == 125 && s.count > 7 { s = Bytes(s[6..<(s.count - 1)]) }
        s = s.replacing("\\%", [37]).replacing("\\$", [36]).removingAll(36).removingAll(37)
        s = s.replacing(" or ", " , ").replacing(" and ", " , ")
        s = s.replacing("million", "*10^6").replacing("billion", "*10^9").replacing("trillion", "*10^12")
        for u in unitNames { s = removeUnitPattern(s, u) }
        s = removeCirc(s)
        if s.count > 0 && s.first == 123 && s.last == 125 { s = Bytes(s[1..<(s.count - 1)]) }
        // ",\! *"
        while let k = s.find(",\\!") {
            var e = k + 3
            while e < s.count && s[e] == 32 { e += 1 }
            s = Bytes(s[..<k]) + Bytes(s[e...])
        }
        if let f = pyFloat(s), f.isFinite, abs(f - f.rounded()) <= 1e-7 { s = Bytes(pyIntString(f.rounded())) }
        if s.contains(92) { s = latexToText(s) }
        // "- *" → "-"
        var out = Bytes(), i = 0
        while i < s.count {
            out.append(s[i])
            if s[i] == 45 { i += 1; while i < s.count && s[i] == 32 { i += 1 }; continue }
            i += 1
        }
        s = out
        s = injectMixedNumber(s)
        s = s.removingAll(32).removingAll(123).removingAll(125).lowered()
        if strIsInt(s), let f = pyFloat(stripCommas(s)) { s = Bytes(pyIntString(f.rounded(.towardZero))) }
        return s
    }

    /// `str(int(x))` for a double with integral value (exact decimal digits, as Python prints big integers).
    static func pyIntString(_ f: Double) -> String {
        if abs(f) < 9e18 { return String(Int(f)) }
        guard f.isFinite else { return "" }
        // f = significand · 2^k with an integer significand: multiply a little-endian base-1e9 number by 2, k times.
        var limbs: [UInt64] = [UInt64(f.magnitude.significandBitPattern | (1 << 52))]
        var k = Int(f.exponent) - 52
        var carryLimbs: [UInt64] = []
        while k > 0 {
            var carry: UInt64 = 0
            carryLimbs.removeAll(keepingCapacity: true)
            for l in limbs {
                let v = l * 2 + carry
                carryLimbs.append(v % 1_000_000_000); carry = v / 1_000_000_000
            }
            if carry > 0 { carryLimbs.append(carry) }
            limbs = carryLimbs
            k -= 1
        }
        // Normalize the first limb (it may exceed 1e9 before any doubling).
        var norm: [UInt64] = [], carry: UInt64 = 0
        for l in limbs { let v = l + carry; norm.append(v % 1_000_000_000); carry = v / 1_000_000_000 }
        while carry > 0 { norm.append(carry % 1_000_000_000); carry /= 1_000_000_000 }
        var out = String(norm.last ?? 0)
        for l in norm.dropLast().reversed() {
            let d = String(l)
            out += String(repeating: "0", count: 9 - d.count) + d
        }
        return (f < 0 ? "-" : "") + out
    }

    /// `re.sub(unit + r"(es)?(s)? *(\^[0-9]+)?", "", s)`.
    static func removeUnitPattern(_ s: Bytes, _ u: Bytes) -> Bytes {
        guard s.has(u) else { return s }
        var out = Bytes(), i = 0
        while i < s.count {
            if s.has(u, at: i) {
                var e = i + u.count
                if s.has("es", at: e) { e += 2 }
                if e < s.count && s[e] == 115 { e += 1 }
                var f = e
                while f < s.count && s[f] == 32 { f += 1 }
                if f < s.count && s[f] == 94 && f + 1 < s.count && isDigit(s[f + 1]) {
                    f += 1
                    while f < s.count && isDigit(s[f]) { f += 1 }
                    e = f
                } else {
                    e = f
                }
                i = e; continue
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    /// `re.sub(r"\^ *\\circ", "", s)`.
    static func removeCirc(_ s: Bytes) -> Bytes {
        guard s.has("\\circ") else { return s }
        var out = Bytes(), i = 0
        while i < s.count {
            if s[i] == 94 {
                var j = i + 1
                while j < s.count && s[j] == 32 { j += 1 }
                if s.has("\\circ", at: j) { i = j + 5; continue }
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    /// `([0-9]) +([0-9])` → `\1+\2`.
    static func injectMixedNumber(_ s: Bytes) -> Bytes {
        var out = Bytes(), i = 0
        while i < s.count {
            out.append(s[i])
            if isDigit(s[i]) {
                var j = i + 1
                while j < s.count && s[j] == 32 { j += 1 }
                if j > i + 1 && j < s.count && isDigit(s[j]) { out.append(43); i = j; continue }
            }
            i += 1
        }
        return out
    }

    /// `_strip_properly_formatted_commas`.
    static func stripCommas(_ s: Bytes) -> Bytes {
        var s = s
        while true {
            var changed = false
            var out = Bytes(), i = 0
            while i < s.count {
                if i + 4 < s.count + 0 && isDigit(s[i]) && s[i + 1] == 44 && i + 4 < s.count + 1
                    && i + 4 <= s.count - 1 + 1,
                    i + 4 <= s.count, isDigit(s[i + 2]), isDigit(s[i + 3]), isDigit(s[i + 4]),
                    i + 5 == s.count || !isDigit(s[i + 5])
                {
                    out.append(s[i]); out.append(contentsOf: s[(i + 2)...(i + 4)]); i += 5; changed = true
                    if i < s.count { out.append(s[i]); i += 1 }
                    continue
                }
                out.append(s[i]); i += 1
            }
            if !changed { return s }
            s = out
        }
    }

    static func strIsInt(_ s: Bytes) -> Bool {
        guard let f = pyFloat(stripCommas(s)), f.isFinite else { return false }
        return abs(f - f.rounded()) <= 1e-7
    }

    /// `_is_frac`: `^-?[0-9]+.?/0*[1-9][0-9]*.?$`.
    static func isFrac(_ s: Bytes) -> Bool {
        var i = 0
        if i < s.count && s[i] == 45 { i += 1 }
        let d0 = i
        while i < s.count && isDigit(s[i]) { i += 1 }
        if i == d0 { return false }
        // Backtracking-light: try with and without one arbitrary char before '/'.
        func tail(_ k: Int) -> Bool {
            guard k < s.count, s[k] == 47 else { return false }
            var j = k + 1
            while j < s.count && s[j] == 48 { j += 1 }
            guard j < s.count, s[j] >= 49 && s[j] <= 57 else {
                return false
            }
            j += 1
            while j < s.count && isDigit(s[j]) { j += 1 }
            return j == s.count || j + 1 == s.count
        }
        for k in d0 + 1...i where tail(k) || (k < s.count && tail(k + 1)) { return true }
        return false
    }

    /// `split_tuple`.
    static func splitTuple(_ e: Bytes) -> [Bytes] {
        let x = stripCommas(e)
        if x.isEmpty { return [] }
        let tc: [UInt8] = [40, 41, 91, 93]
        if x.count > 2 && tc.contains(x[0]) && tc.contains(x[x.count - 1])
            && !x[1..<(x.count - 1)].contains(where: { tc.contains($0) })
        {
            return Bytes(x[1..<(x.count - 1)]).split(on: [44]).map { $0.trimmed() }
        }
        return [x]
    }

    /// `grade_answer_sympy`.
    static func gradeSympy(given: Bytes, truth: Bytes) -> Bool {
        let g = normalizeSympy(truth), p = normalizeSympy(given)
        if g == p { return true }
        if p.isEmpty { return false }
        let ge = splitTuple(g), pe = splitTuple(p)
        if ge.count > 1 && (g.first != p.first || g.last != p.last) { return false }
        if ge.count != pe.count { return false }
        for (a, b) in zip(ge, pe) {
            if isFrac(a) && isFrac(b) { if a != b { return false }; continue }
            if strIsInt(a) != strIsInt(b) { return false }
            if !equalUnderSympy(a, b) { return false }
        }
        return true
    }

    /// `should_allow_eval` + `simplify(gt - given) == 0`, with the package evaluator.
    static func equalUnderSympy(_ a: Bytes, _ b: Bytes) -> Bool {
        let expr = [40] + a + Bytes(")-(") + b + [41]
        let letters = Set(expr.replacing("sqrt", []).replacing("frac", []).filter(isAlpha))
        if letters.count > 2 { return false }
        if expr.has("^{") || expr.has("^(") { return false }
        for i in 0..<expr.count where expr[i] == 94 {
            var j = i + 1
            while j < expr.count && isDigit(expr[j]) { j += 1 }
            if j - i - 1 >= 2 { return false }
            if j - i - 1 >= 1 && j < expr.count && expr[j] == 94 { return false }
        }
        let opt = ParseOptions(
            imaginaryI: false, eulerE: false, ascii: true, sciE: false, trailingDot: false, unicode: false,
            dropNumberSubscript: false, functionsNeedParen: true, piConstant: true, textCommands: false,
            mixedNumbers: false)
        guard let x = parseMath(a, opt), let y = parseMath(b, opt), x.isScalar, y.isScalar else { return false }
        // sympy Floats: a decimal literal makes the difference a binary float, so it must be exactly zero.
        if hasDecimal(a) || hasDecimal(b) { return scalarEqual(x, y, .float53) }
        return scalarEqual(x, y, .exact)
    }

    /// Whether a decimal literal `d.d` occurs.
    static func hasDecimal(_ s: Bytes) -> Bool {
        for i in 0..<s.count where s[i] == 46 && i + 1 < s.count && isDigit(s[i + 1]) { return true }
        return false
    }

    // MARK: - LaTeX to text (pylatexenc 2.10 subset) and the `_parse_latex` symbol map

    static func latexToText(_ input: Bytes) -> Bytes {
        let s = input.replacing("\\tfrac", "\\frac").replacing("\\dfrac", "\\frac").replacing("\\frac", " \\frac")
        var p = 0
        var depthBudget = 200
        var out = l2t(s, &p, stopAtBrace: false, &depthBudget)
        out = out.replacing("\u{221A}", "sqrt").replacing("\u{03C0}", "pi").replacing("\u{221E}", "inf")
            .replacing("\u{222A}", "U").replacing("\u{00B7}", "*").replacing("\u{00D7}", "*")
        return out.trimmed()
    }

    static let symbolMacros: [String: String] = [
        "pi": "\u{03C0}", "infty": "\u{221E}", "cdot": "\u{00B7}", "times": "\u{00D7}", "le": "\u{2264}",
        "leq": "\u{2264}",
        "ge": "\u{2265}", "geq": "\u{2265}", "pm": "\u{00B1}", "cup": "\u{222A}", "cap": "\u{2229}", "dots": "\u{2026}",
        "ldots": "\u{2026}", "cdots": "\u{22EF}", "alpha": "\u{03B1}", "beta": "\u{03B2}", "gamma": "\u{03B3}",
        "theta": "\u{03B8}",
        "lambda": "\u{03BB}", "mu": "\u{03BC}", "sigma": "\u{03C3}", "phi": "\u{03C6}", "omega": "\u{03C9}",
        "delta": "\u{03B4}",
        "circ": "\u{2218}", "div": "\u{00F7}", "sin": "sin", "cos": "cos", "tan": "tan", "ln": "ln", "log": "log",
        "exp": "exp",
        "to": "\u{2192}", "in": "\u{2208}", "lt": "<", "gt": ">", "%": "%", "$": "$", "{": "{", "}": "}", "&": "&",
        "_": "_", "#": "#",
        "sec": "sec", "csc": "csc", "cot": "cot", "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan",
        "max": "max", "min": "min",
    ]

    /// A tiny LaTeX-to-text walker: macros lose their backslash, groups their braces, `\frac{a}{b}` → `a/b`, `\sqrt{a}` → `√(a)`.
    static func l2t(_ s: Bytes, _ p: inout Int, stopAtBrace: Bool, _ budget: inout Int) -> Bytes {
        budget -= 1
        var out = Bytes()
        var inEnv = 0
        if budget < 0 { p = s.count; return out }
        while p < s.count {
            let c = s[p]
            if c == 125 { if stopAtBrace { p += 1; return out }; p += 1; continue }
            if c == 123 { p += 1; out += l2t(s, &p, stopAtBrace: true, &budget); continue }
            if c == 38 && inEnv > 0 { out.append(32); p += 1; continue }
            if c == 92 {
                p += 1
                guard p < s.count else { break }
                if !isAlpha(s[p]) {
                    let ch = s[p]; p += 1
                    if ch == 92 { out += inEnv > 0 ? Bytes("; ") : [10]; continue }
                    if ch == 44 || ch == 59 || ch == 58 || ch == 32 { out.append(32); continue }
                    if ch == 33 { continue }
                    out.append(ch); continue
                }
                let st = p
                while p < s.count && isAlpha(s[p]) { p += 1 }
                let name = Bytes(s[st..<p]).string
                while p < s.count && isSpace(s[p]) { p += 1 }
                switch name {
                case "frac":
                    let a = arg(s, &p, &budget), b = arg(s, &p, &budget)
                    out += a + [47] + b
                case "sqrt":
                    if p < s.count && s[p] == 91, let e = s.find([93], from: p) { p = e + 1 }
                    out += Bytes("\u{221A}(") + arg(s, &p, &budget) + [41]
                case "binom":
                    out += arg(s, &p, &budget) + arg(s, &p, &budget)
                case "text", "mathrm", "textbf", "mathbf", "textit", "mbox", "operatorname", "mathit", "textnormal":
                    out += arg(s, &p, &budget)
                case "left", "right", "big", "Big", "bigl", "bigr": continue
                case "begin":
                    _ = arg(s, &p, &budget)
                    out += Bytes("[ ")
                    inEnv += 1
                case "end":
                    _ = arg(s, &p, &budget)
                    out += Bytes(" ]")
                    inEnv -= 1
                case "inf", "sup", "lim", "max", "min", "det", "gcd", "lcm", "arg", "deg", "dim", "ker", "hom", "exp":
                    out += Bytes(name)
                default:
                    if let r = symbolMacros[name] { out += Bytes(r) }
                }
                continue
            }
            out.append(c); p += 1
        }
        return out
    }

    static func arg(_ s: Bytes, _ p: inout Int, _ budget: inout Int) -> Bytes {
        while p < s.count && isSpace(s[p]) { p += 1 }
        guard p < s.count else { return [] }
        if s[p] == 123 { p += 1; return l2t(s, &p, stopAtBrace: true, &budget) }
        if s[p] == 92 {
            var q = p + 1
            while q < s.count && isAlpha(s[q]) { q += 1 }
            if q == p + 1 { q += 1 }
            let sub = Bytes(s[p..<min(q, s.count)])
            p = min(q, s.count)
            var z = 0
            return l2t(sub, &z, stopAtBrace: false, &budget)
        }
        let c = s[p]; p += 1
        return [c]
    }
}
