// A recursive-descent parser for LaTeX and ASCII math answers into `Expr`: numbers (exact
// rationals), + − × ÷ · and implicit multiplication, powers, roots, \frac and its shorthand,
// functions, constants, relations, tuples/intervals, sets, unions, ±, matrices and \text.
// It is bounded: input length, nesting depth and a step budget are capped, and any failure returns
// nil (never a trap). It does not simplify; Evaluate.swift decides equality.

// MARK: - Entry point

/// Parse options.
struct ParseOptions: Sendable {
    /// `i` is the imaginary unit (otherwise a variable).
    var imaginaryI = true
    /// `e` is Euler's number (otherwise a variable).
    var eulerE = true
    /// `**` and multi-letter function names without a backslash are understood.
    var ascii = true
    /// `2e5` is scientific notation.
    var sciE = true
    /// `9.` at the very end is 9.
    var trailingDot = true
    /// Unicode `∞`, `π`, `√` are understood.
    var unicode = true
    /// A subscript on a number (a base, `52_8`) is dropped.
    var dropNumberSubscript = false
    /// ASCII function names count only when a `(` follows (sympy `parse_expr` splits `ln8` into letters).
    var functionsNeedParen = false
    /// `\pi` is the constant (sympy's LaTeX parser makes it a plain symbol).
    var piConstant = true
    /// `\text{}`, `\mathrm{}` and similar wrappers are understood.
    var textCommands = true
    /// `1\frac{1}{2}` and `1 \frac{1}{2}` are mixed numbers (3/2).
    var mixedNumbers = true
}

/// Parse `s` into an expression, or nil when it is not mathematics this parser understands.
func parseMath(_ s: Bytes, _ opt: ParseOptions = ParseOptions()) -> Expr? {
    if s.count > 4096 { return nil }
    var p = MathParser(s: s, opt: opt)
    guard let e = p.parseTop() else { return nil }
    p.skipSpace()
    if p.i != p.s.count || p.failed { return nil }
    return e
}

// MARK: - Parser

struct MathParser {
    let s: Bytes
    let opt: ParseOptions
    var i = 0
    var depth = 0
    var steps = 0
    var failed = false
    var absDepth = 0

    init(s: Bytes, opt: ParseOptions) { self.s = s; self.opt = opt }

    @inline(__always) func peek(_ k: Int = 0) -> UInt8 { i + k < s.count ? s[i + k] : 0 }

    /// Skip whitespace and LaTeX spacing commands.
    mutating func skipSpace() {
        while i < s.count {
            let c = s[i]
            if isSpace(c) || c == 126 { i += 1; continue }
            if c == 92 && i + 1 < s.count {
                let n = s[i + 1]
                if n == 44 || n == 59 || n == 58 || n == 33 || n == 32 { i += 2; continue }
                if let w = wordAt(i + 1), spacingWords.contains(w) { i += 1 + w.utf8.count; continue }
            }
            if c >= 0xC2 && (s.has("\u{2009}", at: i) || s.has("\u{202F}", at: i) || s.has("\u{00A0}", at: i)) {
                i += c == 0xC2 ? 2 : 3; continue
            }
            break
        }
    }

    /// The ASCII letter run starting at `k` (a command name), or nil.
    func wordAt(_ k: Int) -> String? {
        var j = k
        while j < s.count && isAlpha(s[j]) { j += 1 }
        return j > k ? Bytes(s[k..<j]).string : nil
    }

    /// Consume `t` if it comes next (after spaces).
    mutating func eat(_ t: String) -> Bool {
        skipSpace()
        let b = t.utf8
        if s.has(utf8: b, at: i) {
            if isAlpha(b.last ?? 0) && b.first == 92 && i + b.count < s.count && isAlpha(s[i + b.count]) {
                return false
            }
            i += b.count; return true
        }
        return false
    }

    mutating func tick() -> Bool {
        steps += 1
        if steps > 20_000 { failed = true }
        return !failed
    }

    // MARK: Levels

