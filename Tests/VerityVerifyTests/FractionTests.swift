// Signs, reduction, negative zero and mixed numbers in every profile, one named case per line.
// Expected values are worked out here, not read back from the grader: sign cases by sign arithmetic
// on the written forms, the rest from the value and, where a reference grader differs on purpose,
// the rule of Tests/Fixtures/grader/RULES.md that makes it differ (cited per case). Not here: the
// aggregate conformance figures (ConformanceTests).
import Foundation
import XCTest
@testable import VerityVerify

final class FractionSignTests: XCTestCase {
    /// One written form of ±1/2 and the sign of its value, worked out from the minus signs it carries.
    struct Form { var text: String; var minusSigns: Int; var negative: Bool { minusSigns % 2 == 1 } }

    static let halves: [Form] = [
        Form(text: "-\\frac{1}{2}", minusSigns: 1), Form(text: "\\frac{-1}{2}", minusSigns: 1),
        Form(text: "\\frac{1}{-2}", minusSigns: 1),
        Form(text: "\\frac{-1}{-2}", minusSigns: 2), Form(text: "-\\frac{-1}{2}", minusSigns: 2),
        Form(text: "\\frac{1}{2}", minusSigns: 0), Form(text: "-\\frac{1}{-2}", minusSigns: 2),
        Form(text: "-\\frac{-1}{-2}", minusSigns: 3),
    ]
    /// Golds of known sign: the same value written without a fraction.
    static let golds: [(String, Bool)] = [
        ("-0.5", true), ("0.5", false), ("-\\frac{1}{2}", true), ("\\frac{1}{2}", false),
    ]

    /// Each form against each gold, both ways round, in every profile: equal exactly when the signs agree.
    func testSignsOfHalvesInEveryProfile() {
        for profile in GradingProfile.allCases {
            let g = Grader(profile: profile)
            for form in Self.halves {
                for (gold, goldNegative) in Self.golds {
                    let want = form.negative == goldNegative
                    XCTAssertEqual(
                        g.equal(gold: gold, prediction: form.text), want,
                        "\(profile.rawValue): gold \(gold), prediction \(form.text)")
                    XCTAssertEqual(
                        g.equal(gold: form.text, prediction: gold), want,
                        "\(profile.rawValue): gold \(form.text), prediction \(gold)")
                }
            }
        }
    }

    /// Other denominators, so a sign dropped only for 2 (or only from the denominator) shows.
    func testSignsOfThreeQuartersInEveryProfile() {
        let cases: [(String, String, Bool)] = [
            ("-0.75", "\\frac{3}{-4}", true), ("0.75", "\\frac{3}{-4}", false), ("-0.75", "\\frac{-3}{4}", true),
            ("0.75", "\\frac{-3}{-4}", true), ("-0.75", "\\frac{-3}{-4}", false), ("-0.75", "-\\frac{3}{4}", true),
            ("0.75", "-\\frac{-3}{4}", true), ("-2.5", "\\frac{5}{-2}", true), ("2.5", "\\frac{5}{-2}", false),
            ("-7", "\\frac{14}{-2}", true), ("7", "\\frac{-14}{-2}", true), ("7", "\\frac{14}{-2}", false),
        ]
        for profile in GradingProfile.allCases {
            let g = Grader(profile: profile)
            for (gold, pred, want) in cases {
                // paper: a bare integer gold against a prediction that is not an integer string is false (RULES.md D.6).
                let expected = profile == .paper && Int(gold) != nil ? false : want
                XCTAssertEqual(
                    g.equal(gold: gold, prediction: pred), expected,
                    "\(profile.rawValue): gold \(gold), prediction \(pred)")
            }
        }
    }

    /// Signed fractions inside a tuple and after an operator, in the verity profile.
    func testSignsInsideStructures() {
        let g = Grader()
        XCTAssertTrue(g.equal(gold: "(-\\frac{1}{2}, 3)", prediction: "(\\frac{1}{-2}, 3)"))
        XCTAssertFalse(g.equal(gold: "(\\frac{1}{2}, 3)", prediction: "(\\frac{1}{-2}, 3)"))
        XCTAssertTrue(g.equal(gold: "1 - \\frac{1}{2}", prediction: "\\frac{1}{2}"))
        XCTAssertTrue(g.equal(gold: "1 + \\frac{1}{-2}", prediction: "0.5"))
        XCTAssertFalse(g.equal(gold: "1 + \\frac{1}{-2}", prediction: "1.5"))
        XCTAssertTrue(g.equal(gold: "\\frac{1}{-2} \\cdot \\frac{-1}{3}", prediction: "\\frac{1}{6}"))
    }
}

final class FractionFormTests: XCTestCase {
    /// A named case: gold, prediction and the expected verdict per profile (paper, qwen-eval, math-verify, verity).
    struct Named { var name: String; var gold: String; var prediction: String; var want: [GradingProfile: Bool] }

    static func all(_ b: Bool) -> [GradingProfile: Bool] { [.paper: b, .qwenEval: b, .mathVerify: b, .verity: b] }
    static func exceptPaper(_ b: Bool) -> [GradingProfile: Bool] {
        [.paper: !b, .qwenEval: b, .mathVerify: b, .verity: b]
    }

