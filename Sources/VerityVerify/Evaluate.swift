// Deciding equality of parsed expressions without a computer algebra system (RULES.md F.4):
// exact rational evaluation when both sides are rational constants, complex double evaluation
// otherwise, and for expressions with variables evaluation at seeded random points. Every walk
// carries a step budget so that hostile inputs (towers of powers, huge factorials) end quickly.
// Structural comparisons (tuples, sets, intervals, relations) are in Semantic.swift.
import VerityCore
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Exact evaluation

/// The exact rational value of a constant expression, or nil when it is not rational or too large.
func evalQ(_ e: Expr, _ budget: inout Int) -> Rat? {
    budget -= 1
    if budget < 0 { return nil }
    switch e {
    case .num(let r): return r
    case .neg(let a): return evalQ(a, &budget)?.negated
    case .add(let xs):
        var acc = Rat(0)
        for x in xs { guard let v = evalQ(x, &budget), let s = acc + v else { return nil }; acc = s }
        return acc
    case .mul(let xs):
        var acc = Rat(1)
        for x in xs { guard let v = evalQ(x, &budget), let s = acc * v else { return nil }; acc = s }
        return acc
    case .pow(let a, let b):
        guard let q = evalQ(b, &budget), let base = evalQ(a, &budget) else { return nil }
        if q.isInteger {
            if abs(q.n) > 4096 && !(base.n.magnitude <= 1 && base.d == 1) { return nil }
            if base.n == 0 && q.n < 0 { return nil }
            return base.power(q.n)
        }
        // Rational exponent p/k: exact only when the k-th root is exact.
        guard q.d <= 64, base.n >= 0 || q.d % 2 == 1, let rn = exactRoot(base.n, q.d), let rd = exactRoot(base.d, q.d),
            let r = Rat(rn, rd)
        else { return nil }
        if r.n == 0 && q.n < 0 { return nil }
        return abs(q.n) <= 256 ? r.power(q.n) : nil
    case .fn(let name, let xs):
        if name == "sqrt", xs.count == 1, let v = evalQ(xs[0], &budget), v.n >= 0,
            let a = exactRoot(v.n, 2), let b = exactRoot(v.d, 2)
        {
            return Rat(a, b)
        }
        if name == "root", xs.count == 2, let v = evalQ(xs[0], &budget), let k = evalQ(xs[1], &budget), k.isInteger,
            k.n > 0, k.n <= 64,
            let a = exactRoot(v.n, k.n), let b = exactRoot(v.d, k.n)
        {
            return Rat(a, b)
        }
        if name == "abs", xs.count == 1, let v = evalQ(xs[0], &budget) { return v.n < 0 ? v.negated : v }
        if name == "fact", xs.count == 1, let v = evalQ(xs[0], &budget), v.isInteger, v.n >= 0, v.n <= 20 {
            var r = 1
            for k in stride(from: 2, through: v.n, by: 1) { r *= k }
            return Rat(r)
        }
        if name == "binom", xs.count == 2, let n = evalQ(xs[0], &budget), let k = evalQ(xs[1], &budget), n.isInteger,
            k.isInteger,
            n.n >= 0, k.n >= 0, n.n <= 60
        {
            if k.n > n.n { return Rat(0) }
            var r = 1
            for j in 0..<min(k.n, n.n - k.n) { r = r * (n.n - j) / (j + 1) }
            return Rat(r)
        }
        if name == "floor" || name == "ceil", xs.count == 1, let v = evalQ(xs[0], &budget) {
            var f = v.n / v.d
            if v.n < 0 && v.n % v.d != 0 { f -= 1 }
            return Rat(name == "floor" || v.d == 1 ? f : f + 1)
        }
        return nil
    default: return nil
    }
}

// MARK: - Numeric evaluation

/// Numeric value of `e` with variables bound by `env`; nil when undefined or not scalar.
func evalC(_ e: Expr, _ env: [String: Cx], _ budget: inout Int) -> Cx? {
    budget -= 1
    if budget < 0 { return nil }
    switch e {
    case .num(let r): return Cx(r.double)
    case .real(let d): return Cx(d)
    case .sym(let n):
        switch n {
        case "pi": return Cx(Double.pi)
        case "e": return Cx(M_E)
        case "i": return Cx(0, 1)
        case "inf": return Cx(.infinity)
        default: return env[n]
        }
    case .neg(let a): return evalC(a, env, &budget).map { Cx(-$0.re, -$0.im) }
    case .add(let xs):
        var acc = Cx(0)
        for x in xs { guard let v = evalC(x, env, &budget) else { return nil }; acc = acc + v }
        return acc
    case .mul(let xs):
        var acc = Cx(1)
        for x in xs { guard let v = evalC(x, env, &budget) else { return nil }; acc = acc * v }
        return acc
    case .pow(let a, let b):
        guard let x = evalC(a, env, &budget), let y = evalC(b, env, &budget) else { return nil }
        // Real odd roots of negatives: (-8)^(1/3) = -2, as a reader means it.
        if x.im == 0 && y.im == 0 && x.re < 0, case .pow(_, let ex) = e, var bq = Optional(1000),
            let q = evalQ(ex, &bq), q.d % 2 == 1
        {
            let m = _pow(-x.re, y.re)
            return Cx(q.n % 2 == 0 ? m : -m)
        }
        return x.pow(y)
    case .fn(let name, let xs):
        var vs: [Cx] = []
        for x in xs { guard let v = evalC(x, env, &budget) else { return nil }; vs.append(v) }
        return applyFunction(name, vs, budget: &budget)
    default: return nil
    }
}

