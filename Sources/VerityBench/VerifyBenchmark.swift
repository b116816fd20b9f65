// The grading throughput benchmark behind `verity bench verify`: single-thread grades per second
// on MATH500-style pairs for each profile, beside a same-run floor (plain byte comparison of the
// same pairs) and the CPU share other processes took meanwhile (from /proc/stat minus this
// process's own time). It measures; it asserts nothing.
import VerityMeasure
import Foundation
import VerityJSON
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityVerify
import VerityLua

// MARK: - Results

/// One profile's figures.
public struct VerifyBenchRow: Sendable, Codable {
    /// Profile name.
    public var profile: String
    /// Bare-answer pairs graded per second (median of the repeats).
    public var pairsPerSecond: Double
    /// Full ~3,000-character responses graded per second (median).
    public var responsesPerSecond: Double
    /// Microseconds per response grade (median).
    public var microsecondsPerResponse: Double
    /// pairsPerSecond / 20,000 (the target).
    public var ratioToTarget: Double
    /// pairsPerSecond / floor (byte-equality comparisons per second of the same pairs, same run).
    public var ratioToFloor: Double
}

/// The whole report.
public struct VerifyBenchReport: Sendable, Codable {
    /// Number of distinct pairs per pass.
    public var pairs: Int
    /// Repeats (medians are reported).
    public var repeats: Int
    /// Byte-equality comparisons per second of the same pairs (the floor).
    public var floorPerSecond: Double
    /// CPU share taken by other processes during the run, 0–1 (nil where /proc/stat is absent).
    public var otherCPUShare: Double?
    /// Per-profile figures.
    public var rows: [VerifyBenchRow]
}

// MARK: - Benchmark

/// Grading throughput benchmark.
public enum VerifyBenchmark {
    /// MATH500-style pairs from a JSONL file with `answer` (and optionally `answer_qwen`): each answer against
    /// itself, against its normalized form, and against a perturbed form.
    public static func pairs(fromJSONL url: URL) throws -> [(gold: String, prediction: String)] {
        var out: [(String, String)] = []
        for line in try JSONLines.read(url) {
            guard case .string(let a)? = line.value["answer"] else {
                throw VerifyBenchError.badLine(file: url.path, line: line.number)
            }
            out.append((a, a))
            if case .string(let q)? = line.value["answer_qwen"] { out.append((a, q)) } else { out.append((a, a)) }
            out.append((a, a + "+1"))
        }
        return out
    }

    /// Run the benchmark: `repeats` passes per profile over `pairs` (bare answers) and over responses built from them.
    public static func run(pairs: [(gold: String, prediction: String)], repeats: Int = 3, minSeconds: Double = 0.3)
        -> VerifyBenchReport
    {
        let filler = String(repeating: "We simplify the expression step by step and check each term. ", count: 48)
        let responses = pairs.map { (filler + "Therefore the answer is $\\boxed{" + $0.prediction + "}$.", $0.gold) }
        let probe = CPUShareProbe()
        var sink = 0
        // Floor: byte equality of the same strings.
        var floors: [Double] = []
        for _ in 0..<repeats {
            floors.append(
                rate(minSeconds) {
                    for p in pairs { if p.gold.utf8.elementsEqual(p.prediction.utf8) { sink &+= 1 } };
                    return pairs.count
                })
        }
        var rows: [VerifyBenchRow] = []
        for profile in GradingProfile.allCases {
            let g = Grader(profile: profile)
            var pr: [Double] = [], rr: [Double] = []
            for _ in 0..<repeats {
                pr.append(
                    rate(minSeconds) {
                        for p in pairs { if g.equal(gold: p.gold, prediction: p.prediction) { sink &+= 1 } };
                        return pairs.count
                    })
                rr.append(
                    rate(minSeconds) {
                        for r in responses { if g.grade(response: r.0, gold: r.1).correct { sink &+= 1 } };
                        return responses.count
                    })
            }
            let p = median(pr), r = median(rr), f = median(floors)
            rows.append(
                VerifyBenchRow(
                    profile: profile.rawValue, pairsPerSecond: p, responsesPerSecond: r,
                    microsecondsPerResponse: 1e6 / r, ratioToTarget: p / 20_000, ratioToFloor: p / f))
        }
        if sink == Int.min { print(sink) }
        return VerifyBenchReport(
            pairs: pairs.count, repeats: repeats, floorPerSecond: median(floors),
            otherCPUShare: probe.otherProcessesShare(), rows: rows)
    }

    /// Items per second of `body` (which returns how many items it did), run for at least `minSeconds`.
    static func rate(_ minSeconds: Double, _ body: () -> Int) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        var n = 0
        var elapsed = 0.0
        repeat {
            n += body()
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < minSeconds
        return Double(n) / elapsed
    }

}

/// Errors of the benchmark's input.
public enum VerifyBenchError: Error, CustomStringConvertible {
    /// A line that is not a JSON object with a string `answer`.
    case badLine(file: String, line: Int)
    /// A readable description naming the file and line.
    public var description: String {
        switch self {
        case .badLine(let f, let l): return "\(f):\(l): expected a JSON object with a string key 'answer'"
        }
    }
}