    /// A comma-separated list at top level, or a single relation.
    mutating func parseTop() -> Expr? {
        guard let first = parseRelation() else { return nil }
        var items = [first]
        while eat(",") || eat(";") {
            guard let e = parseRelation() else { return nil }
            items.append(e)
        }
        return items.count == 1 ? first : .tuple(items, 0, 0)
    }

    /// A list inside brackets, up to (not consuming) a closer.
    mutating func parseList() -> [Expr]? {
        var items: [Expr] = []
        skipSpace()
        if [41, 93, 125].contains(peek()) || s.has("\\}", at: i) { return items }
        repeat {
            guard let e = parseRelation() else { return nil }
            items.append(e)
        } while eat(",") || eat(";")
        return items
    }

    mutating func relOp() -> String? {
        skipSpace()
        let table: [(String, String)] = [
            ("\\leqslant", "<="), ("\\geqslant", ">="), ("\\leq", "<="), ("\\geq", ">="), ("\\le", "<="),
            ("\\ge", ">="),
            ("\\neq", "!="), ("\\ne", "!="), ("\\lt", "<"), ("\\gt", ">"), ("\\in", "in"), ("\\approx", "~"),
            ("<=", "<="), (">=", ">="), ("!=", "!="), ("=", "="), ("<", "<"), (">", ">"),
            ("\u{2264}", "<="), ("\u{2265}", ">="), ("\u{2260}", "!="), ("\u{2208}", "in"),
        ]
        for (t, op) in table where eat(t) { return op }
        return nil
    }

    mutating func parseRelation() -> Expr? {
        guard tick(), let first = parseUnion() else { return nil }
        var items = [first], ops: [String] = []
        while let op = relOp() {
            guard let e = parseUnion() else { return nil }
            items.append(e); ops.append(op)
        }
        return ops.isEmpty ? first : .rel(items, ops)
    }

    mutating func parseUnion() -> Expr? {
        guard let first = parseSum() else { return nil }
        var items = [first]
        while eat("\\cup") || eat("\u{222A}") {
            guard let e = parseSum() else { return nil }
            items.append(e)
        }
        return items.count == 1 ? first : .union(items)
    }

    mutating func parseSum() -> Expr? {
        guard tick() else { return nil }
        skipSpace()
        var terms: [Expr] = []
        if eat("\\pm") || eat("\u{00B1}") {
            guard let t = parseProduct() else { return nil }
            return .pm(.num(Rat(0)), t)
        }
        guard let first = parseSignedProduct() else { return nil }
        terms.append(first)
        while true {
            skipSpace()
            if eat("\\pm") || eat("\u{00B1}") || eat("\\mp") {
                guard let t = parseProduct() else { return nil }
                let lhs = terms.count == 1 ? terms[0] : .add(terms)
                return restAfterPm(.pm(lhs, t))
            }
            let c = peek()
            if c == 43 {
                i += 1; guard let t = parseProduct() else { return nil }; terms.append(t)
            } else if c == 45 || s.has("\u{2212}", at: i) {
                i += c == 45 ? 1 : 3
                guard let t = parseProduct() else { return nil }; terms.append(.neg(t))
            } else {
                break
            }
        }
        return terms.count == 1 ? terms[0] : .add(terms)
    }

    /// Further `+ t` terms after a ± are folded into the second operand (a ± b + c is rare; keep it simple).
    mutating func restAfterPm(_ e: Expr) -> Expr? {
        guard case .pm(let a, var b) = e else { return e }
        while true {
            skipSpace()
            if peek() == 43 {
                i += 1; guard let t = parseProduct() else { return nil }; b = .add([b, t])
            } else if peek() == 45 {
                i += 1; guard let t = parseProduct() else { return nil }; b = .add([b, .neg(t)])
            } else {
                break
            }
        }
        return .pm(a, b)
    }

    mutating func parseSignedProduct() -> Expr? {
        skipSpace()
        if peek() == 45 || s.has("\u{2212}", at: i) {
            i += peek() == 45 ? 1 : 3
            guard let t = parseSignedProduct() else { return nil }
            return .neg(t)
        }
        if peek() == 43 { i += 1; return parseSignedProduct() }
        return parseProduct()
    }

