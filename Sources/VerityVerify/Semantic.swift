// The semantic comparator behind the `math-verify` and `verity` profiles: answer normalization
// (units, \text, degrees, money, thousands separators, percentages), parsing into `Expr`, and
// structure-aware equality (unordered sets and lists, intervals with openness, relations with
// flips and scaling, inequality ↔ interval, ±, matrices, text). The two profiles share this code and
// differ only by `SemanticOptions`, which records the Math-Verify behaviours (RULES.md E.3–E.4)
// that the `verity` profile deliberately does not copy.

import VerityCore

// MARK: - Options

/// Switches that separate Math-Verify's observed behaviour from Verity's own rules.
struct SemanticOptions: Sendable {
    /// Numeric tolerance.
    var tolerance: Tolerance
    /// English number words (`seventeen` = 17).
    var numberWords: Bool
    /// `65e0`, `6e-4` as scientific notation.
    var sciE: Bool
    /// `9.` as 9.
    var trailingPeriod: Bool
    /// `°`, `1\,940`, `1 250`, `(2,∞)` and similar written forms.
    var lenientWriting: Bool
    /// `6 + 9j` as a complex number.
    var imaginaryJ: Bool
    /// `x%` also equals x (not only x/100).
    var percentEitherWay: Bool
    /// A numbered base subscript may be dropped (`52_8` = 52).
    var baseSubscriptLenient: Bool
    /// A column vector equals the tuple of its entries.
    var vectorTuple: Bool
    /// Trailing plain words after a number are a unit (`12.8 miles per hour`).
    var trailingWordsAreUnits: Bool
    /// `a \le x < b` is the interval [a, b).
    var chainToInterval: Bool
    /// `P = v` compared to `v` whatever P is (Math-Verify compares the right side of any equation).
    var anyEquationRHS: Bool

    static let mathVerify = SemanticOptions(
        tolerance: .rounded6, numberWords: false, sciE: false, trailingPeriod: false,
        lenientWriting: false, imaginaryJ: false, percentEitherWay: true,
        baseSubscriptLenient: true, vectorTuple: false, trailingWordsAreUnits: false,
        chainToInterval: false, anyEquationRHS: true)
    static let verity = SemanticOptions(
        tolerance: .relative(1e-9), numberWords: true, sciE: true, trailingPeriod: true,
        lenientWriting: true, imaginaryJ: true, percentEitherWay: true,
        baseSubscriptLenient: false, vectorTuple: true, trailingWordsAreUnits: true,
        chainToInterval: true, anyEquationRHS: false)
}

// MARK: - Normalization

enum Semantic {
    static let unitWords: Set<String> = [
        "cm", "m", "km", "mm", "in", "inch", "inches", "ft", "feet", "foot", "yd", "yard", "yards", "mile", "miles",
        "meter",
        "meters", "metre", "metres", "centimeter", "centimeters", "kg", "g", "gram", "grams", "lb", "lbs", "pound",
        "pounds",
        "s", "sec", "second", "seconds", "min", "minute", "minutes", "hr", "hour", "hours", "day", "days", "week",
        "weeks",
        "month", "months", "year", "years", "unit", "units", "square", "sq", "cubic", "degree", "degrees", "dollar",
        "mph", "l", "liter", "liters", "ml", "cups", "cup", "people", "ways",
        "times", "points", "students", "marbles", "apples", "mm^2", "cm^2", "m^2", "ft^2", "in^2", "units^2",
        "percent", "radians", "rad", "sqft", "hours.", "feet.",
    ]

