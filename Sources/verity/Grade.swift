// `verity grade`: grade one (gold, prediction) pair, or a JSONL file of pairs, with a grading
// profile. A thin layer over VerityVerify: flag parsing, JSON in and out, nothing else.
import ArgumentParser
import Foundation
import VerityJSON
import VerityVerify

/// `verity grade --gold G --pred P [--profile NAME] [--json]` or `verity grade --cases FILE.jsonl [--profile NAME]`.
struct GradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grade",
        abstract: "Grade a prediction against a gold answer (or a JSONL file of pairs) with a grading profile.",
        discussion: """
            Profiles: paper (the paper's training reward, DeepScaleR in verl), qwen-eval (Qwen2.5-Eval math_equal, \
            the paper's evaluation), math-verify, verity (default). With --cases, each input line holds "gold" and \
            "prediction" and optionally "kind" ("answer": bare answers, the default; "raw": text to extract from); \
            each output line is {"equal": Bool, "extracted": String|null}, in input order.
            """
    )

    @Option(parsing: .unconditional, help: "The gold answer.") var gold: String?
    @Option(
        name: .customLong("pred"), parsing: .unconditional,
        help: "The prediction (a bare answer, or a full response with --raw).") var prediction: String?
    @Option(help: "A JSONL file of {\"gold\", \"prediction\", \"kind\"?} objects.") var cases: String?
    @Option(help: "Grading profile: paper, qwen-eval, math-verify or verity.") var profile: String = "verity"
    @Flag(help: "Treat --pred as a full response to extract the answer from.") var raw = false
    @Flag(help: "Print a JSON object instead of true/false.") var json = false

    func run() throws {
        guard let prof = GradingProfile(rawValue: profile) else {
            throw ValidationError(
                "--profile: unknown profile '\(profile)' (expected one of \(GradingProfile.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        let grader = Grader(profile: prof)
        if let path = cases {
            try gradeFile(path, grader)
            return
        }
        guard let g = gold, let p = prediction else {
            throw ValidationError("give --gold and --pred, or --cases FILE.jsonl")
        }
        let r = grader.grade(gold: g, prediction: p, kind: raw ? .raw : .answer)
        if json { print(Self.jsonLine(r)) } else { print(r.correct ? "true" : "false") }
    }

    /// Grade every line of a JSONL file, printing one JSON object per line in input order.
    func gradeFile(_ path: String, _ grader: Grader) throws {
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.read(URL(fileURLWithPath: path)) } catch {
            throw ValidationError("--cases: \(error)")
        }
        var out = ""
        for line in lines {
            let lineNo = line.number
            guard case .object(let obj) = line.value else {
                throw ValidationError("\(path):\(lineNo): not a JSON object")
            }
            guard case .string(let g)? = obj["gold"] else {
                throw ValidationError("\(path):\(lineNo): key 'gold' missing or not a string")
            }
            guard case .string(let p)? = obj["prediction"] else {
                throw ValidationError("\(path):\(lineNo): key 'prediction' missing or not a string")
            }
            var kind = AnswerKind.answer
            if let k = obj["kind"] {
                guard case .string(let ks) = k, let kk = AnswerKind(rawValue: ks) else {
                    throw ValidationError(
                        "\(path):\(lineNo): key 'kind' has value '\(k)' (expected \"answer\" or \"raw\")")
                }
                kind = kk
            }
            out += Self.jsonLine(grader.grade(gold: g, prediction: p, kind: kind)) + "\n"
            if out.utf8.count > 1 << 16 { print(out, terminator: ""); out = "" }
        }
        print(out, terminator: "")
    }

    /// `{"equal": ..., "extracted": ...}`.
    static func jsonLine(_ r: VerityVerify.Grade) -> String {
        let ext: Any = r.extracted ?? NSNull()
        let obj: [String: Any] = ["equal": r.correct, "extracted": ext]
        guard let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}
