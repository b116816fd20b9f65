// `verity bench sample`: decode tokens/s at several batch sizes and the prefix-sharing saving on a
// randomly initialised Qwen2.5-0.5B-shaped model, each against the roofline measured in the same
// run; optionally runs the PyTorch peer script side by side and embeds its JSON. Parsing and
// printing only; the measurement is VerityBench.SampleBenchmark.
import VerityBench
import ArgumentParser
import Foundation
import VeritySampling

/// `verity bench sample [--json]`.
struct BenchSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Decode tokens/s (batch 1/8/64) and prefix sharing vs the measured roofline; optional PyTorch peer.")

    @Option(help: "Decode batch sizes, comma separated.") var batches = "1,8,64"
    @Option(help: "Prompt tokens per row in the decode runs.") var promptTokens = 64
    @Option(help: "New tokens per row (forced).") var newTokens = 128
    @Option(help: "Prompt tokens of the prefix-sharing run.") var sharedPromptTokens = 512
    @Option(help: "Samples of the prefix-sharing run.") var sharedSamples = 64
    @Option(help: "New tokens per sample in the prefix-sharing run.") var sharedNewTokens = 128
    @Flag(help: "Skip the prefix-sharing runs.") var skipSharing = false
    @Option(help: "Which prefix-sharing runs: on,off | on | off (to split the long run into pieces).") var sharing =
        "on,off"
    @Flag(help: "Skip the decode runs (e.g. only the prefix-sharing case).") var skipDecode = false
    @Option(help: "Weight store: f32 | bf16 | both (the sharing run uses the first).") var weights = "f32"
    @Option(help: "dtype of the PyTorch peer: float32 | bfloat16.") var peerDtype = "float32"
    @Option(help: "Timed repetitions (medians reported).") var repeats = 3
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Decoder layers (24: the real shape).") var layers = 24
    @Option(help: "Also time batches ≥ this with sgemm decode (0: off).") var sgemmMinRows = 64
    @Option(help: "Run this PyTorch peer script (Scripts/bench/sample_torch.py) with the same shape and threads.")
    var peer: String?
    @Option(help: "Python interpreter for --peer.") var python = "python3"
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        var o = SampleBenchmarkOptions()
        o.batches = try batches.split(separator: ",").map { s in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v > 0 else {
                throw ValidationError("--batches: '\(s)' is not a positive integer")
            }
            return v
        }
        o.promptTokens = promptTokens
        o.newTokens = newTokens
        o.sharedPromptTokens = sharedPromptTokens
        o.sharedSamples = sharedSamples
        o.sharedNewTokens = sharedNewTokens
        o.skipSharing = skipSharing
        o.skipDecode = skipDecode
        o.sharingModes = try sharing.split(separator: ",").map { s in
            switch s.trimmingCharacters(in: .whitespaces) {
            case "on": return true
            case "off": return false
            default: throw ValidationError("--sharing: '\(s)' is not on or off")
            }
        }
        switch weights {
        case "f32": o.weights = [.float32]
        case "bf16": o.weights = [.bfloat16]
        case "both": o.weights = [.float32, .bfloat16]
        default: throw ValidationError("--weights: '\(weights)' is not f32, bf16 or both")
        }
        guard ["float32", "bfloat16"].contains(peerDtype) else {
            throw ValidationError("--peer-dtype: '\(peerDtype)' is not float32 or bfloat16")
        }
        o.repeats = repeats
        o.threads = threads
        o.layers = layers
        o.sgemmMinRows = sgemmMinRows > 0 ? sgemmMinRows : nil
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let result = try SampleBenchmark.run(options: o, log: log)
        var peerJSON: Any? = nil
        if let peer {
            log("running peer \(peer)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [
                python, peer, "--json", "--threads", "\(threads)", "--layers", "\(layers)", "--batches", batches,
                "--prompt-tokens", "\(promptTokens)", "--new-tokens", "\(newTokens)", "--repeats", "\(repeats)",
                "--dtype", peerDtype,
            ]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            // A failed peer is reported in the JSON; Verity's own figures are still printed.
            peerJSON = p.terminationStatus == 0 ? (try? JSONSerialization.jsonObject(with: data)) : nil
            if peerJSON == nil {
                peerJSON = ["error": "peer \(peer) exited with status \(p.terminationStatus) or printed no JSON"]
            }
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let ours = try enc.encode(result)
        if json {
            if let peerJSON, var obj = try JSONSerialization.jsonObject(with: ours) as? [String: Any] {
                obj["pytorch"] = peerJSON
                if let pt = peerJSON as? [String: Any], let ptDecode = pt["decode"] as? [[String: Any]] {
                    var ratios: [String: Double] = [:]
                    for f in result.decode {
                        if let t = ptDecode.first(where: { ($0["batch"] as? Int) == f.batch }),
                            let r = t["decode_tokens_per_s"] as? Double, r > 0
                        {
                            let key = f.kernel.hasPrefix("sgemm") ? "sgemm_f32" : "exact_\(f.weights)"
                            ratios["batch_\(f.batch)_\(key)_vs_torch_\(peerDtype)"] = f.decode_tokens_per_s / r
                        }
                    }
                    obj["speedup_vs_pytorch"] = ratios
                }
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(decoding: ours, as: UTF8.self))
            }
        } else {
            print(
                String(
                    format: "sgemm %.1f GFLOP/s, bandwidth %.1f GB/s", result.sgemm_gflops, result.read_bandwidth_gbs))
            for f in result.decode {
                print(
                    String(
                        format:
                            "batch %d %@: %.2f tokens/s = %.0f%% of roofline %.2f (memory bound %.2f, compute bound %.2f)",
                        f.batch, f.kernel, f.decode_tokens_per_s, 100 * f.fraction_of_roofline, f.roofline_tokens_per_s,
                        f.memory_bound_tokens_per_s, f.compute_bound_tokens_per_s))
            }
            if let s = result.sharing {
                if let on = s.shared_prefill_tokens, let ton = s.shared_total_seconds {
                    print(String(format: "prefix sharing on: prefill %d tokens, total %.1f s", on, ton))
                }
                if let off = s.unshared_prefill_tokens, let toff = s.unshared_total_seconds {
                    print(String(format: "prefix sharing off: prefill %d tokens, total %.1f s", off, toff))
                }
                if let r = s.prefill_work_ratio { print(String(format: "prefill work cut %.0fx", r)) }
            }
        }
    }
}
