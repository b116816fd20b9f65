// Data selection by historical variance (the paper's section 2; `data/README.md` section 2): each
// example's list of training accuracies (one per time it was drawn) is scored, and examples are
// ranked by score, highest first, ties in the file's key order (a stable sort).
// - std: the population standard deviation (numpy's `std`, ddof 0) of the example's whole list.
// - lim: 1 - sum_i (a_k,i - mean_i)^2 / sum_i (1 - mean_i)^2 over the first m entries, m the shortest
//   list, mean_i the mean over examples of entry i (a LIMR-style score).
// Examples that were never drawn (empty lists) are left out of the ranking (the paper's file has none).
// The history file is a JSON object whose key order matters, so it is read by a small
// order-keeping reader here rather than by JSONValue (whose objects are dictionaries).
import Foundation
import VerityCore
import VerityJSON

/// Ranking methods of `verity select`.
public enum SelectionMethod: String, CaseIterable, Sendable {
    /// Population standard deviation of each example's whole history (the paper's choice).
    case std
    /// LIMR-style alignment with the average learning curve.
    case lim
}

/// Each example's accuracy history, in the file's key order.
public struct AccuracyHistory: Equatable, Sendable {
    /// (key, accuracies) in file order.
    public var entries: [(key: String, values: [Double])]

    /// A history from entries in order.
    public init(entries: [(key: String, values: [Double])]) { self.entries = entries }

    public static func == (a: AccuracyHistory, b: AccuracyHistory) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.values == $1.values }
    }

    /// Reads a history file (`{"key": [numbers], ...}`), keeping the key order.
    public static func read(_ url: URL) throws -> AccuracyHistory {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError("\(url.path): cannot be read: \(error.localizedDescription)")
        }
        return try parse(data, file: url.path)
    }

    /// Parses the text of a history file; errors name `file` and the line.
    public static func parse(_ data: Data, file: String) throws -> AccuracyHistory {
        var p = HistoryParser(bytes: Array(data), file: file)
        return AccuracyHistory(entries: try p.object())
    }

    /// The history as JSON text (keys in order, one example a line).
    public func jsonText() -> String {
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)" }
        let lines = entries.map { e -> String in
            let values: [String] = e.values.map(number)
            return "  " + jsonStringLiteral(e.key) + ": [" + values.joined(separator: ", ") + "]"
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }
}

/// One ranked example.
public struct SelectionScore: Equatable, Sendable {
    /// The example's key in the history file.
    public var key: String
    /// Its score (higher ranks first).
    public var score: Double
}

/// Ranks examples by historical variance.
public enum HistoricalVariance {
    /// Scores every example with a non-empty history and sorts them highest first (stable: ties keep file order).
    public static func rank(_ history: AccuracyHistory, method: SelectionMethod) -> [SelectionScore] {
        let drawn = history.entries.filter { !$0.values.isEmpty }
        var scores: [SelectionScore]
        switch method {
        case .std:
            scores = drawn.map { e in
                let n = Double(e.values.count)
                let mean = e.values.reduce(0, +) / n
                let v = e.values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
                return SelectionScore(key: e.key, score: v.squareRoot())
            }
        case .lim:
            let m = drawn.map(\.values.count).min() ?? 0
            let n = Double(max(drawn.count, 1))
            var mean = [Double](repeating: 0, count: m)
            for e in drawn { for i in 0..<m { mean[i] += e.values[i] } }
            for i in 0..<m { mean[i] /= n }
            let denominator = mean.reduce(0) { $0 + (1 - $1) * (1 - $1) }
            scores = drawn.map { e in
                var s = 0.0
                for i in 0..<m { s += (e.values[i] - mean[i]) * (e.values[i] - mean[i]) }
                return SelectionScore(key: e.key, score: 1 - s / denominator)
            }
        }
        // Stable descending sort: by score, then by file position.
        return scores.enumerated().sorted { a, b in
            a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset
        }.map(\.element)
    }
}

extension HistoricalVariance {
    /// The lines of the JSONL file `data` whose key (the `index` field when it is an integer, else the 0-based line
    /// position, as history.json keys them) is in `keys`, in the order of `keys`, as the file spells them.
    public static func select(keys: [String], from data: URL) throws -> [String] {
        let lines = try JSONLines.read(data)
        let text = try String(contentsOf: data, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        var byKey: [String: String] = [:]
        for (position, line) in lines.enumerated() {
            let key = line.value["index"]?.intValue.map(String.init) ?? String(position)
            byKey[key] = String(text[line.number - 1])
        }
        return try keys.map { key in
            guard let line = byKey[key] else {
                throw TrainingError(
                    "\(data.path): no example with key \(key) (its `index` field, else its line position)")
            }
            return line
        }
    }
}

/// Reads `{"key": [number, ...], ...}` keeping key order; errors name the file and line.
struct HistoryParser {
    let bytes: [UInt8]
    let file: String
    var i = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    func fail(_ what: String) -> TrainingError {
        let line = 1 + bytes[..<min(i, bytes.count)].filter { $0 == UInt8(ascii: "\n") }.count
        return TrainingError("\(file):\(line): \(what) (expected a JSON object of string keys to lists of numbers)")
    }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ c: Character) throws {
        skipSpace()
        guard i < bytes.count, bytes[i] == c.asciiValue else { throw fail("expected '\(c)'") }
        i += 1
    }

    mutating func peek(_ c: Character) -> Bool {
        skipSpace()
        return i < bytes.count && bytes[i] == c.asciiValue
    }

    mutating func string() throws -> String {
        skipSpace()
        let start = i
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        i += 1
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
        guard i < bytes.count else { throw fail("unterminated string") }
        i += 1
        // Escapes are decoded by Foundation's reader on the quoted fragment.
        let fragment = Data(bytes[start..<i])
        guard let s = try? JSONSerialization.jsonObject(with: fragment, options: .fragmentsAllowed) as? String else {
            throw fail("bad string")
        }
        return s
    }

    mutating func number() throws -> Double {
        skipSpace()
        let start = i
        while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
        guard let v = Double(String(decoding: bytes[start..<i], as: UTF8.self)), v.isFinite else {
            throw fail("expected a number")
        }
        return v
    }

    mutating func object() throws -> [(key: String, values: [Double])] {
        try expect("{")
        var out: [(key: String, values: [Double])] = []
        var seen = Set<String>()
        if peek("}") {
            i += 1
        } else {
            while true {
                let key = try string()
                guard seen.insert(key).inserted else { throw fail("key \"\(key)\" appears twice") }
                try expect(":")
                try expect("[")
                var values: [Double] = []
                if peek("]") {
                    i += 1
                } else {
                    while true {
                        values.append(try number())
                        if peek(",") { i += 1; continue }
                        try expect("]")
                        break
                    }
                }
                out.append((key, values))
                if peek(",") { i += 1; continue }
                try expect("}")
                break
            }
        }
        skipSpace()
        guard i == bytes.count else { throw fail("text after the object") }
        return out
    }
}
