// `verity bench eval [--json]`: `verity eval`'s pipeline on the Qwen2.5-0.5B shape (random weights,
// forced lengths), items/s and tokens/s beside the sampler's own figure from the same run. Flag
// parsing and printing only; the measurement is VerityBench.EvalBenchmark.
import ArgumentParser
import Foundation
import VerityBench

/// `verity bench eval`.
struct BenchEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "The evaluation pipeline on the Qwen2.5-0.5B shape: items/s, tokens/s and the sampler's share of the time.")

    @Option(help: "MATH500 items.") var items = 64
    @Option(name: .customLong("new-tokens"), help: "New tokens per response (forced).") var newTokens = 256
    @Option(help: "Decoder layers (24: the real shape).") var layers = 24
    @Option(help: "Threads.") var threads = 2
    @Option(help: "The folder holding math500.jsonl.") var data = "data/eval"
    @Option(help: "A folder with the Qwen2.5 tokenizer.") var tokenizer = "Tests/Fixtures/qwen2.5-tokenizer"
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        for (name, v, hi) in [
            ("items", items, 500), ("new-tokens", newTokens, 32768), ("layers", layers, 256), ("threads", threads, 256),
        ]
        where !(1...hi).contains(v) {
            throw ValidationError("--\(name) \(v): expected 1 to \(hi)")
        }
    }

    func run() throws {
        var o = EvalBenchmarkOptions()
        (o.items, o.newTokens, o.layers, o.threads, o.data, o.tokenizer) = (
            items, newTokens, layers, threads, data, tokenizer
        )
        let r = try EvalBenchmark.run(options: o) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(r), as: UTF8.self))
        } else {
            print(
                String(
                    format:
                        "%d items in %.1f s: %.2f items/s, %.0f tok/s; sampler alone %.0f tok/s; pipeline overhead %.1f%%",
                    r.items, r.seconds_total, r.items_per_s, r.tokens_per_s, r.sampler_tokens_per_s,
                    100 * r.pipeline_overhead_fraction))
        }
    }
}
