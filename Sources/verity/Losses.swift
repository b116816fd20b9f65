// `verity losses FILE.json [--json]`: the trainers' objective on a user's dump (the `inputs` layout of
// Tests/Fixtures/rl-losses/reference.json), printed as an `outputs` object with the same keys. Parsing
// and printing only; the computation is VerityTraining.LossReport (the trainers' own code).
import ArgumentParser
import Foundation
import VerityJSON
import VerityTraining

/// `verity losses FILE.json [--json]`.
struct Losses: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Compute the RL objective (advantages, policy/KL/value losses, gradients, AdamW, clipping) on a JSON dump.")

    @Argument(help: "A JSON file with an `inputs` object (the layout of Tests/Fixtures/rl-losses/reference.json).")
    var file: String
    @Flag(help: "Print the whole outputs object as JSON (default: a summary of the scalars).") var json = false

    func run() throws {
        let url = URL(fileURLWithPath: file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ValidationError("\(file): no such file")
        }
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ValidationError("\(file): not valid JSON")
        }
        guard let inputs = root["inputs"] else { throw ValidationError("\(file): no `inputs` object") }
        let outputs: JSONValue
        do { outputs = try LossReport.compute(inputs: inputs) } catch { throw ValidationError("\(file): \(error)") }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(JSONValue.object(["outputs": outputs])), as: UTF8.self))
            return
        }
        func scalar(_ path: [String]) -> String {
            var v: JSONValue? = outputs
            for k in path { v = v?[k] }
            return v?.doubleValue.map { String(format: "%.8g", $0) } ?? "-"
        }
        for (label, path) in [
            ("entropy (token mean)", ["entropy_token_mean"]),
            ("pg_loss token-mean", ["policy_loss", "pg_loss", "token-mean"]),
            ("pg_clipfrac", ["policy_loss", "pg_clipfrac"]), ("ppo_kl", ["policy_loss", "ppo_kl"]),
            ("kl low_var_kl (token mean)", ["kl", "low_var_kl", "token_mean"]), ("total loss", ["total_loss", "loss"]),
            ("vf_loss", ["value_loss", "vf_loss"]),
            ("grad-clip total norm", ["grad_clip", "case_large", "total_norm"]),
        ] {
            print(label.padding(toLength: 28, withPad: " ", startingAt: 0) + scalar(path))
        }
    }
}