    mutating func parseProduct() -> Expr? {
        guard tick() else { return nil }
        skipSpace()
        var factors: [Expr] = []
        if peek() == 45 { i += 1; guard let u = parseProduct() else { return nil }; return .neg(u) }
        guard let first = parsePower() else { return nil }
        factors.append(first)
        if opt.mixedNumbers, case .num(let w) = first, w.isInteger, w.n >= 0 {
            let save = i
            skipSpace()
            if s.has("\\frac", at: i) || s.has("\\dfrac", at: i) || s.has("\\tfrac", at: i),
                let f = parsePower(), case .mul(let parts) = f, parts.count == 2, case .num(let a) = parts[0],
                case .pow(.num(let b), .num(let m)) = parts[1], m == Rat(-1), a.isInteger, b.isInteger, a.n >= 0,
                b.n > a.n
            {
                let frac: Expr = .mul([.num(a), .pow(.num(b), .num(Rat(-1)))])
                if !startsAtom() { return .add([first, frac]) }
                factors = [first, frac]
            } else {
                i = save
            }
        }
        while !failed {
            skipSpace()
            if eat("\\cdot") || eat("\\times") || eat("\u{00B7}") || eat("\u{00D7}") || eat("\u{22C5}")
                || (peek() == 42 && peek(1) != 42
                    && {
                        i += 1; return true
                    }())
            {
                guard let f = parseUnaryFactor() else { return nil }
                factors.append(f)
            } else if eat("\\div") || eat("\u{00F7}")
                || (peek() == 47
                    && {
                        i += 1; return true
                    }())
            {
                guard let f = parseUnaryFactor() else { return nil }
                factors.append(.pow(f, .num(Rat(-1))))
            } else if startsAtom() {
                guard let f = parsePower() else { return nil }
                factors.append(f)
            } else {
                break
            }
        }
        return factors.count == 1 ? factors[0] : .mul(factors)
    }

    mutating func parseUnaryFactor() -> Expr? {
        skipSpace()
        if peek() == 45 { i += 1; guard let u = parseUnaryFactor() else { return nil }; return .neg(u) }
        if peek() == 43 { i += 1; return parseUnaryFactor() }
        return parsePower()
    }

    /// Whether the next token can begin an implicit-multiplication factor.
    mutating func startsAtom() -> Bool {
        skipSpace()
        let c = peek()
        if c == 0 { return false }
        if isDigit(c) || isAlpha(c) || c == 40 { return true }
        if c == 46 && isDigit(peek(1)) { return true }
        if c == 124 { return absDepth == 0 }
        if c == 123 { return true }
        if c == 92 {
            if s.has("\\{", at: i) { return false }
            guard let w = wordAt(i + 1) else { return false }
            return !nonAtomCommands.contains(w)
        }
        if c >= 0x80 {
            for u in ["\u{03C0}", "\u{221A}", "\u{221E}"] where s.has(Bytes(u), at: i) { return true }
        }
        return false
    }

    mutating func parsePower() -> Expr? {
        guard tick() else { return nil }
        depth += 1
        defer { depth -= 1 }
        if depth > 120 { failed = true; return nil }
        guard var base = parsePostfix() else { return nil }
        skipSpace()
        if peek() == 94 || (opt.ascii && peek() == 42 && peek(1) == 42) {
            i += peek() == 94 ? 1 : 2
            skipSpace()
            if eat("{\\circ}") || eat("\\circ") || eat("{\\degree}") { return postfixAfter(base) }
            guard let ex = parseExponent() else { return nil }
            base = .pow(base, ex)
            return postfixAfter(base)
        }
        return base
    }

    mutating func postfixAfter(_ e: Expr) -> Expr? {
        var e = e
        while true {
            skipSpace()
            if peek() == 33 && peek(1) != 61 {
                i += 1; e = .fn("fact", [e])
            } else if peek() == 37 || s.has("\\%", at: i) {
                i += peek() == 37 ? 1 : 2; e = .mul([e, .num(Rat(1, 100)!)])
            } else {
                break
            }
        }
        return e
    }

