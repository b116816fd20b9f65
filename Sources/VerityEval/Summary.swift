// Summary: the numbers an evaluation reports, computed from the graded responses alone (so a resumed
// run and an uninterrupted one give the same table): per benchmark the accuracy (avg@K, = pass@1 for
// greedy), pass@k for several k, mean response tokens, the share of responses cut by the token limit
// and the reflection rate; the unweighted average over benchmarks (Qwen2.5-Eval's "avg" column); a
// per-subject and per-level breakdown for sets whose items carry `subject` / `level` (MATH500). Also
// the JSON object of `verity eval --json` and the plain-text table. Not here: sampling or grading.
import Foundation
import VerityJSON

// MARK: - Responses

/// One graded response, as a line of `<out>/<set>/responses.jsonl`.
public struct ResponseRecord: Codable, Sendable, Equatable {
    /// The item's id.
    public var itemId: String
    /// The item's 0-based index in the set.
    public var index: Int
    /// The sample's index among the item's samples.
    public var sample: Int
    /// The response text (cut at the first stop string, trailing white space removed).
    public var response: String
    /// The answer the grader extracted (nil: none found).
    public var extracted: String?
    /// Whether the grader judged it correct.
    public var correct: Bool
    /// New tokens generated (a final stop token included).
    public var tokens: Int
    /// "stop" (EOS, stop token or string) or "length" (the token limit).
    public var finishReason: String

    /// A record.
    public init(
        itemId: String, index: Int, sample: Int, response: String, extracted: String?, correct: Bool, tokens: Int,
        finishReason: String
    ) {
        self.itemId = itemId
        self.index = index
        self.sample = sample
        self.response = response
        self.extracted = extracted
        self.correct = correct
        self.tokens = tokens
        self.finishReason = finishReason
    }

    enum CodingKeys: String, CodingKey {
        case itemId = "item_id", index, sample, response, extracted, correct, tokens, finishReason = "finish_reason"
    }
}

// MARK: - Per-benchmark result

/// The scores of one benchmark.
public struct BenchmarkResult: Codable, Sendable, Equatable {
    /// The benchmark's name (the key it is filed under; not repeated inside the JSON object).
    public var name: String
    /// How `accuracy` is reported ("pass@1" greedy, "avg@8" for 8 samples).
    public var metric: String
    /// Mean over items of the share of correct samples (0–1).
    public var accuracy: Double
    /// Items scored.
    public var items: Int
    /// Samples per item.
    public var samplesPerItem: Int
    /// Unbiased pass@k by k (as text keys, "1", "8").
    public var passAtK: [String: Double]
    /// Mean new tokens per response.
    public var meanResponseTokens: Double
    /// Share of responses that hit the token limit.
    public var truncatedFraction: Double
    /// Share of responses that use a self-reflection word (ReflectionWords).
    public var reflectionRate: Double
    /// Sampling temperature used.
    public var temperature: Double
    /// New-token limit used.
    public var maxTokens: Int
    /// `accuracy` of the same responses under other grading profiles, by profile name (`EvalSettings.alsoGrade`);
    /// nil when none was asked for.
    public var accuracyByGrader: [String: Double]? = nil

    enum CodingKeys: String, CodingKey {
        case metric, accuracy, items, samplesPerItem = "samples_per_item", passAtK = "pass_at_k"
        case meanResponseTokens = "mean_response_tokens", truncatedFraction = "truncated_fraction", reflectionRate =
            "reflection_rate"
        case temperature, maxTokens = "max_tokens"
        case accuracyByGrader = "accuracy_by_grader"
    }

    /// Decodes a result; `name` is set by the summary that holds it.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = ""
        metric = try c.decode(String.self, forKey: .metric)
        accuracy = try c.decode(Double.self, forKey: .accuracy)
        items = try c.decode(Int.self, forKey: .items)
        samplesPerItem = try c.decode(Int.self, forKey: .samplesPerItem)
        passAtK = try c.decode([String: Double].self, forKey: .passAtK)
        meanResponseTokens = try c.decode(Double.self, forKey: .meanResponseTokens)
        truncatedFraction = try c.decode(Double.self, forKey: .truncatedFraction)
        reflectionRate = try c.decode(Double.self, forKey: .reflectionRate)
        temperature = try c.decode(Double.self, forKey: .temperature)
        maxTokens = try c.decode(Int.self, forKey: .maxTokens)
        accuracyByGrader = try c.decodeIfPresent([String: Double].self, forKey: .accuracyByGrader)
    }

    /// Scores `items` from their records (each item's samples, in item order); `ks` are the k of pass@k (those ≤ the samples).
    public init(
        name: String, protocol p: BenchmarkProtocol, records: [[ResponseRecord]], ks: [Int], reflectionWords: [String]
    ) {
        self.name = name
        metric = p.metric
        temperature = p.temperature
        maxTokens = p.maxTokens
        items = records.count
        samplesPerItem = p.samples
        let counts = records.map { (n: $0.count, correct: $0.filter(\.correct).count) }
        accuracy = PassAtK.average(counts) ?? 0
        var pk: [String: Double] = [:]
        for k in ks where k <= p.samples { pk[String(k)] = PassAtK.mean(counts, k: k) ?? 0 }
        passAtK = pk
        let all = records.flatMap { $0 }
        let total = Double(max(1, all.count))
        meanResponseTokens = Double(all.reduce(0) { $0 + $1.tokens }) / total
        truncatedFraction = Double(all.filter { $0.finishReason == "length" }.count) / total
        reflectionRate = Double(all.filter { ReflectionWords.uses($0.response, words: reflectionWords) }.count) / total
    }
}