    func run(_ cases: [Named], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            for profile in GradingProfile.allCases {
                guard let want = c.want[profile] else {
                    XCTFail("\(c.name): no expectation for \(profile.rawValue)", file: file, line: line); continue
                }
                XCTAssertEqual(
                    Grader(profile: profile).equal(gold: c.gold, prediction: c.prediction), want,
                    "\(c.name) [\(profile.rawValue)]: gold \(c.gold), prediction \(c.prediction)", file: file,
                    line: line)
            }
        }
    }

    /// Reduced against unreduced: equal values, except in `paper`, where two `a/b` strings must be identical (RULES.md D.6).
    func testReducedAndUnreducedFractions() {
        run([
            Named(name: "2/4 vs 1/2", gold: "\\frac{2}{4}", prediction: "\\frac{1}{2}", want: Self.exceptPaper(true)),
            Named(name: "1/2 vs 2/4", gold: "\\frac{1}{2}", prediction: "\\frac{2}{4}", want: Self.exceptPaper(true)),
            Named(name: "6/4 vs 3/2", gold: "\\frac{6}{4}", prediction: "\\frac{3}{2}", want: Self.exceptPaper(true)),
            Named(name: "4/6 vs 2/3", gold: "\\frac{4}{6}", prediction: "\\frac{2}{3}", want: Self.exceptPaper(true)),
            Named(name: "12/8 vs 3/2", gold: "\\frac{12}{8}", prediction: "\\frac{3}{2}", want: Self.exceptPaper(true)),
            // One side not an `a/b` string: paper goes to the symbolic check (D.6), which reduces.
            Named(name: "2/4 vs 0.5", gold: "\\frac{2}{4}", prediction: "0.5", want: Self.all(true)),
            Named(name: "6/4 vs 1.5", gold: "\\frac{6}{4}", prediction: "1.5", want: Self.all(true)),
            Named(name: "-3/-6 vs 1/2", gold: "\\frac{-3}{-6}", prediction: "\\frac{1}{2}", want: Self.all(true)),
            Named(name: "3/9 vs 1/4", gold: "\\frac{3}{9}", prediction: "\\frac{1}{4}", want: Self.all(false)),
            Named(name: "3/9 vs 0.25", gold: "\\frac{3}{9}", prediction: "0.25", want: Self.all(false)),
            Named(name: "4/6 vs 3/4", gold: "\\frac{4}{6}", prediction: "\\frac{3}{4}", want: Self.all(false)),
        ])
        // Sums whose terms reduce only together, in the exact-rational profile.
        let g = Grader()
        XCTAssertTrue(g.equal(gold: "\\frac{1}{6} + \\frac{1}{3}", prediction: "\\frac{1}{2}"))
        XCTAssertTrue(g.equal(gold: "\\frac{2}{4} \\cdot \\frac{4}{2}", prediction: "1"))
        XCTAssertTrue(g.equal(gold: "\\frac{10}{4}", prediction: "2\\frac{1}{2}"))
        XCTAssertFalse(g.equal(gold: "\\frac{10}{4}", prediction: "2\\frac{1}{4}"))
    }

    /// Negative zero is zero; zero is not one. Paper: a bare integer against a non-integer `a/b` string is false (D.6).
    func testNegativeZero() {
        run([
            Named(name: "0 vs -0", gold: "0", prediction: "-0", want: Self.all(true)),
            Named(name: "-0 vs 0", gold: "-0", prediction: "0", want: Self.all(true)),
            Named(name: "0 vs -0.0", gold: "0", prediction: "-0.0", want: Self.all(true)),
            Named(name: "0.0 vs -0", gold: "0.0", prediction: "-0", want: Self.all(true)),
            Named(name: "0 vs 0/-5", gold: "0", prediction: "\\frac{0}{-5}", want: Self.exceptPaper(true)),
            Named(name: "0 vs -0/3", gold: "0", prediction: "-\\frac{0}{3}", want: Self.exceptPaper(true)),
            Named(name: "1 vs -0", gold: "1", prediction: "-0", want: Self.all(false)),
            Named(name: "-0 vs 1", gold: "-0", prediction: "1", want: Self.all(false)),
        ])
    }

    /// Mixed numbers: verity and math-verify read `a\frac{b}{c}` as a + b/c (RULES.md E.3, F); qwen-eval's latex2sympy reads
    /// it as a·b/c (its label on case-1233 is false); paper turns "digit space digit" into a sum, so −1 1/2 is −1 + 1/2 (D.6).
    func testMixedNumbers() {
        run([
            Named(
                name: "12 4/5 vs 12.8", gold: "12\\frac{4}{5}", prediction: "12.8",
                want: [.paper: true, .qwenEval: false, .mathVerify: true, .verity: true]),
            Named(
                name: "12 4/5 vs 48/5", gold: "12\\frac{4}{5}", prediction: "\\frac{48}{5}",
                want: [.paper: false, .qwenEval: true, .mathVerify: false, .verity: false]),
            Named(
                name: "2 1/2 vs 2.5", gold: "2\\frac{1}{2}", prediction: "2.5",
                want: [.paper: true, .qwenEval: false, .mathVerify: true, .verity: true]),
            Named(
                name: "2 1/2 vs 1", gold: "2\\frac{1}{2}", prediction: "1",
                want: [.paper: false, .qwenEval: true, .mathVerify: false, .verity: false]),
            Named(
                name: "31/4 vs 7 3/4", gold: "\\frac{31}{4}", prediction: "7\\frac{3}{4}",
                want: [.paper: true, .qwenEval: false, .mathVerify: true, .verity: true]),
            Named(
                name: "-1 1/2 vs -1.5", gold: "-1\\frac{1}{2}", prediction: "-1.5",
                want: [.paper: false, .qwenEval: false, .mathVerify: true, .verity: true]),
            Named(
                name: "-0.5 vs -1 1/2", gold: "-0.5", prediction: "-1\\frac{1}{2}",
                want: [.paper: true, .qwenEval: true, .mathVerify: false, .verity: false]),
        ])
        XCTAssertTrue(Grader(profile: .paper).equal(gold: "7 3/4", prediction: "\\frac{31}{4}"), "D.6: 7 3/4 = 7+3/4")
    }
}