    mutating func parseExponent() -> Expr? {
        skipSpace()
        if peek() == 123 { return parseGroup() }
        if peek() == 45 { i += 1; guard let u = parseExponent() else { return nil }; return .neg(u) }
        if isDigit(peek()) { let c = peek(); i += 1; return .num(Rat(Int(c - 48))) }
        return parsePower()
    }

    /// `{ ... }` as a group (a single expression or a set when it holds commas).
    mutating func parseGroup() -> Expr? {
        guard eat("{") else { return nil }
        guard let items = parseList(), eat("}") else { return nil }
        if items.count == 1 { return items[0] }
        return .set(items)
    }

    /// A macro argument: a braced group, or a single character/command.
    mutating func parseArg() -> Expr? {
        skipSpace()
        if peek() == 123 { return parseGroup() }
        let c = peek()
        if isDigit(c) { i += 1; return .num(Rat(Int(c - 48))) }
        if isAlpha(c) { i += 1; return symbol(String(UnicodeScalar(c))) }
        return parsePostfix()
    }

    mutating func parsePostfix() -> Expr? {
        guard let a = parseAtom() else { return nil }
        return postfixAfter(a)
    }

    func symbol(_ name: String) -> Expr {
        if name == "i" && !opt.imaginaryI { return .sym("i_var") }
        if name == "e" && !opt.eulerE { return .sym("e_var") }
        return .sym(name)
    }

    // MARK: Atoms

    mutating func parseAtom() -> Expr? {
        guard tick() else { return nil }
        depth += 1
        defer { depth -= 1 }
        if depth > 120 { failed = true; return nil }
        skipSpace()
        let c = peek()
        if isDigit(c) || (c == 46 && isDigit(peek(1))) { return parseNumber() }
        if isAlpha(c) { return parseLetters() }
        switch c {
        case 40, 91:
            i += 1
            let open = c
            guard let items = parseList() else { return nil }
            skipSpace()
            let close = peek()
            guard close == 41 || close == 93 else { return nil }
            i += 1
            if items.count == 1 && ((open == 40 && close == 41) || (open == 91 && close == 93)) { return items[0] }
            return .tuple(items, open, close)
        case 123:
            return parseGroup()
        case 124:
            i += 1; absDepth += 1
            let inner = parseSum()
            absDepth -= 1
            guard let e = inner, eat("|") else { return nil }
            return .fn("abs", [e])
        case 92:
            return parseCommand()
        default:
            if s.has("\u{03C0}", at: i) { i += 2; return .sym("pi") }
            if !opt.unicode { return nil }
            if s.has("\u{221E}", at: i) { i += 3; return .sym("inf") }
            if s.has("\u{221A}", at: i) {
                i += 3
                guard let a = parsePostfix() else { return nil }
                return .fn("sqrt", [a])
            }
            return nil
        }
    }

    mutating func parseNumber() -> Expr? {
        let start = i
        while i < s.count && isDigit(s[i]) { i += 1 }
        if i < s.count && s[i] == 46 && i + 1 < s.count && isDigit(s[i + 1]) {
            i += 1
            while i < s.count && isDigit(s[i]) { i += 1 }
        } else if i < s.count && s[i] == 46 && !(i + 1 < s.count && isDigit(s[i + 1])) && start < i {
            // "9." is 9 with a stray period only at the very end.
            if i + 1 == s.count && opt.trailingDot { i += 1; return numberValue(Bytes(s[start..<(i - 1)])) }
        }
        // Scientific notation in ASCII (1e5, 2.5E-3), only when followed by digits.
        if opt.sciE && i < s.count && (s[i] == 101 || s[i] == 69) {
            var j = i + 1
            if j < s.count && (s[j] == 43 || s[j] == 45) { j += 1 }
            if j < s.count && isDigit(s[j]) && !(j + 1 < s.count && isAlpha(s[j + 1])) {
                var k = j
                while k < s.count && isDigit(s[k]) { k += 1 }
                if !(k < s.count && isAlpha(s[k])) {
                    let mant = Bytes(s[start..<i])
                    guard let ex = pyInt(Bytes(s[(i + 1)..<k])), abs(ex) < 400 else { return nil }
                    i = k
                    guard let m = numberValue(mant) else { return nil }
                    return .mul([m, .pow(.num(Rat(10)), .num(Rat(ex)))])
                }
            }
        }
        let v = numberValue(Bytes(s[start..<i]))
        if opt.dropNumberSubscript && i < s.count && s[i] == 95 {
            i += 1
            if peek() == 123 {
                guard let e = s.find([125], from: i) else { return nil }; i = e + 1
            } else if i < s.count {
                i += 1
            }
        }
        return v
    }