// MARK: - Breakdown

/// Accuracy by subject and by level (MATH500's `subject` and `level` fields).
public struct Breakdown: Codable, Sendable, Equatable {
    /// One group's score.
    public struct Cell: Codable, Sendable, Equatable {
        /// Mean over the group's items of the share of correct samples.
        public var accuracy: Double
        /// Items in the group.
        public var items: Int
    }
    /// By `subject` (items without one are left out).
    public var bySubject: [String: Cell]
    /// By `level` (items without one are left out).
    public var byLevel: [String: Cell]

    enum CodingKeys: String, CodingKey { case bySubject = "by_subject", byLevel = "by_level" }

    /// The breakdown of `items` (in the order of `records`); nil when no item has a subject or a level.
    public init?(items: [BenchmarkItem], records: [[ResponseRecord]]) {
        guard items.contains(where: { $0.subject != nil || $0.level != nil }) else { return nil }
        func group(_ key: (BenchmarkItem) -> String?) -> [String: Cell] {
            var counts: [String: [(n: Int, correct: Int)]] = [:]
            for (item, recs) in zip(items, records) {
                guard let k = key(item) else { continue }
                counts[k, default: []].append((recs.count, recs.filter(\.correct).count))
            }
            return counts.mapValues { Cell(accuracy: PassAtK.average($0) ?? 0, items: $0.count) }
        }
        bySubject = group(\.subject)
        byLevel = group(\.level)
    }
}

// MARK: - Summary

/// The result of one evaluation: the model and every benchmark's scores, with their unweighted average.
public struct EvalSummary: Codable, Sendable, Equatable {
    /// The model folder (absolute path).
    public var model: String
    /// Each benchmark's result, in the order evaluated.
    public var results: [BenchmarkResult]

    /// A summary.
    public init(model: String, results: [BenchmarkResult]) {
        self.model = model
        self.results = results
    }

    /// The unweighted mean of the benchmarks' accuracies (nil for none).
    public var average: Double? { results.isEmpty ? nil : results.map(\.accuracy).reduce(0, +) / Double(results.count) }

    /// The result filed under `name`.
    public func result(_ name: String) -> BenchmarkResult? { results.first { $0.name == name } }

    enum CodingKeys: String, CodingKey { case model, benchmarks, average }

    /// Reads `{"model", "benchmarks": {name: result}, "average"}` (results sorted by name).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        let map = try c.decode([String: BenchmarkResult].self, forKey: .benchmarks)
        results = map.keys.sorted().compactMap { k in
            map[k].map {
                var r = $0; r.name = k; return r
            }
        }
    }

    /// Writes `{"model", "benchmarks": {name: result}, "average"}`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }), forKey: .benchmarks)
        try c.encode(average, forKey: .average)
    }

    /// The JSON text (keys sorted, one object, no trailing newline).
    public func json(pretty: Bool = false) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(self) else { preconditionFailure("a summary of finite numbers encodes") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The plain-text table: one row per benchmark (scores ×100, one decimal) and the average.
    public func table() -> String {
        let header = [
            "benchmark", "metric", "accuracy", "pass@k", "items", "samples", "tokens", "truncated", "reflection",
        ]
        var rows: [[String]] = []
        for r in results {
            let ks = r.passAtK.keys.compactMap(Int.init).sorted().filter { $0 > 1 }
            let pk = ks.isEmpty ? "-" : ks.map { "@\($0) " + pct(r.passAtK[String($0)] ?? 0) }.joined(separator: " ")
            rows.append([
                r.name, r.metric, pct(r.accuracy), pk, String(r.items), String(r.samplesPerItem),
                String(format: "%.1f", r.meanResponseTokens), pct(r.truncatedFraction) + "%",
                pct(r.reflectionRate) + "%",
            ])
        }
        rows.append(["average", "", average.map(pct) ?? "-", "", "", "", "", "", ""])
        // The same responses under the other graders asked for (--also-grade), a line per benchmark.
        let also = results.compactMap { r -> String? in
            guard let by = r.accuracyByGrader, !by.isEmpty else { return nil }
            return "\(r.name) graded by " + by.keys.sorted().map { "\($0) \(pct(by[$0]!))" }.joined(separator: ", ")
        }
        return "model: \(model)\n" + formatTable(header: header, rows: rows, rightAligned: [2, 4, 5, 6, 7, 8])
            + (also.isEmpty ? "" : "\n" + also.joined(separator: "\n"))
    }
}

/// x×100 with one decimal (Qwen2.5-Eval's rounding of scores).
func pct(_ x: Double) -> String { String(format: "%.1f", x * 100) }

/// Columns padded to their widest cell; `rightAligned` column indices are padded on the left.
func formatTable(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, s in
            let pad = String(repeating: " ", count: max(0, widths[i] - s.count))
            return rightAligned.contains(i) ? pad + s : s + pad
        }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    return all.map(line).joined(separator: "\n") + "\n"
}
