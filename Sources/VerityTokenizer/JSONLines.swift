// Helpers behind `verity tokenize --file`: read a file holding one JSON string per line (through the
// package's one JSONL reader, VerityJSON.JSONLines: CRLF, BOM, line-numbered errors) and write
// ids as one JSON object per line. Kept in the library so tests can drive the CLI contract
// directly; the command-line file only parses flags and prints.
import Foundation
import VerityJSON

// MARK: - JSON lines

extension Tokenizer {
    /// Encodes each line of `url` (a JSON string per line; blank lines are skipped) and returns the ids per line.
    public func encodeJSONLines(_ url: URL, specialTokens: SpecialTokenHandling = .parse) throws -> [[Int]] {
        let file = url.path
        var results: [[Int]] = []
        for line in try VerityJSON.JSONLines.read(url) {
            let lineNumber = line.number, value = line.value
            guard case .string(let text) = value else {
                throw TokenizerError.invalidValue(
                    file: file, key: "line \(lineNumber)", reason: "expected a JSON string, found \(kindName(value))")
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
}

/// "a string", "an object", ... for messages.
func kindName(_ v: VerityJSON.JSONValue) -> String {
    switch v {
    case .null: return "null"
    case .bool: return "a boolean"
    case .integer, .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
}
