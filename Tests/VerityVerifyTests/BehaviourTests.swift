// Behaviour of the extractors and comparators on named examples from RULES.md and the issue:
// each profile's documented quirks (reproduced on purpose) and the verity profile's own rules.
import Foundation
import XCTest
@testable import VerityVerify

final class BehaviourTests: XCTestCase {
    func testProfilesRoundTripByName() {
        XCTAssertEqual(GradingProfile.allCases.map(\.rawValue), ["paper", "qwen-eval", "math-verify", "verity"])
        XCTAssertEqual(Grader().profile, .verity)
    }

    func testVerityExtraction() {
        let g = Grader()
        XCTAssertEqual(g.extract("so $\\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}")
        XCTAssertEqual(g.extract("first \\boxed{3}, then \\boxed{\\{1, \\{2\\}\\}}"), "\\{1, \\{2\\}\\}")
        XCTAssertEqual(g.extract("Hence $\\fbox{7}$"), "7")
        XCTAssertEqual(g.extract("The answer is $\\boxed 5$."), "5")
        XCTAssertEqual(
            g.extract("Final Answer: The final answer is $\\frac{8}{21}$. I hope it is correct."), "\\frac{8}{21}")
        XCTAssertEqual(g.extract("<think>maybe \\boxed{4}</think> The answer is $\\boxed{6}$"), "6")
        XCTAssertEqual(g.extract("The answer is 12.8."), "12.8")
        XCTAssertEqual(g.extract("\\boxed{1}, \\boxed{2} and \\boxed{3}"), "1, 2, 3")
        XCTAssertNil(g.extract("Therefore the answer is $\\boxed{12.8"), "a truncated box is no answer")
        XCTAssertNil(g.extract("I am not sure; it might be 17 or maybe 5, we need more steps to finish this."))
    }

    func testVerityEquivalence() {
        let g = Grader()
        let yes: [(String, String)] = [
            ("12.8", "\\frac{64}{5}"), ("12.8", "64/5"), ("12.8", "12\\frac{4}{5}"), ("0.5", "50\\%"),
            ("1000", "1,000"),
            ("6.0 \\times 10^{-4}", "6e-4"), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"), ("2^{10}", "1024"),
            ("(a+5)(b+2)", "ab + 2a + 5b + 10"), ("x = 5", "5"), ("1, 2, 3", "3, 1, 2"),
            ("\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt5"),
            ("(0, 1) \\cup (1, \\infty)", "(1, \\infty) \\cup (0, 1)"), ("x \\geq 1", "1 \\le x"),
            ("[2, 5)", "2 \\le x < 5"),
            ("5", "5 \\text{ cm}"), ("30", "30^\\circ"), ("\\text{Evelyn}", "evelyn"), ("C", "\\text{(C)}"),
            ("10", "ten"),
            ("9", "9."), ("6+9i", "6 + 9j"),
            ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}"),
            ("\\sqrt{2}", "1.414213562373095"), ("\\ln 8", "3\\ln 2"), ("\\binom{6}{2}", "15"), ("5!", "120"),
            ("y = 2x + 3", "2x - y + 3 = 0"), ("\\$18.90", "18.9"),
        ]
        for (a, b) in yes { XCTAssertTrue(g.equal(gold: a, prediction: b), "\(a) = \(b)") }
        let no: [(String, String)] = [
            ("12.8", "13"), ("1000000", "999999"), ("\\pi", "3.14"), ("100", "100.01"), ("2", "2.0001"),
            ("[2, 5)", "(2, 5)"),
            ("(3, \\frac{\\pi}{2})", "(\\frac{\\pi}{2}, 3)"), ("p - q", "q - p"), ("x = 5", "x=6"),
            ("y = 2x + 3", "y=2x+4"),
            ("-\\infty", "\\infty"), ("7", ""), ("7", "7 7"),
            ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
            ("\\text{even}", "\\text{odd}"), ("x^2", "y^2"), ("(1,-16,-4,43)", "(1,-16,-4,43]"), ("x > 5", "x < 5"),
            ("12", "0.12"),
            // Rationals compare exactly; irrationals numerically with relative tolerance 1e-9 (4e-8 and 2e-8 are too far).
            ("\\frac{1}{7}", "0.1428571"), ("1000000", "1000000.1"), ("\\sqrt{2}", "1.4142135"), ("\\pi", "3.1415926"),
        ]
        for (a, b) in no { XCTAssertFalse(g.equal(gold: a, prediction: b), "\(a) != \(b)") }
    }

    func testPaperProfileQuirks() {
        let g = Grader(profile: .paper)
        XCTAssertTrue(g.equal(gold: "\\frac{1}{2}", prediction: "0.5"))
        XCTAssertFalse(
            g.equal(gold: "\\frac{1}{2}", prediction: "\\frac{2}{4}"), "unreduced fractions are rejected (D.6)")
        XCTAssertFalse(g.equal(gold: "\\frac{1}{3}", prediction: "0.3333"), "no numeric tolerance (D.7)")
        XCTAssertFalse(g.grade(response: "$\\fbox{5}$", gold: "5").correct, "\\fbox is not a box (D.2)")
        XCTAssertFalse(g.grade(response: "The answer is $\\boxed 5$.", gold: "5").correct)
        XCTAssertTrue(g.equal(gold: "7 3/4", prediction: "\\frac{31}{4}"), "mixed numbers (D.6)")
        XCTAssertEqual(g.extract("a \\boxed{1} b \\boxed{x = {2}}"), "x = {2}")
    }