    static let decorations: [(Bytes, Bytes)] = [
        ("\\displaystyle", ""), ("\\!", ""), ("\\left", ""), ("\\right", ""), ("\\$", ""), ("$", ""),
        ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
        ("\\cfrac", "\\frac"), ("^{\\circ}", ""), ("^\\circ", ""), ("{}^\\circ", ""), ("\\degree", ""), ("\\,", " "),
        ("\\;", " "),
        ("\\ ", " "), ("~", " "), ("\\textbf", "\\text"), ("\\mathrm", "\\text"), ("\\textrm", "\\text"),
        ("\\mbox", "\\text"),
        ("\\textnormal", "\\text"), ("\\mathbf", "\\text"), ("\\quad", " "), ("{,}", ","),
    ].map { (Bytes($0.0), Bytes($0.1)) }
    static let listWords: [(Bytes, Bytes)] = [
        ("\\text{ and }", ","), ("\\text{and}", ","), ("\\text{ or }", ","), ("\\text{or}", ","), (" and ", ", "),
        (" or ", ", "), ("\\quad", " "),
    ].map { (Bytes($0.0), Bytes($0.1)) }

    /// Strip the decorations that never change an answer's value; returns the text and whether it carried a percent sign.
    static func normalize(_ input: Bytes, _ o: SemanticOptions) -> (Bytes, Bool) {
        var s = input.trimmed()
        if s.count > 20_000 { return (s, false) }
        // A doubled backslash before a command name outside a matrix is an escaping accident (`\\frac`).
        if !s.has("\\begin") {
            var out = Bytes(), i = 0
            while i < s.count {
                if s[i] == 92 && i + 2 < s.count && s[i + 1] == 92 && isAlpha(s[i + 2]) { i += 1; continue }
                out.append(s[i]); i += 1
            }
            s = out
        }
        // Protect row separators `\\` from the single-backslash rules below.
        s = s.replacing("\\\\", [1])
        for (a, b) in listWords where s.has(a) { s = s.replacing(a, b) }
        if o.lenientWriting { s = fixSqrtDigits(s) }
        // Delimiters and spacing macros.
        for (a, b) in decorations where s.has(a) { s = s.replacing(a, b) }
        if o.lenientWriting {
            s = s.replacing("\u{00B0}", []).replacing("\u{221E}", "\\infty")
        }
        if o.imaginaryJ && s.contains(106) && !s.contains(105) && !s.contains(92) { s = s.map { $0 == 106 ? 105 : $0 } }
        s = s.trimmed()
        if o.trailingPeriod {
            while s.last == 46 { s.removeLast() }
        }
        // Math-Verify reads a final period after a fraction (`\\frac{3}{2}.`) as punctuation, not after other forms.
        else if s.ends("}.") && (s.starts("\\frac") || s.starts("-\\frac")) {
            s.removeLast()
        }
        // Percent.
        var percent = false
        if s.ends("\\%") {
            s.removeLast(2); percent = true
        } else if s.last == 37 {
            s.removeLast(); percent = true
        } else if s.ends(" percent") {
            s.removeLast(8); percent = true
        } else if s.ends(" percentage") {
            s.removeLast(11); percent = true
        }
        s = s.trimmed()
        // Trailing \text{unit} (and ^2 after it).
        s = dropTrailingUnits(s, o)
        // Thousands separators.
        s = stripThousands(s, o)
        s = s.replacing([1], Bytes("\\\\"))
        return (s.trimmed(), percent)
    }

