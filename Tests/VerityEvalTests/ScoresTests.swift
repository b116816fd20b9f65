// pass@k against the combinatorial definition, avg@k, the default k, reflection words, response
// cutting and the scores of a benchmark from hand-made (fake) graded responses.
import XCTest
import VerityVerify
@testable import VerityEval

final class ScoresTests: XCTestCase {
    /// C(n, k) in Double.
    func choose(_ n: Int, _ k: Int) -> Double {
        guard k >= 0, k <= n else { return 0 }
        var r = 1.0
        for i in 0..<k { r = r * Double(n - i) / Double(i + 1) }
        return r
    }

    func testPassAtKMatchesTheCombinatorialFormula() throws {
        for n in 1...10 {
            for c in 0...n {
                for k in 1...n {
                    let expected = 1 - choose(n - c, k) / choose(n, k)
                    let got = try XCTUnwrap(PassAtK.estimate(n: n, correct: c, k: k))
                    XCTAssertEqual(got, expected, accuracy: 1e-12, "n=\(n) c=\(c) k=\(k)")
                }
            }
        }
        XCTAssertEqual(PassAtK.estimate(n: 8, correct: 2, k: 1), 0.25)
        XCTAssertEqual(PassAtK.estimate(n: 8, correct: 1, k: 8), 1)
        XCTAssertEqual(PassAtK.estimate(n: 8, correct: 0, k: 8), 0)
        XCTAssertNil(PassAtK.estimate(n: 4, correct: 1, k: 5))
        XCTAssertNil(PassAtK.estimate(n: 4, correct: 5, k: 1))
    }

    func testAverageAndDefaultKs() {
        XCTAssertEqual(PassAtK.average([(8, 2), (8, 6)]), 0.5)
        XCTAssertEqual(PassAtK.mean([(8, 0), (8, 8)], k: 4), 0.5)
        XCTAssertNil(PassAtK.average([]))
        XCTAssertEqual(PassAtK.defaultKs(samples: 1), [1])
        XCTAssertEqual(PassAtK.defaultKs(samples: 8), [1, 2, 4, 8])
        XCTAssertEqual(PassAtK.defaultKs(samples: 6), [1, 2, 4, 6])
    }

    func testReflectionWords() {
        XCTAssertTrue(ReflectionWords.uses("Let me Recheck the sum.", words: ReflectionWords.paper))
        XCTAssertTrue(ReflectionWords.uses("rethinking this", words: ReflectionWords.paper))
        XCTAssertFalse(ReflectionWords.uses("I will verify it.", words: ReflectionWords.paper))
        XCTAssertTrue(ReflectionWords.uses("I will verify it.", words: ReflectionWords.default))
        XCTAssertTrue(ReflectionWords.uses("let's double-check", words: ReflectionWords.default))
        XCTAssertFalse(ReflectionWords.uses("prerecheck", words: ["recheck"]), "only at the start of a word")
        XCTAssertFalse(ReflectionWords.uses("no words here", words: ReflectionWords.default))
        XCTAssertFalse(ReflectionWords.uses("anything", words: []))
    }

    func testCutResponse() {
        let stops = EvalSettings().stopStrings
        XCTAssertEqual(cutResponse("x = \\boxed{3}  \n</s>more<|im_end|>", stopStrings: stops), "x = \\boxed{3}")
        XCTAssertEqual(cutResponse("plain \n\n", stopStrings: stops), "plain")
    }

    /// Fake responses to a real AIME24 item (gold 204) graded by the evaluation's grader, then scored.
    func testScoresFromFakeGradedResponses() throws {
        let set = try Support.catalog.load("aime24")
        let item = set.items[0]
        XCTAssertEqual(item.answer, "204")
        let grader = Grader(profile: EvalSettings().grader)
        let texts = [
            "So the walk takes \\boxed{204} minutes. Let me recheck: yes.", "The answer is \\boxed{200}.",
            "no answer at all",
        ]
        let records = texts.enumerated().map { i, t -> ResponseRecord in
            let g = grader.grade(response: t, gold: item.answer)
            return ResponseRecord(
                itemId: item.id, index: 0, sample: i, response: t, extracted: g.extracted, correct: g.correct,
                tokens: 10 * (i + 1), finishReason: i == 2 ? "length" : "stop")
        }
        XCTAssertEqual(records.map(\.correct), [true, false, false])
        XCTAssertEqual(records[0].extracted, "204")
        let p = BenchmarkProtocol(samples: 3, temperature: 0.6, maxTokens: 30)
        let r = BenchmarkResult(
            name: "aime24", protocol: p,
            records: [
                records,
                records.map {
                    var x = $0; x.correct = false; return x
                },
            ],
            ks: [1, 2, 3], reflectionWords: ReflectionWords.paper)
        XCTAssertEqual(r.metric, "avg@3")
        XCTAssertEqual(r.items, 2)
        XCTAssertEqual(r.accuracy, (1.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(r.passAtK["3"] ?? -1, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.passAtK["2"] ?? -1, (2.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(r.meanResponseTokens, 20)
        XCTAssertEqual(r.truncatedFraction, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(r.reflectionRate, 1.0 / 3, accuracy: 1e-12)
        let summary = EvalSummary(model: "m", results: [r])
        let back = try JSONDecoder().decode(EvalSummary.self, from: Data(summary.json().utf8))
        XCTAssertEqual(back, summary)
        XCTAssertTrue(summary.table().contains("aime24"))
        XCTAssertTrue(summary.table().contains("16.7"), summary.table())
    }

    func testProgressLinesAndPrinter() {
        let p = EvalProgress(
            benchmark: "math500", itemsDone: 3, itemsTotal: 10, generatedTokens: 500, elapsed: 2, eta: 200)
        XCTAssertEqual(p.line, "math500  3/10 items  250.0 tokens/s  ETA 3m20s")
        var out: [String] = []
        let printer = ProgressPrinter(terminal: false, interval: 1000) { out.append($0) }
        printer.update(p)
        printer.update(p)
        var done = p
        done.itemsDone = 10
        printer.update(done)
        XCTAssertEqual(out, [p.line + "\n", done.line + "\n"], "plain lines, rate-limited, always the last")
        var tty: [String] = []
        let t = ProgressPrinter(terminal: true, interval: 0) { tty.append($0) }
        t.update(p)
        t.finish()
        XCTAssertEqual(tty, ["\r\u{1B}[K" + p.line, "\n"])
    }
}
