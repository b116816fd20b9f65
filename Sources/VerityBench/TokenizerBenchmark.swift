// The measurement behind `verity bench tokenizer`: encode the MATH500 problems and solutions,
// repeated to about 10 MB, one document per `encode` call on one thread, and report MB/s and
// tokens/s as medians of repeated runs, with the share of the machine's CPU that other processes
// took during each run (from /proc/stat minus this process's own time; Linux only, nil elsewhere).
// The peer figures come from Scripts/bench/tokenizer_hf.py, which builds the same documents with
// the same rule. No assertions on speed live anywhere: this only measures.
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityVerify
import VerityLua

/// Namespace of the tokenizer benchmark (kept off the module's top level so that other modules'
/// benchmark helpers cannot clash with these names).
public enum TokenizerBenchmark {}

// MARK: - Corpus

extension TokenizerBenchmark {
    /// The benchmark documents: `problem` then `solution` of each MATH500 record, in file order,
    /// the whole list repeated until the UTF-8 total reaches `targetBytes`.
    public static func documents(jsonl url: URL, targetBytes: Int) throws -> [String] {
        let file = url.path
        var base: [String] = []
        for line in try JSONLines.read(url) {
            for key in ["problem", "solution"] {
                guard case .object(let o) = line.value, case .string(let text)? = o[key] else {
                    throw JSONLinesError(file: file, line: line.number, detail: "\(key): missing or not a string")
                }
                base.append(text)
            }
        }
        guard !base.isEmpty else { throw JSONLinesError(file: file, line: nil, detail: "no records") }
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

}