    /// The exact value of a decimal literal, or a double when it has too many digits.
    func numberValue(_ t: Bytes) -> Expr? {
        if t.count > 400 { return .real(pyFloat(Bytes(t.prefix(400))).map { $0 * 1e308 } ?? .infinity) }
        var ip = t[...], fp: ArraySlice<UInt8> = []
        if let dot = t.firstIndex(of: 46) { ip = t[..<dot]; fp = t[(dot + 1)...] }
        let digits = Bytes(ip) + Bytes(fp)
        var significant = digits[...]
        while significant.count > 1 && significant.first == 48 { significant = significant.dropFirst() }
        if significant.count <= 18 && fp.count <= 18 {
            var v = 0
            for d in digits { v = v * 10 + Int(d - 48) }
            var den = 1
            for _ in 0..<fp.count { den *= 10 }
            if let r = Rat(v, den) { return .num(r) }
        }
        return pyFloat(t).map { .real($0) }
    }

    mutating func parseLetters() -> Expr? {
        let start = i
        while i < s.count && isAlpha(s[i]) { i += 1 }
        let word = Bytes(s[start..<i]).string
        if opt.ascii && !(opt.functionsNeedParen && peek() != 40) {
            if let f = asciiFunctions[word] { return parseFunction(f) }
            if word == "pi" { return .sym("pi") }
            if word == "inf" || word == "infty" || word == "infinity" || word == "oo" { return .sym("inf") }
            for (prefix, f) in asciiFunctionPrefixes
            where word.hasPrefix(prefix) && word.count > prefix.count && !opt.functionsNeedParen {
                i = start + prefix.utf8.count
                return parseFunction(f)
            }
        }
        // Single letters: split the run (implicit multiplication is applied by the caller).
        i = start + 1
        return subscripted(symbol(String(UnicodeScalar(s[start]))))
    }

    /// Attach a subscript to a symbol: `x_1`, `a_{10}`.
    mutating func subscripted(_ e: Expr) -> Expr? {
        guard case .sym(let n) = e, peek() == 95 else { return e }
        i += 1
        if peek() == 123 {
            let start = i
            var d = 0
            while i < s.count {
                if s[i] == 123 { d += 1 } else if s[i] == 125 { d -= 1; if d == 0 { i += 1; break } }
                i += 1
            }
            return .sym(n + "_" + Bytes(s[(start + 1)..<Swift.max(start + 1, i - 1)]).string)
        }
        guard i < s.count else { return nil }
        let c = s[i]; i += 1
        return .sym(n + "_" + String(UnicodeScalar(c)))
    }

    /// A function name has been read; parse its (optional power and) argument.
    mutating func parseFunction(_ name: String) -> Expr? {
        skipSpace()
        var power: Expr? = nil
        var base: Expr? = nil
        if name == "log" && peek() == 95 {
            i += 1
            guard let b = parseArg() else { return nil }
            base = b
        }
        if peek() == 94 {
            i += 1
            guard let p = parseExponent() else { return nil }
            power = p
        }
        skipSpace()
        var arg: Expr
        if peek() == 40 {
            i += 1
            guard let items = parseList(), eat(")") else { return nil }
            if items.count == 1 { arg = items[0] } else { return .fn(name, items) }
        } else if s.has("\\left(", at: i) {
            guard let a = parseCommand() else { return nil }
            arg = a
        } else {
            guard let a = parseProductNoImplicitFunction() else { return nil }
            arg = a
        }
        var e: Expr = .fn(name, base.map { [arg, $0] } ?? [arg])
        if let p = power {
            if case .num(let r) = p, r == Rat(-1), ["sin", "cos", "tan"].contains(name) {
                e = .fn("a" + name, [arg])
            } else {
                e = .pow(e, p)
            }
        }
        return e
    }

