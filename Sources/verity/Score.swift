// `verity score --model MODEL_DIR --ids 12,7,99 [--json]`: per-token log-probs of a token sequence
// and the last position's logits. Parsing and printing only; the work is VerityModel.ModelScoring.
import ArgumentParser
import Foundation
import VerityModel

/// `verity score --model DIR --ids A,B,C [--json]`.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-token log-probs and last logits of a token id sequence.")

    @Option(help: "The model folder.") var model: String
    @Option(help: "Comma-separated token ids, e.g. 12,7,99.") var ids: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let tokens = try ModelScoring.parseIDs(ids)
        let m = try TransformerModel.load(directory: URL(fileURLWithPath: model))
        _ = try ModelScoring.parseIDs(ids, vocabularySize: m.config.vocabSize)
        try m.config.checkSequenceLength(tokens.count, what: "--ids")
        warnAboutUnusedTensors(model: model, config: m.config)
        let result = try ModelScoring.score(model: m, ids: tokens)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(result), as: UTF8.self))
        } else {
            for (i, lp) in result.token_logprobs.enumerated() {
                print("token \(i): logprob \(lp.map { String($0) } ?? "-")")
            }
            let top = result.last_logits.enumerated().max { $0.element < $1.element }
            print(
                "last position: \(result.last_logits.count) logits, argmax \(top?.offset ?? -1) (\(top?.element ?? 0))")
        }
    }
}

/// Warns on standard error about checkpoint tensors the model does not read (they are ignored).
func warnAboutUnusedTensors(model: String, config: ModelConfig) {
    guard let checkpoint = try? SafeTensorsCheckpoint(directory: URL(fileURLWithPath: model)) else { return }
    let unused = config.unusedTensors(in: checkpoint)
    guard !unused.isEmpty else { return }
    let shown = unused.prefix(5).joined(separator: ", ") + (unused.count > 5 ? ", ..." : "")
    FileHandle.standardError.write(
        Data(
            "warning: \(checkpoint.displayPath): \(unused.count) tensor(s) not used by a \(config.modelType) model with this config.json, ignored: \(shown)\n"
                .utf8))
}
