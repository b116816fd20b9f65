// JSONLines: the one reader of JSON Lines files (training and evaluation sets, prompts files, grader
// cases, tokenize --file) and the one JSON string literal writer. A line is one JSON value; blank
// lines are skipped; CRLF line ends and a UTF-8 byte-order mark are accepted as every other JSONL
// tool accepts them. Every error names the file and the 1-based line (and Foundation's description
// of what is wrong there, without its "data isn't in the correct format" boilerplate).
import Foundation

// MARK: - Errors

/// A JSONL file that cannot be read, or a line that is not valid JSON.
public struct JSONLinesError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The file.
    public var file: String
    /// The 1-based line, when one is at fault.
    public var line: Int?
    /// What is wrong.
    public var detail: String

    /// An error at `line` (nil: the whole file) of `file`.
    public init(file: String, line: Int?, detail: String) {
        self.file = file
        self.line = line
        self.detail = detail
    }

    /// `file:line: detail`.
    public var description: String { line.map { "\(file):\($0): \(detail)" } ?? "\(file): \(detail)" }
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

// MARK: - Reading

/// Reading JSON Lines.
public enum JSONLines {
    /// One non-blank line: its 1-based number and value.
    public struct Line: Sendable, Equatable {
        /// The 1-based line number in the file.
        public var number: Int
        /// The parsed value.
        public var value: JSONValue
    }

    /// Every non-blank line of `url` as a JSON value.
    public static func read(_ url: URL) throws -> [Line] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw JSONLinesError(file: url.path, line: nil, detail: JSONDiagnostics.readProblem(error, path: url.path))
        }
        return try parse(data, file: url.path)
    }

    /// Every non-blank line of `data` (named `file` in errors) as a JSON value.
    public static func parse(_ data: Data, file: String) throws -> [Line] {
        var bytes = data[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var out: [Line] = []
        let decoder = JSONDecoder()
        for (i, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var line = raw
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard String(data: Data(line), encoding: .utf8) != nil else {
                throw JSONLinesError(file: file, line: i + 1, detail: "not valid UTF-8")
            }
            do {
                out.append(Line(number: i + 1, value: try decoder.decode(JSONValue.self, from: Data(line))))
            } catch {
                let why = JSONDiagnostics.syntaxError(in: Data(line)).map {
                    " (" + $0.replacingOccurrences(of: "line 1, ", with: "") + ")"
                }
                throw JSONLinesError(file: file, line: i + 1, detail: "not valid JSON" + (why ?? ""))
            }
        }
        return out
    }
}

// MARK: - Writing

/// The JSON string literal of `text` (RFC 8259: quote, backslash and control characters escaped; other characters as UTF-8).
public func jsonStringLiteral(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
