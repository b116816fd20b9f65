// `verity select --history FILE.json --method std|lim [--top N] [--json]`: ranks training examples by
// historical variance (VerityTraining.HistoricalVariance) from a history file in the layout of the
// paper's acc_step_500.json, or the history.json that `verity train` writes. Parsing and printing only.
import ArgumentParser
import Foundation
import VerityCore
import VerityJSON
import VerityTraining

/// `verity select`.
struct Select: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank training examples by historical variance of their accuracy (the paper's data selection).")

    @Option(help: "History file: a JSON object of example keys to accuracy lists (acc_step_500.json, history.json).")
    var history: String
    @Option(help: "std (the paper's: population std of each list) | lim (LIMR-style).") var method = "std"
    @Option(help: "Print the first N (0: all).") var top = 10
    @Flag(help: "Print a JSON list of {\"index\": ..., \"score\": ...} in rank order.") var json = false
    @Option(help: "With --out: the training data whose examples the history ranks (JSONL).") var data: String?
    @Option(help: "Write the first --top examples of --data, in rank order, to this JSONL file.") var out: String?

    func validate() throws {
        guard SelectionMethod(rawValue: method) != nil else {
            throw ValidationError(
                "--method '\(method)': expected one of \(SelectionMethod.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard top >= 0 else { throw ValidationError("--top \(top): expected 0 (all) or more") }
        guard (data == nil) == (out == nil) else { throw ValidationError("--data and --out go together") }
    }

    func run() throws {
        let h = try AccuracyHistory.read(URL(fileURLWithPath: history))
        let ranked = HistoricalVariance.rank(h, method: SelectionMethod(rawValue: method)!)
        let shown = top == 0 ? ranked : Array(ranked.prefix(top))
        if let data, let out {
            let lines = try HistoricalVariance.select(keys: shown.map(\.key), from: URL(fileURLWithPath: data))
            try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: out))
            FileHandle.standardError.write(Data("wrote \(lines.count) example(s) of \(data) to \(out)\n".utf8))
        }
        if json {
            // Keys that are integers print as numbers (the paper's DSR-sub `index`), others as strings.
            let items = shown.map { s -> String in
                let index = Int(s.key).map(String.init) ?? jsonStringLiteral(s.key)
                return "{\"index\": \(index), \"score\": \(s.score)}"
            }
            print("[" + items.joined(separator: ", ") + "]")
        } else {
            let left = h.entries.count - ranked.count
            print(
                "rank  index  score  (\(method); \(ranked.count) examples\(left > 0 ? ", \(left) never drawn left out" : ""))"
            )
            for (k, s) in shown.enumerated() {
                print(String(format: "%4d  %@  %.4f", k + 1, s.key, s.score))
            }
        }
    }
}
