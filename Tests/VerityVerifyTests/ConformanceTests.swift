// Conformance of each grading profile with the reference graders' labels on the shared cases
// (Tests/Fixtures/grader: labels made by Qwen2.5-Eval, math_verify and verl's DeepScaleR, not by us),
// the extraction fixtures, and the `answer_qwen` gold strings of data/eval. The agreement figures
// are printed so they can be copied into docs/verifier.md.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityVerify

/// One labelled case of `cases.jsonl`.
struct Case {
    var id: String, gold: String, prediction: String, kind: AnswerKind, source: String, intent: String
    var labels: [GradingProfile: Bool]
    var qwenPred: String?, qwenGold: String?
}

func loadJSONL(_ relative: String) throws -> [[String: Any]] {
    let text = String(decoding: try Fixtures.data(relative), as: UTF8.self)
    return try text.split(separator: "\n").map { line in
        guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(relative): not an object"])
        }
        return o
    }
}

func loadCases() throws -> [Case] {
    try loadJSONL("grader/cases.jsonl").map { o in
        Case(id: o["id"] as? String ?? "", gold: o["gold"] as? String ?? "", prediction: o["prediction"] as? String ?? "",
             kind: AnswerKind(rawValue: o["kind"] as? String ?? "answer") ?? .answer, source: o["source"] as? String ?? "",
             intent: o["intent"] as? String ?? "",
             labels: [.paper: o["verl_deepscaler"] as? Bool ?? false, .qwenEval: o["qwen_eval"] as? Bool ?? false,
                      .mathVerify: o["math_verify"] as? Bool ?? false],
             qwenPred: o["qwen_pred"] as? String, qwenGold: o["qwen_gold"] as? String)
    }
}

final class ConformanceTests: XCTestCase {
    /// Agreement with a reference (or with `intent` for `verity`), overall and per case source.
    func agreement(_ profile: GradingProfile, _ cases: [Case]) -> (Double, [String: (Int, Int)]) {
        let g = Grader(profile: profile)
        var agree = 0, total = 0
        var bySource: [String: (Int, Int)] = [:]
        for c in cases {
            let truth: Bool
            if profile == .verity {
                guard c.intent != "ambiguous" else { continue }
                truth = c.intent == "equivalent"
            } else if let t = c.labels[profile] { truth = t } else { continue }
            let ok = g.grade(gold: c.gold, prediction: c.prediction, kind: c.kind).correct == truth
            total += 1
            if ok { agree += 1 }
            var s = bySource[c.source] ?? (0, 0)
            s.0 += ok ? 1 : 0; s.1 += 1
            bySource[c.source] = s
        }
        let rate = Double(agree) / Double(max(total, 1))
        let parts = bySource.keys.sorted().map { k in "\(k) \(bySource[k]!.0)/\(bySource[k]!.1)" }.joined(separator: ", ")
        print("AGREEMENT \(profile.rawValue): \(agree)/\(total) = \(String(format: "%.2f", rate * 100))% (\(parts))")
        return (rate, bySource)
    }

    func testPaperProfileMatchesDeepScaleR() throws {
        XCTAssertGreaterThanOrEqual(agreement(.paper, try loadCases()).0, 0.98)
    }

    func testQwenEvalProfileMatchesQwenMathEqual() throws {
        XCTAssertGreaterThanOrEqual(agreement(.qwenEval, try loadCases()).0, 0.95)
    }

    func testMathVerifyProfileMatchesMathVerify() throws {
        XCTAssertGreaterThanOrEqual(agreement(.mathVerify, try loadCases()).0, 0.95)
    }

    func testVerityProfileMatchesIntent() throws {
        XCTAssertGreaterThanOrEqual(agreement(.verity, try loadCases()).0, 0.97)
    }

    /// The reference graders' own agreement with `intent`, for the report (no assertion beyond sanity).
    func testReferenceGradersAgainstIntent() throws {
        let cases = try loadCases().filter { $0.intent != "ambiguous" }
        for p in [GradingProfile.paper, .qwenEval, .mathVerify] {
            let right = cases.filter { $0.labels[p] == ($0.intent == "equivalent") }.count
            print("REFERENCE-VS-INTENT \(p.rawValue): \(right)/\(cases.count) = \(String(format: "%.2f", Double(right) / Double(cases.count) * 100))%")
        }
        XCTAssertEqual(cases.count, 929)
    }

    /// The qwen-eval normalizer reproduces the exact strings `math_equal` compared (`qwen_pred`, `qwen_gold`).
    func testQwenNormalizedStrings() throws {
        let cases = try loadCases()
        var ok = 0, n = 0
        for c in cases where c.kind == .answer {
            guard let qp = c.qwenPred, let qg = c.qwenGold else { continue }
            let gold = QwenEval.gold(wrapBoxed(Bytes(c.gold)))
            let pred = QwenEval.prediction(wrapBoxed(Bytes(c.prediction)), gold: gold)
            n += 1
            if gold.string == qg && pred.string == qp { ok += 1 }
        }
        print("QWEN-STRINGS \(ok)/\(n)")
        XCTAssertGreaterThanOrEqual(Double(ok) / Double(n), 0.99)
    }

    /// Extraction matches each reference extractor on extraction.jsonl.
    func testExtractionMatchesReferences() throws {
        let rows = try loadJSONL("grader/extraction.jsonl")
        var paper = 0, qwen = 0, mv = 0
        for r in rows {
            let resp = r["response"] as? String ?? "", gold = r["gold"] as? String ?? ""
            if Grader(profile: .paper).grade(response: resp, gold: gold).extracted == r["verl_extracted"] as? String { paper += 1 }
            if Grader(profile: .qwenEval).grade(response: resp, gold: gold).extracted == r["qwen_extracted"] as? String { qwen += 1 }
            let ref = r["math_verify_extracted"] as? [String] ?? []
            let got = Grader(profile: .mathVerify).extract(resp)
            if ref.isEmpty ? got == nil : got.map({ $0 == ref[1] || Grader(profile: .mathVerify).equal(gold: ref[1], prediction: $0) }) == true { mv += 1 }
        }
        print("EXTRACTION paper \(paper)/\(rows.count), qwen-eval \(qwen)/\(rows.count), math-verify \(mv)/\(rows.count)")
        XCTAssertEqual(paper, rows.count)
        XCTAssertEqual(qwen, rows.count)
        XCTAssertGreaterThanOrEqual(Double(mv) / Double(rows.count), 0.85)
    }

    /// `answer_qwen` of every data/eval set is `parse_ground_truth` (RULES.md A.6).
    func testQwenGoldAnswersOfEvalSets() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for set in ["aime24", "aime25", "amc23", "math500", "minerva_math", "olympiadbench"] {
            let url = root.appendingPathComponent("data/eval/\(set).jsonl")
            guard let data = try? Data(contentsOf: url) else { XCTFail("missing \(url.path)"); continue }
            var ok = 0, n = 0
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let d = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let want = d["answer_qwen"] as? String else { continue }
                let src: String
                switch set {
                case "math500", "minerva_math": src = d["solution"] as? String ?? ""
                case "olympiadbench": src = (d["final_answer"] as? [String])?.first ?? ""
                case "amc23": src = "\(d["answer_raw"] ?? "")"
                default: src = "\(d["answer"] ?? "")"
                }
                n += 1
                if Grader.qwenEvalGold(src, dataset: set) == want { ok += 1 }
            }
            print("ANSWER_QWEN \(set) \(ok)/\(n)")
            XCTAssertEqual(ok, n, set)
        }
    }
}
