// The expression tree shared by every comparator, with exact rationals (64-bit, overflow falls
// back to doubles) and a small complex type for numeric evaluation. This is not a computer
// algebra system: equality is decided by exact rational evaluation where possible and otherwise by
// evaluation at seeded random points (RULES.md F.4). Parsing lives in Parser.swift.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
// MARK: - Rational

/// An exact rational with 64-bit numerator and positive denominator; operations return nil on overflow.
struct Rat: Equatable, Hashable, Sendable {
    /// Numerator (sign lives here).
    var n: Int
    /// Denominator, always positive, coprime with `n`.
    var d: Int

    init(_ n: Int) { self.n = n; self.d = 1 }

    /// A reduced rational n/d, or nil when d is zero or the result overflows.
    init?(_ n: Int, _ d: Int) {
        if d == 0 { return nil }
        var n = n, d = d
        if d < 0 {
            if n == Int.min || d == Int.min { return nil }
            n = -n; d = -d
        }
        let g = gcd(n.magnitude, UInt(d))
        if g > 1 { n /= Int(g); d /= Int(g) }
        self.n = n; self.d = d
    }

    /// The value as a double.
    var double: Double { Double(n) / Double(d) }
    /// Whether the value is an integer.
    var isInteger: Bool { d == 1 }

    static func + (a: Rat, b: Rat) -> Rat? {
        let (x, o1) = a.n.multipliedReportingOverflow(by: b.d)
        let (y, o2) = b.n.multipliedReportingOverflow(by: a.d)
        let (s, o3) = x.addingReportingOverflow(y)
        let (dd, o4) = a.d.multipliedReportingOverflow(by: b.d)
        if o1 || o2 || o3 || o4 { return nil }
        return Rat(s, dd)
    }
    static func * (a: Rat, b: Rat) -> Rat? {
        let (x, o1) = a.n.multipliedReportingOverflow(by: b.n)
        let (y, o2) = a.d.multipliedReportingOverflow(by: b.d)
        if o1 || o2 { return nil }
        return Rat(x, y)
    }
    /// Negation (nil for Int.min).
    var negated: Rat? { n == Int.min ? nil : Rat(-n, d) }
    /// Reciprocal (nil for zero).
    var reciprocal: Rat? { Rat(d, n) }

    /// Integer power with |k| ≤ 256, or nil on overflow.
    func power(_ k: Int) -> Rat? {
        if k < 0 { return reciprocal?.power(-k) }
        if k > 256 { return (n == 0 || (n.magnitude == 1 && d == 1)) ? Rat(n == 0 ? 0 : (k % 2 == 0 ? 1 : n)) : nil }
        var r = Rat(1), b = self, e = k
        while e > 0 {
            if e & 1 == 1 { guard let t = r * b else { return nil }; r = t }
            e >>= 1
            if e > 0 { guard let t = b * b else { return nil }; b = t }
        }
        return r
    }
}

