// Benchmarks: the evaluation sets and the paper's protocol for each. A set is a JSONL file (one
// object per line with `problem` and `answer`, optional `id`, `subject`, `level`; data/README.md §3);
// the catalog is a folder of such files (data/eval/), each named by its file stem, and a path to any
// .jsonl file works as a benchmark too. `BenchmarkProtocol.paper(for:)` gives Qwen2.5-Eval's settings
// (data/README.md §5): greedy for math500, minerva_math and olympiadbench; 8 samples at temperature 0.6
// for aime24, amc23 and aime25 (reported as avg@8); 3,072 new tokens at most. Not here: sampling,
// grading or scores (Evaluator.swift, PassAtK.swift).
import Foundation
import VerityJSON
import VerityLua

// MARK: - Items and sets

/// One problem of a benchmark set.
public struct BenchmarkItem: Sendable, Equatable {
    /// The item's id (the line's `id`, else `<set>-<index>`); unique within the set.
    public var id: String
    /// 0-based position among the set's items (the sampler's prompt index for this item).
    public var index: Int
    /// The 1-based line in the set file.
    public var line: Int
    /// The question text (`problem`).
    public var problem: String
    /// The gold answer (`answer`, a string or a number as written).
    public var answer: String
    /// `subject` when the line has one (MATH500).
    public var subject: String?
    /// `level` when the line has one (MATH500; integers written as text).
    public var level: String?
    /// The whole line, as the prompt plugin sees it.
    public var example: JSONValue
}

/// A benchmark set read from its file.
public struct BenchmarkSet: Sendable {
    /// The name results are filed under (the file stem).
    public var name: String
    /// The file.
    public var url: URL
    /// Every item, in file order.
    public var items: [BenchmarkItem]

    /// Reads and checks a set file: each non-blank line a JSON object with a non-blank `problem` string and a
    /// non-blank `answer` (string or number), ids unique; errors name the file, line and key.
    public static func load(name: String, url: URL) throws -> BenchmarkSet {
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.read(url) } catch let e as JSONLinesError {
            throw EvalError.badSet(file: e.file, line: e.line, key: nil, detail: e.detail)
        }
        var items: [BenchmarkItem] = []
        var seen: [String: Int] = [:]
        for line in lines {
            let file = url.path
            guard case .object(let fields) = line.value else {
                throw EvalError.badSet(
                    file: file, line: line.number, key: nil, detail: "expected a JSON object, found \(line.value)")
            }
            guard case .string(let problem)? = fields["problem"], !problem.allSatisfy(\.isWhitespace) else {
                throw EvalError.badSet(
                    file: file, line: line.number, key: "problem",
                    detail: fields["problem"].map { "expected a non-blank string, found \($0)" } ?? "missing")
            }
            let answer: String
            switch fields["answer"] {
            case .string(let s)? where !s.allSatisfy(\.isWhitespace): answer = s
            case .integer(let i)?: answer = String(i)
            case .number(let d)?: answer = JSONValue.number(d).text
            case nil:
                throw EvalError.badSet(
                    file: file, line: line.number, key: "answer", detail: "missing: the item has no gold answer")
            case let other?:
                throw EvalError.badSet(
                    file: file, line: line.number, key: "answer",
                    detail: "expected a non-blank string or a number, found \(other)")
            }
            let index = items.count
            var id = "\(name)-\(index)"
            if let v = fields["id"] {
                switch v {
                case .string(let s) where !s.isEmpty: id = s
                case .integer(let i): id = String(i)
                default:
                    throw EvalError.badSet(
                        file: file, line: line.number, key: "id",
                        detail: "expected a non-empty string or an integer, found \(v)")
                }
            }
            if let first = seen[id] {
                throw EvalError.badSet(
                    file: file, line: line.number, key: "id", detail: "\"\(id)\" was already used on line \(first)")
            }
            seen[id] = line.number
            items.append(
                BenchmarkItem(
                    id: id, index: index, line: line.number, problem: problem, answer: answer,
                    subject: fields["subject"]?.stringValue, level: fields["level"].map { $0.text },
                    example: line.value))
        }
        guard !items.isEmpty else {
            throw EvalError.badSet(file: url.path, line: nil, key: nil, detail: "no items (the file is empty)")
        }
        return BenchmarkSet(name: name, url: url, items: items)
    }
}

