// Hostile inputs (issue 6, part 4): each must give a definite grade with bounded work. No timing is
// asserted (speed is measured by `verity bench verify`); the tests assert the result itself.
import Dispatch
import XCTest
@testable import VerityVerify

final class SafetyTests: XCTestCase {
    let deep = String(repeating: "{", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
    let bigNumber = String(repeating: "7", count: 100_000)
    let megabyte = String(repeating: "We compute the value carefully and 12 more. ", count: 24_000)

    func testEmptyGoldEqualsNothing() {
        // A data line without an answer reaches the grader as "": under every profile it never
        // matches, not even an empty box (the paper's rule alone would say 1.0; issue 13 item 7).
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            for gold in ["", " ", "\n\t"] {
                for response in ["\\boxed{}", "\\boxed{ }", "", "The answer is \\boxed{2}."] {
                    XCTAssertFalse(
                        g.grade(response: response, gold: gold).correct,
                        "\(p.rawValue) \(response) vs \(gold.debugDescription)")
                    XCTAssertFalse(
                        g.grade(gold: gold, prediction: response, kind: .raw).correct, "\(p.rawValue) raw \(response)")
                }
                XCTAssertFalse(g.equal(gold: gold, prediction: ""), p.rawValue)
                XCTAssertFalse(g.equal(gold: gold, prediction: gold), p.rawValue)
            }
            XCTAssertFalse(
                g.grade(gold: "\\boxed{}", prediction: "\\boxed{}", kind: .raw).correct, "\(p.rawValue) raw boxed")
            XCTAssertEqual(
                g.grade(response: "so \\boxed{2}", gold: "").extracted, g.extract("so \\boxed{2}"), p.rawValue)
            XCTAssertTrue(g.grade(response: "\\boxed{2}", gold: "2").correct, p.rawValue)
        }
    }

    func testTowerOfPowers() {
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            XCTAssertFalse(g.equal(gold: "10^{10^{10}}", prediction: "10^{10^{11}}"), p.rawValue)
            XCTAssertFalse(g.equal(gold: "5", prediction: "10^{10^{10}}"), p.rawValue)
        }
    }

    func testHundredThousandDigitNumber() {
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            XCTAssertFalse(g.equal(gold: bigNumber, prediction: bigNumber + "1"), p.rawValue)
            XCTAssertFalse(g.grade(response: "\\boxed{" + bigNumber + "}", gold: "7").correct, p.rawValue)
        }
    }

    func testBracesNestedTenThousandDeep() {
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            XCTAssertFalse(g.grade(response: "\\boxed" + deep, gold: "2").correct, p.rawValue)
            XCTAssertFalse(g.equal(gold: "2", prediction: deep), p.rawValue)
        }
    }

    func testOneMegabyteResponse() {
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            XCTAssertTrue(g.grade(response: megabyte + "\\boxed{5}", gold: "5").correct, p.rawValue)
            XCTAssertFalse(g.grade(response: "\\boxed{" + megabyte + "}", gold: "5").correct, p.rawValue)
        }
        // Without a box the verity profile finds no answer; the reference ports fall back as their originals do.
        XCTAssertNil(Grader(profile: .verity).grade(response: megabyte, gold: "5").extracted)
        XCTAssertNil(Grader(profile: .paper).grade(response: megabyte, gold: "5").extracted)
        XCTAssertEqual(Grader(profile: .qwenEval).grade(response: megabyte, gold: "12").extracted, "12")
    }

    func testPathologicalExpressions() {
        let inputs = [
            String(repeating: "x^", count: 2000) + "2", String(repeating: "\\sqrt{", count: 1000),
            String(repeating: "(", count: 3000), "99999999999999!",
            "(" + String(repeating: "x+", count: 1500) + "x)^{99999}",
            "\\frac{1}{0}", "0^{-1}", "\\sqrt{-1}", "\\log 0",
            "\\begin{pmatrix}" + String(repeating: "1&", count: 500) + "1\\end{pmatrix}",
        ]
        for p in GradingProfile.allCases {
            let g = Grader(profile: p)
            for s in inputs {
                XCTAssertFalse(g.equal(gold: "2", prediction: s), "\(p.rawValue): \(s.prefix(20))")
            }
        }
        // Exact arithmetic is still exact on long sums.
        XCTAssertTrue(Grader().equal(gold: "2001", prediction: String(repeating: "1+", count: 2000) + "1"))
    }

    func testConcurrentGradingIsConsistent() {
        let pairs = [
            ("\\frac{1}{2}", "0.5"), ("12.8", "64/5"), ("(1,2)", "(1,3)"), ("x^2-1", "(x-1)(x+1)"),
            ("C", "\\text{(C)}"),
        ]
        let expected = pairs.map { Grader().equal(gold: $0.0, prediction: $0.1) }
        XCTAssertEqual(expected, [true, true, false, true, true])
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 400)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 400) { k in
            let (g, p) = pairs[k % pairs.count]
            results[k] = Grader(profile: .verity).equal(gold: g, prediction: p)
        }
        for k in 0..<400 { XCTAssertEqual(results[k], expected[k % pairs.count]) }
    }
}
