// The measurement behind `verity bench tokenizer`: encode the MATH500 problems and solutions,
// repeated to about 10 MB, one document per `encode` call on one thread, and report MB/s and
// tokens/s as medians of repeated runs, with the share of the machine's CPU that other processes
// took during each run (from /proc/stat minus this process's own time; Linux only, nil elsewhere).
// The peer figures come from Scripts/bench/tokenizer_hf.py, which builds the same documents with
// the same rule. No assertions on speed live anywhere: this only measures.
import VerityMeasure
import Foundation

/// Namespace of the tokenizer benchmark (kept off the module's top level so that other modules'
/// benchmark helpers cannot clash with these names).
public enum TokenizerBenchmark {}

// MARK: - Corpus

extension TokenizerBenchmark {
    /// The benchmark documents: `problem` then `solution` of each MATH500 record, in file order,
    /// the whole list repeated until the UTF-8 total reaches `targetBytes`.
    public static func documents(jsonl url: URL, targetBytes: Int) throws -> [String] {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(file: file, reason: error.localizedDescription)
        }
        var base: [String] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A) {
            lineNumber += 1
            let value = try JSONParser(file: "\(file) line \(lineNumber)").parse(Data(line))
            for key in ["problem", "solution"] {
                guard let text = value[key]?.stringValue else {
                    throw TokenizerError.invalidValue(file: file, key: "line \(lineNumber).\(key)", reason: "missing or not a string")
                }
                base.append(text)
            }
        }
        guard !base.isEmpty else { throw TokenizerError.invalidValue(file: file, key: "(lines)", reason: "no records") }
        var docs: [String] = []
        var total = 0
        while total < targetBytes {
            for d in base {
                docs.append(d)
                total += d.utf8.count
            }
        }
        return docs
    }
}

// MARK: - Measurement

extension TokenizerBenchmark {
    /// The figures of one benchmark run.
    public struct Run: Sendable {
        /// Wall-clock seconds to encode every document once.
        public let seconds: Double
        /// Total tokens produced.
        public let tokens: Int
        /// CPU share other processes took during the run (nil when /proc is unavailable).
        public let otherCPUShare: Double?
    }

    /// Encodes all documents once, one `encode` call per document, and times it.
    public static func run(_ tokenizer: Tokenizer, documents: [String]) -> Run {
        let probe = CPUShareProbe()
        var tokens = 0
        for d in documents { tokens += tokenizer.encodeInt32(d).count }
        return Run(seconds: probe.elapsed, tokens: tokens, otherCPUShare: probe.otherProcessesShare())
    }

    /// The median of a list (NaN when empty).
    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
