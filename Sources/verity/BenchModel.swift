// `verity bench model`: forward and forward+backward speed of a randomly initialised model of
// Qwen2.5-0.5B's shape against the sgemm rate measured in the same run. Parsing and printing only;
// the measurement is VerityBench.ModelBenchmark.
import VerityBench
import ArgumentParser
import Foundation
import VerityModel

/// `verity bench model [--json]`.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Forward and forward+backward tokens/s and model-FLOPs utilisation vs measured sgemm.")

    @Option(help: "Sequences per batch.") var batch = 8
    @Option(help: "Tokens per sequence.") var sequence = 256
    @Option(help: "Timed repetitions (medians reported).") var repeats = 3
    @Option(help: "Untimed forward+backward steps before timing.") var warmup = 1
    @Option(help: "Threads for BLAS and kernels.") var threads = 2
    @Option(help: "Decoder layers (default 24, the real shape).") var layers = 24
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Time every op's forward and backward (adds `profile` to the JSON, a table on stderr).") var profile =
        false

    func run() throws {
        var o = ModelBenchmarkOptions()
        o.batch = batch
        o.sequence = sequence
        o.repeats = repeats
        o.warmup = warmup
        o.threads = threads
        o.profile = profile
        let result = try ModelBenchmark.run(config: qwen25HalfBShape(layers: layers), options: o) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if let rows = result.profile {
            let total = rows.reduce(0) { $0 + $1.seconds }
            for r in rows {
                let name = r.op.padding(toLength: max(26, r.op.count), withPad: " ", startingAt: 0)
                FileHandle.standardError.write(
                    Data(
                        (name
                            + String(
                                format: " %8.3f s %6.1f%% %6d calls\n", r.seconds,
                                100 * r.seconds / max(total, 1e-9), r.calls)).utf8))
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(result), as: UTF8.self))
        } else {
            print(
                String(
                    format:
                        "sgemm %.1f GFLOP/s; forward %.1f tokens/s (MFU %.1f%%); forward+backward %.1f tokens/s (MFU %.1f%%); other processes %.1f%% CPU",
                    result.sgemm_gflops, result.forward_tokens_per_s, 100 * result.forward_mfu,
                    result.train_tokens_per_s, 100 * result.train_mfu, 100 * (result.other_processes_cpu_share ?? 0)))
        }
    }
}
