// Helpers behind `verity tokenize --file`: read a file holding one JSON string per line and write
// ids as one JSON object per line. Kept in the library so tests can drive the CLI contract
// directly; the command-line file only parses flags and prints.
import Foundation

// MARK: - JSON lines

extension Tokenizer {
    /// Encodes each line of `url` (a JSON string per line; blank lines are skipped) and returns the ids per line.
    public func encodeJSONLines(_ url: URL, specialTokens: SpecialTokenHandling = .parse) throws -> [[Int]] {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(file: file, reason: readFailure(error, path: file))
        }
        var results: [[Int]] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let value: JSONValue
            do {
                value = try JSONParser(file: "\(file) line \(lineNumber)").parse(Data(line))
            } catch let error as TokenizerError {
                // Report the line of the file rather than the line inside the one-line document.
                if case let .malformedJSON(_, _, column, reason) = error {
                    throw TokenizerError.malformedJSON(file: file, line: lineNumber, column: column, reason: reason)
                }
                if case let .invalidUTF8(_, _, column) = error {
                    throw TokenizerError.invalidUTF8(file: file, line: lineNumber, column: column)
                }
                throw error
            }
            guard let text = value.stringValue else {
                throw TokenizerError.invalidValue(file: file, key: "line \(lineNumber)", reason: "expected a JSON string, found \(value.kindName)")
            }
            results.append(encode(text, specialTokens: specialTokens))
        }
        return results
    }
}

extension Tokenizer {
    /// One JSON object line `{"ids":[…]}` for a list of ids.
    public static func idsJSONLine(_ ids: [Int]) -> String {
        "{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}"
    }

    /// A JSON string literal for `text` (RFC 8259 escapes; non-ASCII written as UTF-8).
    public static func jsonStringLiteral(_ text: String) -> String {
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
}
