// An arithmetic checker for the synthetic solutions, written here independently of VerityData's templates:
// exact rationals over Int, a recursive-descent evaluator of "+ - * /" with brackets (a fraction "3/4" is a
// division, so it evaluates to the same value), and the parsing of solution lines "Label: e1 = e2 [= e3]." and of
// answers (an integer or a reduced \frac{a}{b}). Not a test itself.
import Foundation

// MARK: - Rationals

/// An exact rational number in lowest terms with a positive denominator.
struct Rational: Equatable, CustomStringConvertible {
    let num: Int
    let den: Int

    init(_ num: Int, _ den: Int = 1) {
        precondition(den != 0, "zero denominator")
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? abs(a) : gcd(b, a % b) }
        let g = max(gcd(num, den), 1), s = den < 0 ? -1 : 1
        self.num = s * num / g
        self.den = s * den / g
    }

    static func + (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den + b.num * a.den, a.den * b.den) }
    static func - (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den - b.num * a.den, a.den * b.den) }
    static func * (a: Rational, b: Rational) -> Rational { Rational(a.num * b.num, a.den * b.den) }
    static func / (a: Rational, b: Rational) -> Rational? { b.num == 0 ? nil : Rational(a.num * b.den, a.den * b.num) }

    var description: String { den == 1 ? "\(num)" : "\(num)/\(den)" }
}

// MARK: - Expressions

/// Evaluates `text` (non-negative integers, + - * /, brackets, spaces) exactly; nil when it does not parse whole.
func evaluate(_ text: String) -> Rational? {
    var p = ExpressionParser(chars: Array(text.filter { $0 != " " }))
    guard let v = p.expression(), p.at == p.chars.count else { return nil }
    return v
}

private struct ExpressionParser {
    let chars: [Character]
    var at = 0

    mutating func expression() -> Rational? {
        guard var v = term() else { return nil }
        while at < chars.count, chars[at] == "+" || chars[at] == "-" {
            let op = chars[at]
            at += 1
            guard let t = term() else { return nil }
            v = op == "+" ? v + t : v - t
        }
        return v
    }

    mutating func term() -> Rational? {
        guard var v = factor() else { return nil }
        while at < chars.count, chars[at] == "*" || chars[at] == "/" {
            let op = chars[at]
            at += 1
            guard let f = factor() else { return nil }
            if op == "*" {
                v = v * f
            } else {
                guard let q = v / f else { return nil }
                v = q
            }
        }
        return v
    }

    mutating func factor() -> Rational? {
        guard at < chars.count else { return nil }
        if chars[at] == "(" {
            at += 1
            guard let v = expression(), at < chars.count, chars[at] == ")" else { return nil }
            at += 1
            return v
        }
        var digits = ""
        while at < chars.count, chars[at].isASCII, chars[at].isNumber {
            digits.append(chars[at])
            at += 1
        }
        return Int(digits).map { Rational($0) }
    }
}

// MARK: - Solutions and answers

/// The answer string as a number: an integer, or `\frac{a}{b}` in lowest terms with b > 1; nil otherwise.
func parseAnswer(_ answer: String) -> Rational? {
    if let n = Int(answer), n >= 0 { return Rational(n) }
    guard answer.hasPrefix("\\frac{"), answer.hasSuffix("}") else { return nil }
    let parts = answer.dropFirst("\\frac{".count).dropLast().components(separatedBy: "}{")
    guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), b > 1 else { return nil }
    let r = Rational(a, b)
    return r.num == a && r.den == b ? r : nil
}

/// The whole numbers written in `text` (maximal digit runs).
func numbers(in text: String) -> [Int] {
    text.split(whereSeparator: { !($0.isASCII && $0.isNumber) }).compactMap { Int($0) }
}

/// What checking one solution found.
struct SolutionCheck {
    /// Step lines that were checked ("Label: e1 = e2 ...").
    var steps = 0
    /// Plan lines (an expression for the whole problem, no "=") that were checked.
    var plans = 0
    /// The value of the last step line.
    var last: Rational?
    /// Everything wrong, one message each.
    var problems: [String] = []
}

/// Checks every step line of `solution` (each side of each "=" evaluated exactly, all equal), that the numbers the
/// first side of a step uses come from the problem text (or 100, or an earlier step's result), and that the last
/// line is "The answer is \boxed{answer}.".
func checkSolution(problem: String, solution: String, answer: String) -> SolutionCheck {
    var check = SolutionCheck()
    var lines = solution.components(separatedBy: "\n")
    let closing = "The answer is \\boxed{\(answer)}."
    if lines.last != closing { check.problems.append("last line is not '\(closing)'") }
    lines.removeLast()
    var allowed = Set(numbers(in: problem) + [100])
    for line in lines where !line.contains(" = ") {
        // A plan line such as "The change is 100 - (3 * 12 + 2 * 7).": its expression must give the answer.
        for marker in [" is ", " gets "] {
            guard let r = line.range(of: marker, options: .backwards), line.hasSuffix("."),
                let v = evaluate(String(line[r.upperBound...].dropLast()))
            else { continue }
            if v != parseAnswer(answer) { check.problems.append("plan line does not give the answer: \(line)") }
            check.plans += 1
        }
    }
    for line in lines where line.contains(" = ") {
        guard line.hasSuffix("."), let colon = line.range(of: ": ", options: .backwards) else {
            check.problems.append("step line not 'Label: e = v.': \(line)")
            continue
        }
        let sides = line[colon.upperBound...].dropLast().components(separatedBy: " = ")
        let values = sides.map(evaluate)
        guard values.allSatisfy({ $0 != nil }), let first = values[0] else {
            check.problems.append("cannot evaluate: \(line)")
            continue
        }
        if values.contains(where: { $0 != first }) { check.problems.append("wrong arithmetic: \(line)") }
        for n in numbers(in: sides[0]) where !allowed.contains(n) {
            check.problems.append("\(n) is neither in the problem nor an earlier result: \(line)")
        }
        for side in sides.dropFirst() { allowed.formUnion(numbers(in: side)) }
        check.steps += 1
        check.last = first
    }
    return check
}