    func testQwenEvalQuirks() {
        let g = Grader(profile: .qwenEval)
        XCTAssertTrue(g.equal(gold: "12", prediction: "0.12"), "percentage rule (C.4)")
        XCTAssertTrue(g.equal(gold: "1000000", prediction: "1000050"), "relative tolerance 1e-4")
        XCTAssertTrue(g.equal(gold: "(3,4]", prediction: "(3,4)"), "bracket-blind (C.7)")
        XCTAssertTrue(g.equal(gold: "17", prediction: "seventeen"), "number words (B.10)")
        XCTAssertFalse(g.equal(gold: "1, 2, 3", prediction: "3, 1, 2"))
        XCTAssertEqual(g.extract("the value might be 17 or maybe 5."), "5", "last-number fallback (A.2.6)")
        XCTAssertEqual(QwenEval.strip(Bytes("-q + p")).string, "-p", "unit words are regular expressions (B.7)")
        XCTAssertEqual(QwenEval.strip(Bytes("\\sqrt 53")).string, "\\sqrt53")
        XCTAssertEqual(QwenEval.strip(QwenEval.strip(Bytes("\\sqrt 53"))).string, "\\sqrt{53}", "second pass (A.4)")
        XCTAssertEqual(QwenEval.strip(Bytes("\\frac12")).string, "\\frac{1}{2}")
    }

    func testMathVerifyQuirks() {
        let g = Grader(profile: .mathVerify)
        XCTAssertFalse(g.equal(gold: "9", prediction: "9."))
        XCTAssertFalse(g.equal(gold: "10", prediction: "ten"))
        XCTAssertTrue(g.equal(gold: "\\frac{13}{15}", prediction: "0.866667"), "rounding to 6 decimals")
        XCTAssertFalse(g.equal(gold: "\\frac{13}{6}", prediction: "2.1667"))
        XCTAssertTrue(g.equal(gold: "1, 2, 3", prediction: "3, 1, 2"))
        XCTAssertTrue(g.equal(gold: "52_8", prediction: "52"))
    }

    /// `\displaystyle` is decoration: verl and math_verify accept `\displaystyle 7` for 7 (their labels on case-1465;
    /// Qwen2.5-Eval's false there is a pinned disagreement); verity reads it inside expressions too.
    func testDisplaystyleIsDecoration() {
        for p in [GradingProfile.paper, .mathVerify, .verity] {
            XCTAssertTrue(Grader(profile: p).equal(gold: "7", prediction: "\\displaystyle 7"), p.rawValue)
            XCTAssertFalse(Grader(profile: p).equal(gold: "7", prediction: "\\displaystyle 8"), p.rawValue)
        }
        let g = Grader()
        XCTAssertTrue(g.equal(gold: "0.75", prediction: "\\displaystyle\\frac{3}{4}"))
        XCTAssertTrue(
            g.equal(gold: "(1, 2)", prediction: "\\left(\\displaystyle 1, \\displaystyle\\frac{4}{2}\\right)"))
        XCTAssertTrue(g.equal(gold: "x^2", prediction: "\\displaystyle{x^2}"))
        for (gold, pred) in [
            ("evelyn", "\\displaystyle \\text{Evelyn}"), ("\\{1,2\\}", "\\displaystyle \\{1, 2\\}"),
            ("x \\ge 1", "\\displaystyle x \\geq 1"),
            ("50\\%", "\\displaystyle 50\\%"), ("(1,2]", "\\displaystyle (1, 2]"), ("A", "\\displaystyle \\text{(A)}"),
        ] {
            XCTAssertTrue(g.equal(gold: gold, prediction: pred), "\(gold) = \(pred)")
        }
    }

    func testCasesFileConventions() {
        // kind "raw": both strings as they are.
        let g = Grader()
        XCTAssertTrue(
            g.grade(gold: "$x >= 5$", prediction: "Therefore $x \\geq 5$ is the solution.", kind: .raw).correct)
        XCTAssertTrue(g.grade(gold: "$9$", prediction: "Answer \\( 9 \\)", kind: .raw).correct)
        XCTAssertEqual(g.grade(gold: "1", prediction: "\\frac{2}{2}", kind: .answer).extracted, "\\frac{2}{2}")
    }
}

final class HelperTests: XCTestCase {
    func testPythonIntegerPrintOfLargeDoubles() {
        XCTAssertEqual(DeepScaler.pyIntString(1e20), "100000000000000000000")
        XCTAssertEqual(DeepScaler.pyIntString(-12345), "-12345")
        XCTAssertEqual(DeepScaler.pyIntString(pow(2.0, 70)), "1180591620717411303424")
    }

    func testWordToNumberSemantics() {
        XCTAssertEqual(QwenEval.wordToNumber(Bytes("twelve point eight"))?.string, "12.8")
        XCTAssertEqual(QwenEval.wordToNumber(Bytes("ten dogs"))?.string, "10")
        XCTAssertEqual(QwenEval.wordToNumber(Bytes("two hundred"))?.string, "200")
        XCTAssertNil(QwenEval.wordToNumber(Bytes("x+1")))
    }
}
