// `verity tokenize` and `verity detokenize`: thin wrappers over VerityTokenizer. They parse flags,
// call `Tokenizer.encode` / `decode` and print; all logic lives in the library.
import VerityJSON
import ArgumentParser
import Foundation
import VerityTokenizer

/// `verity tokenize --tokenizer DIR (--text TEXT | --file FILE) [--json]`.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text to token ids with a Hugging Face tokenizer folder.",
        discussion: """
            --text prints the ids separated by commas (with --json: {"ids":[...]}). --file reads one JSON \
            string per line and prints one JSON object {"ids":[...]} per line.
            """)

    @Option(help: "Folder holding tokenizer.json, or vocab.json + merges.txt + tokenizer_config.json.")
    var tokenizer: String

    @Option(help: "The text to encode.")
    var text: String?

    @Option(help: "A file with one JSON string per line.")
    var file: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Encode special-token strings such as <|im_end|> as plain text.")
    var plainSpecialTokens = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text and --file") }
    }

    func run() throws {
        let tok = try VerityTokenizer.Tokenizer(folder: URL(fileURLWithPath: tokenizer))
        let mode: SpecialTokenHandling = plainSpecialTokens ? .plainText : .parse
        if let text {
            let ids = tok.encode(text, specialTokens: mode)
            print(json ? VerityTokenizer.Tokenizer.idsJSONLine(ids) : ids.map(String.init).joined(separator: ","))
        } else if let file {
            for ids in try tok.encodeJSONLines(URL(fileURLWithPath: file), specialTokens: mode) {
                print(VerityTokenizer.Tokenizer.idsJSONLine(ids))
            }
        }
    }
}

/// `verity detokenize --tokenizer DIR --ids 1,2,3`.
struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode comma-separated token ids to text.")

    @Option(help: "Folder holding tokenizer.json, or vocab.json + merges.txt + tokenizer_config.json.")
    var tokenizer: String

    @Option(help: "Comma-separated token ids, e.g. 9707,1879.")
    var ids: String

    @Flag(help: "Leave special tokens out of the text.")
    var skipSpecialTokens = false

    @Flag(help: "Print {\"text\": ...} instead of the raw text.")
    var json = false

    func run() throws {
        var list: [Int] = []
        for part in ids.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let id = Int(trimmed), id >= 0 else {
                throw ValidationError("--ids: \(trimmed.debugDescription) is not a non-negative integer")
            }
            list.append(id)
        }
        let tok = try VerityTokenizer.Tokenizer(folder: URL(fileURLWithPath: tokenizer))
        if let bad = list.first(where: { $0 >= tok.vocabularySize }) {
            throw ValidationError(
                "--ids: token id \(bad) is outside the vocabulary 0..<\(tok.vocabularySize) of \(tokenizer)")
        }
        let text = tok.decode(list, skipSpecialTokens: skipSpecialTokens)
        print(json ? "{\"text\":\(jsonStringLiteral(text))}" : text)
    }
}
