// `verity bench verify`: single-thread grading throughput per profile on MATH500-style pairs,
// printed as a table or JSON. The measurement lives in VerityBench.VerifyBenchmark.
import VerityBench
import ArgumentParser
import Foundation
import VerityVerify

/// `verity bench verify [--json] [--data FILE] [--repeats N]`.
struct BenchVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Grades per second per profile on MATH500-style pairs (single thread), beside a byte-compare floor."
    )

    @Option(help: "JSONL with an `answer` per line (and optionally `answer_qwen`).") var data: String =
        "data/eval/math500.jsonl"
    @Option(help: "Repeats; medians are reported.") var repeats: Int = 3
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1 (got \(repeats))") }
        let pairs: [(gold: String, prediction: String)]
        do { pairs = try VerifyBenchmark.pairs(fromJSONL: URL(fileURLWithPath: data)) } catch let e as VerifyBenchError
        {
            throw ValidationError(e.description)
        } catch { throw ValidationError("--data: cannot read '\(data)': \(error)") }
        let report = VerifyBenchmark.run(pairs: pairs, repeats: repeats)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        print(
            "pairs \(report.pairs), repeats \(report.repeats), floor \(Int(report.floorPerSecond)) compares/s, other CPU \(report.otherCPUShare.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a")"
        )
        for r in report.rows {
            print(
                String(
                    format: "%-12@ %9.0f pairs/s (x%.2f of 20k target)  %9.0f responses/s  %6.1f us/response",
                    r.profile as NSString, r.pairsPerSecond, r.ratioToTarget, r.responsesPerSecond,
                    r.microsecondsPerResponse))
        }
    }
}
