// PromptsFile: reads the prompts of `verity generate --prompts FILE.jsonl` (one JSON object per
// line with `prompt_ids`, a list of token ids) and parses `--prompt-ids 1,2,3`. Text prompts
// (`prompt`) need the tokenizer, which the caller supplies; without one they are an error naming
// the file and line. It does not apply chat templates.
import Foundation
import VerityJSON

// MARK: - Prompt input

/// Readers for prompt token ids given on the command line or in a JSONL file.
public enum PromptInput {
    /// Parses "1,2,3" (spaces allowed) into token ids; `flag` names the source in errors.
    public static func parseIds(_ text: String, flag: String = "--prompt-ids") throws -> [Int32] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts != [""] else {
            throw SamplingError.badParameter(name: flag, value: "'\(text)'", detail: "no token ids")
        }
        if let k = parts.firstIndex(of: "") {
            throw SamplingError.badParameter(
                name: flag, value: "'\(text)'", detail: "item \(k + 1) of \(parts.count) is empty")
        }
        return try parts.map { p in
            guard let v = Int32(p), v >= 0 else {
                throw SamplingError.badParameter(
                    name: flag, value: "'\(p)'", detail: "not a non-negative integer token id")
            }
            return v
        }
    }

    /// Reads `prompt_ids` (or `prompt` text through `tokenize`) from each non-blank line of a JSONL file.
    public static func readJSONL(_ url: URL, tokenize: ((String) throws -> [Int32])? = nil) throws -> [[Int32]] {
        let file = url.path
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.read(url) } catch let e as JSONLinesError {
            throw SamplingError.badFile(file: file, line: e.line, detail: e.detail)
        }
        var out: [[Int32]] = []
        for line in lines {
            let n = line.number
            guard case .object(let obj) = line.value else {
                throw SamplingError.badFile(file: file, line: n, detail: "not a JSON object")
            }
            if let ids = obj["prompt_ids"] {
                guard case .array(let arr) = ids, !arr.isEmpty else {
                    throw SamplingError.badFile(
                        file: file, line: n, detail: "prompt_ids must be a non-empty list of token ids")
                }
                out.append(
                    try arr.map { e in
                        guard case .integer(let i) = e, let v = Int32(exactly: i), v >= 0 else {
                            throw SamplingError.badFile(
                                file: file, line: n, detail: "prompt_ids: \(e) is not a token id")
                        }
                        return v
                    })
            } else if case .string(let text)? = obj["prompt"] {
                guard let tokenize else {
                    throw SamplingError.badFile(
                        file: file, line: n, detail: "text prompts need the tokenizer; give prompt_ids")
                }
                out.append(try tokenize(text))
            } else {
                throw SamplingError.badFile(file: file, line: n, detail: "needs a prompt_ids list (or prompt text)")
            }
        }
        guard !out.isEmpty else { throw SamplingError.badFile(file: file, line: nil, detail: "no prompts") }
        return out
    }
}
