// The typed errors the tokenizer raises while loading files. Every message names the file and,
// where it applies, the JSON key or line and the offending value. Encoding and decoding never
// throw: any Swift String is valid input, and unknown ids are skipped as Hugging Face does.
import Foundation
import VerityJSON

// MARK: - Errors

/// A tokenizer file that could not be loaded; the message names the file, the place and the value.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The folder holds neither `tokenizer.json` nor `vocab.json` + `merges.txt` + `tokenizer_config.json`.
    case missingFiles(folder: String, detail: String)
    /// A file could not be read from disk.
    case unreadable(file: String, reason: String)
    /// A file is not valid JSON (or is truncated); `line`/`column` locate the problem.
    case malformedJSON(file: String, line: Int, column: Int, reason: String)
    /// A file holds bytes that are not valid UTF-8.
    case invalidUTF8(file: String, line: Int, column: Int)
    /// A key is missing or has the wrong type or value.
    case invalidValue(file: String, key: String, reason: String)
    /// The file asks for a model, normalizer, pre-tokenizer or decoder this tokenizer does not implement.
    case unsupported(file: String, key: String, value: String)
    /// A merge names a token (or yields a merged token) that is not in the vocabulary; `place` is
    /// `line N` for merges.txt or `model.merges[k]` for tokenizer.json.
    case unknownMergeToken(file: String, place: String, token: String)
    /// A line of `merges.txt` is not two tokens separated by one space.
    case malformedMerge(file: String, line: Int, text: String)

    /// A one-line, human-readable explanation naming the file.
    public var description: String {
        switch self {
        case let .missingFiles(folder, detail):
            return "\(folder): no tokenizer found (\(detail))"
        case let .unreadable(file, reason):
            return "\(file): cannot read file: \(reason)"
        case let .malformedJSON(file, line, column, reason):
            return "\(file):\(line):\(column): malformed JSON: \(reason)"
        case let .invalidUTF8(file, line, column):
            return "\(file):\(line):\(column): invalid UTF-8"
        case let .invalidValue(file, key, reason):
            return "\(file): key \(key): \(reason)"
        case let .unsupported(file, key, value):
            return "\(file): key \(key): unsupported value \(value)"
        case let .unknownMergeToken(file, place, token):
            return "\(file): \(place): merge names token \(token.debugDescription), which is not in the vocabulary"
        case let .malformedMerge(file, line, text):
            return
                "\(file):\(line): malformed merge \(text.debugDescription) (expected two tokens separated by one space)"
        }
    }
}

extension TokenizerError: LocalizedError {
    /// The same text as `description`, for Foundation's error reporting.
    public var errorDescription: String? { description }
}

/// Why reading `path` failed, in plain words (the package's one description: VerityJSON's `JSONDiagnostics`).
func readFailure(_ error: Error, path: String) -> String { JSONDiagnostics.readProblem(error, path: path) }