    /// `\sqrt 53` and `\sqrt53` → `\sqrt{53}` (the whole digit run, as a reader means it).
    static func fixSqrtDigits(_ s: Bytes) -> Bytes {
        let key = Bytes("\\sqrt")
        guard s.has(key) else { return s }
        var out = Bytes(), i = 0
        while i < s.count {
            if s.has(key, at: i) {
                out += key; i += key.count
                var j = i
                while j < s.count && s[j] == 32 { j += 1 }
                var k = j
                while k < s.count && isDigit(s[k]) { k += 1 }
                if k > j { out += [123] + Bytes(s[j..<k]) + [125]; i = k }
                continue
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    /// Remove `\text{...}` groups at the end whose words are units, and plain unit words after a number.
    static func dropTrailingUnits(_ s: Bytes, _ o: SemanticOptions) -> Bytes {
        var s = s
        for _ in 0..<3 {
            var t = s.trimmed()
            if t.ends("^2") || t.ends("^3") { t.removeLast(2); t = t.trimmed() }
            guard t.last == 125, let k = t.findLast("\\text{") else { break }
            let inner = Bytes(t[(k + 6)..<(t.count - 1)]).trimmed()
            let head = Bytes(t[..<k]).trimmed()
            if head.isEmpty { break }
            let words = inner.split(on: [32]).filter { !$0.isEmpty }
            if !words.isEmpty
                && words.allSatisfy({ w in w.allSatisfy { isAlpha($0) || $0 == 94 || isDigit($0) || $0 == 46 } })
            {
                s = head
            } else {
                break
            }
        }
        // Plain words after a leading number: "5 meters", "12.8 miles per hour", "36 dollars".
        let t = s.trimmed()
        if let sp = t.find([32]) {
            let head = Bytes(t[..<sp]), tail = Bytes(t[(sp + 1)...]).trimmed()
            let words = tail.split(on: [32]).filter { !$0.isEmpty }
            let numeric = pyFloat(head.removingAll(44)) != nil
            if numeric && !words.isEmpty
                && words.allSatisfy({ $0.allSatisfy(isAlpha) && ($0.count >= 3 || unitWords.contains($0.string)) })
            {
                if o.trailingWordsAreUnits || words.allSatisfy({ unitWords.contains($0.string) }) && words.count == 1 {
                    return head
                }
            }
        }
        return s
    }

    /// `10,080`, `1\,940` (already a space), `32,\!348`, `1 250` → digits only, where the grouping is proper.
    static func stripThousands(_ s: Bytes, _ o: SemanticOptions) -> Bytes {
        // Proper comma grouping on a number alone.
        func grouped(_ t: Bytes, sep: UInt8) -> Bytes? {
            var u = t[...]
            var sign: Bytes = []
            if u.first == 45 { sign = [45]; u = u.dropFirst() }
            let parts = Bytes(u).split(on: [sep])
            guard parts.count >= 2, let f = parts.first, f.count >= 1, f.count <= 3, allDigits(f), f[0] != 48 else {
                return nil
            }
            for (k, p) in parts.enumerated().dropFirst() {
                if k == parts.count - 1 {
                    let ip = p.split(on: [46])
                    guard ip[0].count == 3, allDigits(ip[0]), ip.count <= 2, ip.count == 1 || allDigits(ip[1]) else {
                        return nil
                    }
                } else {
                    guard p.count == 3, allDigits(p) else { return nil }
                }
            }
            return sign + parts.joined()
        }
        let t = s.trimmed()
        if let g = grouped(t, sep: 44) { return g }
        // `0,111`: a decimal comma (no thousands group starts with 0).
        if o.lenientWriting, t.count > 2, t[0] == 48, t[1] == 44, allDigits(Bytes(t[2...])) {
            return [48, 46] + Bytes(t[2...])
        }
        if let g = grouped(t.replacing(", ", [44]), sep: 44) { return g }
        if o.lenientWriting, let g = grouped(t, sep: 32) { return g }
        return s
    }

    // MARK: - Parsing

    static func parse(_ s: Bytes, _ o: SemanticOptions) -> Expr? {
        var opt = ParseOptions()
        opt.sciE = o.sciE
        opt.trailingDot = o.trailingPeriod
        opt.unicode = o.lenientWriting
        opt.dropNumberSubscript = o.baseSubscriptLenient
        if s.isEmpty { return nil }
        if let e = parseMath(s, opt) { return e }
        // Fall back to text: \text{word} or a bare word.
        return nil
    }

    /// Text answers: `\text{Evelyn}`, `even`, `(C)` → lower-cased words.
    static func textForm(_ s: Bytes) -> Bytes {
        var t = s
        for k in ["\\text", "\\textbf", "\\mathrm", "\\textit"] { t = t.replacing(Bytes(k), []) }
        return t.filter { $0 != 123 && $0 != 125 && $0 != 40 && $0 != 41 && !isSpace($0) }.lowered()
    }

    /// A multiple-choice letter written as `C`, `(C)`, `\text{(C)}`, `\textbf{C}`.
    static func choiceLetter(_ s: Bytes, strict: Bool = true) -> UInt8? {
        let t = textForm(s)
        guard t.count == 1 else { return nil }
        let u = t[0] & ~0x20
        guard u >= 65, u <= 69 else { return nil }
        // A gold lower-case letter counts only when marked as a choice (`(c)`, `\text{c}`): a bare `e` is Euler's number.
        if !strict || s.contains(u) || s.contains(40) || s.has("\\text") { return u }
        return nil
    }

    // MARK: - Equality

    /// Whether `pred` equals `gold` (both already-extracted answers).
    static func equal(gold: Bytes, pred: Bytes, _ o: SemanticOptions) -> Bool {
        let (g, gp) = normalize(gold, o), (p, pp) = normalize(pred, o)
        if p.isEmpty || g.isEmpty { return false }
        if g == p && gp == pp { return true }
        if let gl = choiceLetter(g) { return choiceLetter(p, strict: false) == gl }
        var ge = parse(g, o), pe = parse(p, o)
        if o.numberWords {
            if let w = QwenEval.wordToNumberStrict(QwenEval.unwrapText(g)) { ge = parseMath(w) }
            if let w = QwenEval.wordToNumberStrict(QwenEval.unwrapText(p)) { pe = parseMath(w) }
        }
        guard var x = ge, var y = pe else {
            return textForm(g) == textForm(p) && !textForm(g).isEmpty
        }
        if o.baseSubscriptLenient { x = dropBase(x); y = dropBase(y) }
        if gp != pp {
            let hundredth = Expr.num(Rat(1, 100)!)
            let xs = gp ? Expr.mul([x, hundredth]) : x, ys = pp ? Expr.mul([y, hundredth]) : y
            if exprEqual(xs, ys, o, 0) { return true }
            // Math-Verify also accepts a plain integer for an integer percentage (`25\\%` = 25) but not the reverse
            // direction for decimals; Verity accepts both readings of a percent sign.
            var integral = false
            if case .num(let r) = x, r.isInteger { integral = true }
            if o.percentEitherWay && (pp || o.lenientWriting || integral) && exprEqual(x, y, o, 0) { return true }
            return false
        }
        if exprEqual(x, y, o, 0) { return true }
        if isText(x) || isText(y) { return textForm(g) == textForm(p) && !textForm(g).isEmpty }
        return false
    }

    /// A `\text{...}` answer.
    static func isText(_ e: Expr) -> Bool {
        if case .text = e { return true }
        return false
    }

    static func dropBase(_ e: Expr) -> Expr { e }

    /// Structural equality with gold `a` and prediction `b`.
    static func exprEqual(_ a: Expr, _ b: Expr, _ o: SemanticOptions, _ depth: Int) -> Bool {
        if depth > 12 { return false }
        if a == b { return true }
        switch (a, b) {
        case (.text(let x), .text(let y)): return textForm(Bytes(x)) == textForm(Bytes(y))
        case (.rel(let xs, let xo), .rel(let ys, let yo)):
            if xo.allSatisfy({ $0 == "=" }) && yo.allSatisfy({ $0 == "=" }) && xo.count > 1 || yo.count > 1 {
                if isAssignment(a), isAssignment(b), let l1 = assignedValue(a), let l2 = assignedValue(b) {
                    return exprEqual(l1, l2, o, depth + 1)
                }
            }
            if let ia = interval(of: a, chains: o.chainToInterval), let ib = interval(of: b, chains: o.chainToInterval)
            {
                return exprEqual(ia, ib, o, depth + 1)
            }
            return relationEqual(xs, xo, ys, yo, o)
        case (.rel, _):
            if isAssignment(a), let r = assignedValue(a) { return exprEqual(r, b, o, depth + 1) }
            if o.anyEquationRHS, case .rel(let xs, let ops) = a, ops == ["="], let r = xs.last {
                return exprEqual(r, b, o, depth + 1)
            }
            if let ia = interval(of: a, chains: o.chainToInterval) { return exprEqual(ia, b, o, depth + 1) }
            return false
        case (_, .rel):
            if isAssignment(b), let r = assignedValue(b) { return exprEqual(a, r, o, depth + 1) }
            if o.anyEquationRHS, case .rel(let ys, let ops) = b, ops == ["="], let r = ys.last {
                return exprEqual(a, r, o, depth + 1)
            }
            if let ib = interval(of: b, chains: o.chainToInterval) { return exprEqual(a, ib, o, depth + 1) }
            return false
        case (.pm(let u, let v), _):
            return exprEqual(.set([.add([u, v]), .add([u, .neg(v)])]), b, o, depth + 1)
        case (_, .pm(let u, let v)):
            return exprEqual(a, .set([.add([u, v]), .add([u, .neg(v)])]), o, depth + 1)
        case (.tuple(let xs, let o1, let c1), .tuple(let ys, let o2, let c2)):
            if o1 == 0 && o2 == 0 { return multisetEqual(xs, ys, o, depth) }
            if (o1 == 0) != (o2 == 0) { return (o1 == 40 || o2 == 40) && multisetEqual(xs, ys, o, depth) }
            guard xs.count == ys.count else { return false }
            // An infinite endpoint is never included: `[-\infty, 3]` is `(-\infty, 3]`.
            func isInf(_ e: Expr) -> Bool {
                if case .sym("inf") = e { return true }; if case .neg(.sym("inf")) = e { return true }; return false
            }
            let openOK = o1 == o2 || (xs.count == 2 && isInf(xs[0]) && isInf(ys[0]))
            let closeOK = c1 == c2 || (xs.count == 2 && isInf(xs[1]) && isInf(ys[1]))
            if !openOK || !closeOK { return false }
            return zip(xs, ys).allSatisfy { exprEqual($0, $1, o, depth + 1) }
        case (.set(let xs), .set(let ys)): return multisetEqual(xs, ys, o, depth)
        case (.set(let xs), .tuple(let ys, 0, 0)), (.tuple(let xs, 0, 0), .set(let ys)):
            return multisetEqual(xs, ys, o, depth)
        case (.set(let xs), _) where xs.count == 1: return exprEqual(xs[0], b, o, depth + 1)
        case (_, .set(let ys)) where ys.count == 1: return exprEqual(a, ys[0], o, depth + 1)
        case (.union(let xs), .union(let ys)): return multisetEqual(xs, ys, o, depth)
        case (.matrix(let m1), .matrix(let m2)):
            guard m1.count == m2.count else { return false }
            for (r1, r2) in zip(m1, m2) {
                guard r1.count == r2.count, zip(r1, r2).allSatisfy({ exprEqual($0, $1, o, depth + 1) }) else {
                    return false
                }
            }
            return true
        case (.matrix(let m), .tuple(let ys, let op, _)), (.tuple(let ys, let op, _), .matrix(let m)):
            guard o.vectorTuple, op == 40 || op == 91, m.allSatisfy({ $0.count == 1 }), m.count == ys.count else {
                return false
            }
            return zip(m.map { $0[0] }, ys).allSatisfy { exprEqual($0, $1, o, depth + 1) }
        default:
            if a.isScalar && b.isScalar { return scalarEqual(a, b, o.tolerance) }
            return false
        }
    }

    static func multisetEqual(_ xs0: [Expr], _ ys0: [Expr], _ o: SemanticOptions, _ depth: Int) -> Bool {
        func expand(_ es: [Expr]) -> [Expr] {
            es.flatMap { e -> [Expr] in
                if case .pm(let u, let v) = e { return [.add([u, v]), .add([u, .neg(v)])] }; return [e]
            }
        }
        let xs = expand(xs0), ys = expand(ys0)
        guard xs.count <= 64, ys.count <= 64, !xs.isEmpty || ys.isEmpty else { return false }
        if xs.count == ys.count {
            var used = [Bool](repeating: false, count: ys.count)
            var ok = true
            for x in xs {
                var found = false
                for (j, y) in ys.enumerated() where !used[j] && exprEqual(x, y, o, depth + 1) {
                    used[j] = true; found = true; break
                }
                if !found { ok = false; break }
            }
            if ok { return true }
        }
        // As sets: duplicates do not count.
        return xs.allSatisfy { x in ys.contains { exprEqual(x, $0, o, depth + 1) } }
            && ys.allSatisfy { y in xs.contains { exprEqual($0, y, o, depth + 1) } }
    }

    /// `x = 5`, `(p,q) = (3,2)`, `x = 5+5+1 = 11`, `x = 1/3 \approx 0.33`: a left side with unknowns, a constant value.
    static func isAssignment(_ e: Expr) -> Bool {
        guard case .rel(let xs, let ops) = e, ops.allSatisfy({ $0 == "=" || $0 == "~" }) else { return false }
        var l = Set<String>(), r = Set<String>()
        xs[0].collectSymbols(into: &l)
        assignedValue(e)?.collectSymbols(into: &r)
        if case .sym(let n) = xs[0], !r.contains(n), ops.count == 1 { return true }
        // `f(x) = 2x`: a function name applied to its variable.
        if ops.count == 1, case .mul(let fs) = xs[0], fs.count == 2, case .sym(let f) = fs[0], f.count == 1,
            !r.contains(f)
        {
            if case .sym = fs[1] { return true }
            if case .tuple = fs[1] { return true }
        }
        return !l.isEmpty && r.isEmpty
    }

    /// The value of an assignment chain: the last term joined by `=` before any `≈`.
    static func assignedValue(_ e: Expr) -> Expr? {
        guard case .rel(let xs, let ops) = e else { return nil }
        if ops.first == "~" { return xs[1] }
        var k = 0
        while k < ops.count && ops[k] == "=" { k += 1 }
        return xs[k]
    }

    /// A one-variable inequality (or `x \in I`) as an interval.
    static func interval(of e: Expr, chains: Bool = true) -> Expr? {
        guard case .rel(let xs, let ops) = e else { return nil }
        let inf = Expr.sym("inf"), ninf = Expr.neg(.sym("inf"))
        func isVar(_ x: Expr) -> Bool { if case .sym(let n) = x { return !constantNames.contains(n) }; return false }
        if ops == ["in"], isVar(xs[0]) { return xs[1] }
        if ops.count == 1 {
            let (l, r, op) = (xs[0], xs[1], ops[0])
            if isVar(l) {
                switch op {
                case "<": return .tuple([ninf, r], 40, 41)
                case "<=": return .tuple([ninf, r], 40, 93)
                case ">": return .tuple([r, inf], 40, 41)
                case ">=": return .tuple([r, inf], 91, 41)
                default: return nil
                }
            }
            if isVar(r) {
                switch op {
                case "<": return .tuple([l, inf], 40, 41)
                case "<=": return .tuple([l, inf], 91, 41)
                case ">": return .tuple([ninf, l], 40, 41)
                case ">=": return .tuple([ninf, l], 40, 93)
                default: return nil
                }
            }
        }
        if ops.count == 2, isVar(xs[1]), chains {
            if ops.allSatisfy({ $0 == "<" || $0 == "<=" }) {
                return .tuple([xs[0], xs[2]], ops[0] == "<" ? 40 : 91, ops[1] == "<" ? 41 : 93)
            }
            if ops.allSatisfy({ $0 == ">" || $0 == ">=" }) {
                return .tuple([xs[2], xs[0]], ops[1] == ">" ? 40 : 91, ops[0] == ">" ? 41 : 93)
            }
        }
        return nil
    }

    /// Relations: equal when L−R agree up to a nonzero constant factor (positive for inequalities, after flipping).
    static func relationEqual(_ xs: [Expr], _ xo: [String], _ ys: [Expr], _ yo: [String], _ o: SemanticOptions) -> Bool
    {
        guard xo.count == 1, yo.count == 1 else {
            return xo == yo && xs.count == ys.count && zip(xs, ys).allSatisfy { scalarEqual($0, $1, o.tolerance) }
        }
        func canon(_ l: Expr, _ op: String, _ r: Expr) -> (String, Expr) {
            switch op {
            case ">": return ("<", .add([r, .neg(l)]))
            case ">=": return ("<=", .add([r, .neg(l)]))
            case "<", "<=": return (op, .add([l, .neg(r)]))
            default: return (op, .add([l, .neg(r)]))
            }
        }
        let (op1, d1) = canon(xs[0], xo[0], xs[1]), (op2, d2) = canon(ys[0], yo[0], ys[1])
        // Direction: a < b is l - r < 0, flipped form r - l > 0 → we negate for '>' forms.
        let n1: Expr = (xo[0] == ">" || xo[0] == ">=") ? .neg(d1) : d1
        let n2: Expr = (yo[0] == ">" || yo[0] == ">=") ? .neg(d2) : d2
        guard op1 == op2 else { return false }
        if op1 == "=" || op1 == "!=" { return proportional(d1, d2, positiveOnly: false) }
        return proportional(n1, n2, positiveOnly: true)
    }

    /// Whether a = c·b for a constant c ≠ 0 (c > 0 when `positiveOnly`), by evaluation at seeded points.
    static func proportional(_ a: Expr, _ b: Expr, positiveOnly: Bool) -> Bool {
        if scalarEqual(a, b, .relative(1e-9)) { return true }
        if !positiveOnly && scalarEqual(a, .neg(b), .relative(1e-9)) { return true }
        var vars = Set<String>()
        a.collectSymbols(into: &vars); b.collectSymbols(into: &vars)
        if vars.isEmpty || vars.count > 6 { return false }
        var rng = SeededGenerator(seed: 0xC0FFEE)
        var ratio: Double? = nil
        var agree = 0
        for _ in 0..<12 {
            var env: [String: Cx] = [:]
            for n in vars { env[n] = Cx(-3 + 6 * Double(rng.next() >> 11) / Double(1 << 53)) }
            var budget = 20_000
            guard let va = evalC(a, env, &budget), let vb = evalC(b, env, &budget), va.isFinite, vb.isFinite,
                va.im == 0, vb.im == 0, abs(vb.re) > 1e-9
            else { continue }
            let r = va.re / vb.re
            if let q = ratio { if abs(r - q) > 1e-8 * max(1, abs(q)) { return false } } else { ratio = r }
            agree += 1
        }
        guard let q = ratio, agree >= 3, abs(q) > 1e-12 else { return false }
        return !positiveOnly || q > 0
    }
}

extension QwenEval {
    /// Number words only when the whole string is made of number words (not word2number's permissive filter).
    static func wordToNumberStrict(_ s: Bytes) -> Bytes? {
        let low = s.map { $0 == 45 ? 32 : $0 }.lowered()
        let words = low.split(whereSeparator: isSpace).map { Bytes($0).string }
        guard !words.isEmpty, words.allSatisfy({ numberWords[$0] != nil || $0 == "and" }) else { return nil }
        return wordToNumber(Bytes(words.filter { $0 != "and" }.joined(separator: " ")))
    }
}