    /// The argument of `\sin x`: a power-level factor possibly multiplied by following letters/digits.
    mutating func parseProductNoImplicitFunction() -> Expr? {
        guard let first = parsePower() else { return nil }
        var fs = [first]
        while true {
            skipSpace()
            let c = peek()
            if isAlpha(c) || isDigit(c) {
                guard let f = parsePower() else { return nil }
                fs.append(f)
            } else {
                break
            }
        }
        return fs.count == 1 ? first : .mul(fs)
    }

    mutating func parseCommand() -> Expr? {
        // s[i] == '\'
        if peek(1) == 123 {  // \{ ... \}
            i += 2
            guard let items = parseList() else { return nil }
            guard eat("\\}") || eat("}") else { return nil }
            return .set(items)
        }
        if peek(1) == 37 { i += 2; return .num(Rat(1, 100)!) }
        if peek(1) == 36 { i += 2; skipSpace(); return parseAtom() }
        guard let w = wordAt(i + 1) else { return nil }
        i += 1 + w.utf8.count
        switch w {
        case "frac", "dfrac", "tfrac", "cfrac":
            guard let a = parseArg(), let b = parseArg() else { return nil }
            return .mul([a, .pow(b, .num(Rat(-1)))])
        case "sqrt":
            skipSpace()
            var index: Expr? = nil
            if peek() == 91 {
                i += 1
                guard let n = parseSum(), eat("]") else { return nil }
                index = n
            }
            guard let a = parseArg() else { return nil }
            return index.map { .fn("root", [a, $0]) } ?? .fn("sqrt", [a])
        case "binom", "dbinom", "tbinom", "choose":
            guard let a = parseArg(), let b = parseArg() else { return nil }
            return .fn("binom", [a, b])
        case "pi": return .sym(opt.piConstant ? "pi" : "pi_var")
        case "infty", "infin", "infinity": return .sym("inf")
        case "emptyset", "varnothing": return .set([])
        case "left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big":
            skipSpace()
            if peek() == 46 { i += 1; return parseAtomOrEmpty() }
            if s.has("\\{", at: i) { return parseCommand() }
            if peek() == 124 { return parseAtom() }
            if s.has("\\lfloor", at: i) || s.has("\\lceil", at: i) { return parseCommand() }
            return parseAtom()
        case "lfloor", "lceil":
            guard let a = parseSum() else { return nil }
            _ = eat("\\right")
            guard eat("\\rfloor") || eat("\\rceil") else { return nil }
            return .fn(w == "lfloor" ? "floor" : "ceil", [a])
        case "text", "textbf", "textit", "mathrm", "mathbf", "mathit", "operatorname", "mbox", "textrm", "mathsf",
            "boldsymbol", "mathnormal", "textnormal", "hbox":
            if !opt.textCommands { return nil }
            skipSpace()
            guard peek() == 123 else { return parseAtom() }
            let start = i + 1
            var d = 0, j = i
            while j < s.count {
                if s[j] == 123 { d += 1 } else if s[j] == 125 { d -= 1; if d == 0 { break } }
                j += 1
            }
            guard j < s.count else { return nil }
            let inner = Bytes(s[start..<j])
            i = j + 1
            if w == "operatorname", let f = asciiFunctions[inner.string] { return parseFunction(f) }
            let t = inner.trimmed()
            if t.isEmpty { return parseAtomOrEmpty() }
            if t.count == 1 && isAlpha(t[0]) { return subscripted(symbol(t.string)) }
            if t.count >= 2 && t.allSatisfy({ isAlpha($0) || $0 == 32 || $0 == 39 }) { return .text(t.string) }
            if let e = parseMath(t, opt), !(e.hasText) {
                if case .text = e { return e }
                return e
            }
            return .text(t.string)
        case "mathbb":
            guard let a = parseArgRaw() else { return nil }
            if a == "R" { return .tuple([.neg(.sym("inf")), .sym("inf")], 40, 41) }
            return .text("mathbb " + a)
        case "circ", "degree": return .num(Rat(1))
        case "exp": return parseFunction("exp")
        case "ln": return parseFunction("ln")
        case "log", "lg": return parseFunction("log")
        case "begin": return parseEnvironment()
        case "displaystyle", "limits", "nolimits", "quad", "qquad", "space", "textstyle":
            return opt.textCommands ? parseAtom() : nil
        default:
            if let f = latexFunctions[w] { return parseFunction(f) }
            if greekLetters.contains(w) { return subscripted(.sym(w)) }
            return nil
        }
    }