// MARK: - Catalog

/// The benchmark sets shipped in a folder (data/eval/), each named by its file stem.
public struct BenchmarkCatalog: Sendable {
    /// The folder.
    public var directory: URL

    /// The paper's six benchmarks, in the paper's column order.
    public static let paperBenchmarks = ["math500", "aime24", "amc23", "minerva_math", "olympiadbench", "aime25"]

    /// A catalog over `directory`.
    public init(directory: URL) { self.directory = directory }

    /// The names of the sets in the folder (stems of its .jsonl files), sorted; empty when the folder is missing.
    public var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.map { String($0.dropLast(6)) }.sorted()
    }

    /// The (name, file) of a benchmark given by name (a set in the folder) or by path (a .jsonl file, named by its stem).
    public func resolve(_ nameOrPath: String) throws -> (name: String, url: URL) {
        let known = names
        if known.contains(nameOrPath) { return (nameOrPath, directory.appendingPathComponent(nameOrPath + ".jsonl")) }
        if nameOrPath.hasSuffix(".jsonl") || nameOrPath.contains("/") {
            let url = URL(fileURLWithPath: nameOrPath).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw EvalError.badSet(file: nameOrPath, line: nil, key: nil, detail: "no such file")
            }
            var name = url.lastPathComponent
            if name.hasSuffix(".jsonl") { name = String(name.dropLast(6)) }
            return (name, url)
        }
        throw EvalError.unknownBenchmark(
            name: nameOrPath, catalog: directory.path, known: known, suggestion: nearestName(nameOrPath, among: known))
    }

    /// Resolves and reads a benchmark.
    public func load(_ nameOrPath: String) throws -> BenchmarkSet {
        let (name, url) = try resolve(nameOrPath)
        return try BenchmarkSet.load(name: name, url: url)
    }
}

// MARK: - Protocol

/// How one benchmark is sampled and scored.
public struct BenchmarkProtocol: Sendable, Equatable, Codable {
    /// Samples per item (the k of avg@k).
    public var samples: Int
    /// Sampling temperature (0: greedy).
    public var temperature: Double
    /// Top-p (1: off).
    public var topP: Double
    /// The most new tokens per sample.
    public var maxTokens: Int

    /// A protocol.
    public init(samples: Int, temperature: Double, topP: Double = 1, maxTokens: Int) {
        self.samples = samples
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
    }

    /// The sets Qwen2.5-Eval samples 8 times at temperature 0.6 (it repeats their rows 8×: aime24x8, amc23x8, aime25x8).
    public static let sampledBenchmarks: Set<String> = ["aime24", "amc23", "aime25"]

    /// The paper's protocol for a set (data/README.md §5): 8 samples at 0.6 for aime24/amc23/aime25, greedy otherwise
    /// (math500, minerva_math, olympiadbench and any custom set); 3,072 new tokens; top-p 1.
    public static func paper(for name: String) -> BenchmarkProtocol {
        sampledBenchmarks.contains(name)
            ? BenchmarkProtocol(samples: 8, temperature: 0.6, maxTokens: 3072)
            : BenchmarkProtocol(samples: 1, temperature: 0, maxTokens: 3072)
    }

    /// How the accuracy is reported: "avg@K" for several samples, "pass@1" for one.
    public var metric: String { samples > 1 ? "avg@\(samples)" : "pass@1" }

    /// Checks the ranges; errors name the flag.
    public func validate() throws {
        guard samples >= 1 else {
            throw EvalError.badSetting(name: "--samples", value: "\(samples)", detail: "must be ≥ 1")
        }
        guard temperature >= 0, temperature.isFinite else {
            throw EvalError.badSetting(
                name: "--temperature", value: "\(temperature)", detail: "must be ≥ 0 (0 = greedy)")
        }
        guard topP > 0, topP <= 1 else {
            throw EvalError.badSetting(name: "--top-p", value: "\(topP)", detail: "must be in (0, 1]")
        }
        guard maxTokens >= 1 else {
            throw EvalError.badSetting(name: "--max-tokens", value: "\(maxTokens)", detail: "must be ≥ 1")
        }
    }

    enum CodingKeys: String, CodingKey {
        case samples, temperature, topP = "top_p", maxTokens = "max_tokens"
    }
}