func applyFunction(_ name: String, _ v: [Cx], budget: inout Int) -> Cx? {
    guard let x = v.first else { return nil }
    let real = x.im == 0
    switch (name, v.count) {
    case ("sqrt", 1): return real && x.re >= 0 ? Cx(x.re.squareRoot()) : x.pow(Cx(0.5))
    case ("root", 2):
        if real && v[1].im == 0 && x.re < 0 && Int(v[1].re) % 2 == 1 { return Cx(-_pow(-x.re, 1 / v[1].re)) }
        return x.pow(Cx(1) / v[1])
    case ("abs", 1): return Cx(x.abs)
    case ("exp", 1): return x.exp
    case ("ln", 1): return x.log
    case ("log", 1): return x.log
    case ("log", 2): return x.log / v[1].log
    case ("fact", 1):
        guard real, x.re >= 0, x.re <= 170, x.re == x.re.rounded() else { return nil }
        budget -= Int(x.re)
        return Cx(tgamma(x.re + 1))
    case ("binom", 2):
        guard real, v[1].im == 0 else { return nil }
        return Cx(_exp(lgamma(x.re + 1) - lgamma(v[1].re + 1) - lgamma(x.re - v[1].re + 1)).rounded())
    case ("floor", 1): return real ? Cx(x.re.rounded(.down)) : nil
    case ("ceil", 1): return real ? Cx(x.re.rounded(.up)) : nil
    default: break
    }
    guard v.count == 1 else { return nil }
    if real {
        let r = x.re
        switch name {
        case "sin": return Cx(sin(r))
        case "cos": return Cx(cos(r))
        case "tan": return Cx(tan(r))
        case "sec": return Cx(1 / cos(r))
        case "csc": return Cx(1 / sin(r))
        case "cot": return Cx(1 / tan(r))
        case "asin": return abs(r) <= 1 ? Cx(asin(r)) : nil
        case "acos": return abs(r) <= 1 ? Cx(acos(r)) : nil
        case "atan": return Cx(atan(r))
        case "sinh": return Cx(sinh(r))
        case "cosh": return Cx(cosh(r))
        case "tanh": return Cx(tanh(r))
        default: return nil
        }
    }
    return nil
}

// MARK: - Scalar equality

/// How close two numeric values must be.
enum Tolerance: Sendable {
    /// Exact under rational arithmetic, else relative 1e-12 (DeepScaleR / sympy `simplify(a-b) == 0`).
    case exact
    /// Python `isclose(rel_tol=1e-4)` (Qwen2.5-Eval `numeric_equal`).
    case relative(Double)
    /// math_verify: equal after rounding to 6 decimals.
    case rounded6
    /// sympy Float arithmetic: the double difference must be exactly zero.
    case float53
}

func close(_ a: Cx, _ b: Cx, _ tol: Tolerance) -> Bool {
    if a.re == b.re && a.im == b.im { return true }
    if !a.isFinite || !b.isFinite { return false }
    let d = (a - b).abs, m = max(a.abs, b.abs)
    switch tol {
    case .exact: return d <= 1e-12 * max(m, 1e-300) || d < 1e-300
    case .float53: return d == 0
    case .relative(let r): return d <= r * m
    case .rounded6:
        if a.im == 0 && b.im == 0 && (a.re * 1e6).rounded() == (b.re * 1e6).rounded() { return true }
        return d <= 1e-12 * m
    }
}

/// Whether `e` is a written ±∞.
func isInfinity(_ e: Expr) -> Bool {
    switch e {
    case .sym("inf"): return true
    case .neg(let a): return isInfinity(a)
    default: return false
    }
}

/// Whether two scalar expressions are equal: exactly, numerically with `tol`, or at random points.
func scalarEqual(_ a: Expr, _ b: Expr, _ tol: Tolerance) -> Bool {
    if a == b { return true }
    guard a.isScalar && b.isScalar && !a.hasText && !b.hasText else { return false }
    var vars = Set<String>()
    a.collectSymbols(into: &vars); b.collectSymbols(into: &vars)
    var budget = 20_000
    if vars.isEmpty {
        if let qa = evalQ(a, &budget), let qb = evalQ(b, &budget) {
            if qa == qb { return true }
            switch tol {
            case .relative(let r): return abs(qa.double - qb.double) <= r * max(abs(qa.double), abs(qb.double))
            case .rounded6: return close(Cx(qa.double), Cx(qb.double), .rounded6)
            case .exact: return false
            case .float53:
                budget = 20_000
                guard let va = evalC(a, [:], &budget), let vb = evalC(b, [:], &budget) else { return false }
                return (va - vb).abs == 0
            }
        }
        budget = 20_000
        guard let va = evalC(a, [:], &budget), let vb = evalC(b, [:], &budget) else { return false }
        // Overflowing values (10^{10^{10}}) are not comparable numerically; only a written ±∞ equals ±∞.
        if !va.isFinite || !vb.isFinite {
            return isInfinity(a) && isInfinity(b) && va.re == vb.re && va.im == 0 && vb.im == 0
        }
        return close(va, vb, tol)
    }
    if vars.count > 8 { return false }
    let names = vars.sorted()
    var rng = SeededGenerator(seed: 0x5EED_1234)
    var agree = 0
    for trial in 0..<14 {
        var env: [String: Cx] = [:]
        for n in names {
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            let v = trial < 10 ? 0.25 + 2.5 * u : -3 + 6 * u
            env[n] = Cx(v)
        }
        budget = 20_000
        guard let va = evalC(a, env, &budget), let vb = evalC(b, env, &budget), va.isFinite, vb.isFinite else {
            if budget < 0 { return false }
            continue
        }
        let d = (va - vb).abs
        if d > 1e-8 * (1 + max(va.abs, vb.abs)) { return false }
        agree += 1
    }
    return agree >= 3
}