    /// After `\left.`: whatever follows, or nothing.
    mutating func parseAtomOrEmpty() -> Expr? {
        skipSpace()
        if startsAtom() { return parseAtom() }
        return .mul([])
    }

    /// A raw braced argument as text (`\mathbb{R}`).
    mutating func parseArgRaw() -> String? {
        skipSpace()
        if peek() == 123, let j = s.find([125], from: i) {
            let t = Bytes(s[(i + 1)..<j]).string
            i = j + 1
            return t
        }
        guard i < s.count else { return nil }
        i += 1
        return String(UnicodeScalar(s[i - 1]))
    }

    /// `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (pmatrix, bmatrix, matrix, array, ...).
    mutating func parseEnvironment() -> Expr? {
        guard let name = parseArgRaw() else { return nil }
        skipSpace()
        if name == "array" && peek() == 123 { _ = parseArgRaw() }
        let endTag = Bytes("\\end{" + name + "}")
        guard let j = s.find(endTag, from: i) else { return nil }
        let body = Bytes(s[i..<j])
        i = j + endTag.count
        var rows: [[Expr]] = []
        for row in body.split(on: Bytes("\\\\")) {
            let r = row.trimmed()
            if r.isEmpty || r == Bytes("\\hline") { continue }
            var cells: [Expr] = []
            for cell in r.split(on: [38]) {
                guard let e = parseMath(cell.trimmed(), opt) else { return nil }
                cells.append(e)
            }
            rows.append(cells)
        }
        if rows.isEmpty { return nil }
        return .matrix(rows)
    }
}

// MARK: - Tables

let spacingWords: Set<String> = [
    "quad", "qquad", "displaystyle", "textstyle", "limits", "space", "thinspace", "medspace", "negthinspace", "hfill",
    "enspace",
]

/// Commands that cannot begin an implicit-multiplication factor.
let nonAtomCommands: Set<String> = [
    "cdot", "times", "div", "le", "leq", "ge", "geq", "lt", "gt", "ne", "neq", "in", "cup", "cap",
    "pm", "mp", "right", "approx", "to", "leqslant", "geqslant", "end", "rfloor", "rceil", "setminus", "quad", "qquad",
]

let latexFunctions: [String: String] = [
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "exp": "exp", "ln": "ln", "log": "log", "lg": "log",
    "gcd": "gcd", "lcm": "lcm", "max": "max", "min": "min", "det": "det",
]

let asciiFunctions: [String: String] = [
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot",
    "asin": "asin", "acos": "acos", "atan": "atan", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp", "ln": "ln", "log": "log",
    "sqrt": "sqrt", "abs": "abs", "gcd": "gcd", "lcm": "lcm",
]

/// Multi-letter words that start with a function name (`sqrtx`, `sin2x`) split into name + rest.
let asciiFunctionPrefixes: [(String, String)] = [
    ("sqrt", "sqrt"), ("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("log", "log"), ("ln", "ln"),
]

let greekLetters: Set<String> = [
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
]