/// Greatest common divisor.
@inline(__always) func gcd(_ a: UInt, _ b: UInt) -> UInt {
    var a = a, b = b
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

/// The exact integer k-th root of v when it exists.
func exactRoot(_ v: Int, _ k: Int) -> Int? {
    if v < 0 { return k % 2 == 1 ? exactRoot(-v, k).map { -$0 } : nil }
    if v < 2 { return v }
    let r = Int((Double(v)).squareRoot() == 0 ? 0 : _pow(Double(v), 1.0 / Double(k)).rounded())
    for c in Swift.max(0, r - 1)...(r + 1) {
        if let p = Rat(c).power(k), p.n == v { return c }
    }
    return nil
}

// MARK: - Complex

/// A complex double for numeric evaluation.
struct Cx: Sendable {
    var re: Double
    var im: Double
    init(_ re: Double, _ im: Double = 0) { self.re = re; self.im = im }
    static func + (a: Cx, b: Cx) -> Cx { Cx(a.re + b.re, a.im + b.im) }
    static func - (a: Cx, b: Cx) -> Cx { Cx(a.re - b.re, a.im - b.im) }
    static func * (a: Cx, b: Cx) -> Cx {
        if a.im == 0 && b.im == 0 { return Cx(a.re * b.re) }
        return Cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func / (a: Cx, b: Cx) -> Cx {
        if a.im == 0 && b.im == 0 { return Cx(a.re / b.re) }
        let den = b.re * b.re + b.im * b.im
        return Cx((a.re * b.re + a.im * b.im) / den, (a.im * b.re - a.re * b.im) / den)
    }
    /// Modulus.
    var abs: Double { im == 0 ? Swift.abs(re) : (re * re + im * im).squareRoot() }
    /// Whether both parts are finite.
    var isFinite: Bool { re.isFinite && im.isFinite }
    /// Principal logarithm.
    var log: Cx { Cx(_log(abs), _atan2(im, re)) }
    /// Exponential.
    var exp: Cx { let m = _exp(re); return im == 0 ? Cx(m) : Cx(m * _cos(im), m * _sin(im)) }
    /// Principal power.
    func pow(_ b: Cx) -> Cx {
        if im == 0 && b.im == 0 && (re >= 0 || b.re == b.re.rounded()) { return Cx(_pow(re, b.re)) }
        if re == 0 && im == 0 { return b.re > 0 ? Cx(0) : Cx(.nan) }
        return (b * log).exp
    }
}

// Elementary functions from the C library (Foundation-free).
@inline(__always) func _pow(_ a: Double, _ b: Double) -> Double { pow(a, b) }
@inline(__always) func _log(_ a: Double) -> Double { log(a) }
@inline(__always) func _exp(_ a: Double) -> Double { exp(a) }
@inline(__always) func _sin(_ a: Double) -> Double { sin(a) }
@inline(__always) func _cos(_ a: Double) -> Double { cos(a) }
@inline(__always) func _atan2(_ a: Double, _ b: Double) -> Double { atan2(a, b) }

// MARK: - Expression tree

/// A parsed mathematical expression or answer structure.
indirect enum Expr: Equatable, Sendable {
    /// An exact rational number.
    case num(Rat)
    /// A real number too large for exact rationals.
    case real(Double)
    /// A variable or a named constant (`pi`, `e`, `i`, `inf`).
    case sym(String)
    /// A sum.
    case add([Expr])
    /// A product.
    case mul([Expr])
    /// A power.
    case pow(Expr, Expr)
    /// A negation.
    case neg(Expr)
    /// A function application (`sin`, `sqrt`, `root`, `log`, `abs`, `fact`, `binom`, ...).
    case fn(String, [Expr])
    /// A bracketed tuple or interval, with its opening and closing bracket bytes (0 for a bare list).
    case tuple([Expr], UInt8, UInt8)
    /// A set written with braces.
    case set([Expr])
    /// A matrix, rows of cells.
    case matrix([[Expr]])
    /// A chain of relations: n operands and n-1 operators (`=`, `<`, `<=`, `>`, `>=`, `!=`, `in`).
    case rel([Expr], [String])
    /// A union of intervals or sets.
    case union([Expr])
    /// `a ± b`.
    case pm(Expr, Expr)
    /// Text that is not mathematics.
    case text(String)
}

extension Expr {
    /// Whether this is a plain scalar expression (no tuple, set, relation, ...).
    var isScalar: Bool {
        switch self {
        case .num, .real, .sym, .add, .mul, .pow, .neg, .fn: return true
        default: return false
        }
    }

    /// The free variables (constants excluded), up to a cap.
    func collectSymbols(into s: inout Set<String>) {
        if s.count > 16 { return }
        switch self {
        case .sym(let n): if !constantNames.contains(n) { s.insert(n) }
        case .add(let xs), .mul(let xs), .set(let xs), .union(let xs), .fn(_, let xs), .tuple(let xs, _, _),
            .rel(let xs, _):
            for x in xs { x.collectSymbols(into: &s) }
        case .pow(let a, let b), .pm(let a, let b): a.collectSymbols(into: &s); b.collectSymbols(into: &s)
        case .neg(let a): a.collectSymbols(into: &s)
        case .matrix(let rows): for r in rows { for x in r { x.collectSymbols(into: &s) } }
        case .num, .real, .text: break
        }
    }

    /// Whether the tree contains text or a non-scalar node inside arithmetic.
    var hasText: Bool {
        switch self {
        case .text: return true
        case .add(let xs), .mul(let xs), .fn(_, let xs): return xs.contains { $0.hasText || !$0.isScalar }
        case .pow(let a, let b): return a.hasText || b.hasText || !a.isScalar || !b.isScalar
        case .neg(let a): return a.hasText || !a.isScalar
        default: return false
        }
    }
}

/// Names evaluated as constants rather than variables.
let constantNames: Set<String> = ["pi", "e", "i", "inf"]
