// `verity bench train [--json]`: one GRPO step of the real trainer on the Qwen2.5-0.5B shape with its
// time split and the update's fraction of the sgemm rate. Flag parsing and printing only; the
// measurement is VerityBench.TrainBenchmark.
import ArgumentParser
import Foundation
import VerityBench
import VerityLua
import VerityTensor

/// `verity bench train`.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract:
            "One GRPO step (rollout, reward, reference log-probs, update) on the Qwen2.5-0.5B shape vs measured sgemm.")

    @Option(help: "Prompts per step.") var prompts = 8
    @Option(help: "Samples per prompt.") var samples = 8
    @Option(name: .customLong("prompt-tokens"), help: "Tokens per prompt.") var promptTokens = 64
    @Option(name: .customLong("new-tokens"), help: "New tokens per sample (forced).") var newTokens = 256
    @Option(name: .customLong("micro-batch"), help: "Sequences per forward pass of the update.") var microBatch = 8
    @Option(help: "The model shape (random weights): qwen2.5-0.5b, or qwen2.5-math-1.5b (the paper's model).")
    var shape = "qwen2.5-0.5b"
    @Option(help: "Decoder layers (default: the shape's, 24 or 28).") var layers: Int?
    @Option(
        name: .customLong("lora-rank"),
        help: "Train LoRA adapters of this rank (alpha = 2 x rank, all seven projections; 0: full fine-tuning).")
    var loraRank = 0
    @Option(help: "Threads.") var threads = 2
    @Option(help: "A folder with the Qwen2.5 tokenizer.") var tokenizer = "Tests/Fixtures/qwen2.5-tokenizer"
    @Option(
        help:
            "Response lengths: fixed:N, uniform:LO:HI or file:F.json (a list, or a run's samples/step-N.jsonl); drawn with --seed (default: --new-tokens for all)."
    )
    var lengths: String?
    @Option(help: "Seed of the length draw.") var seed: UInt64 = 0
    @Option(
        name: .customLong("repeat-prompt"), help: "Rows per prompt (the 1-shot shape: --prompts 1 --repeat-prompt 16).")
    var repeatPrompt = 1
    @Option(
        name: .customLong("max-tokens-per-micro-batch"),
        help: "Pack the update's rows into micro-batches of at most this many tokens (0: --micro-batch padded rows).")
    var maxTokensPerMicroBatch = 0
    @Flag(
        name: .customLong("share-prompt"), inversion: .prefixedNo,
        help: "With packing: sequences of a micro-batch that share a prompt hold it once (update.share_prompt).")
    var sharePrompt = true
    @Flag(help: "Recompute each layer's forward in the update's backward instead of keeping its activations.")
    var recompute = false
    @Option(
        name: .customLong("reference-dtype"),
        help: "How the reference holds its layers' matrices: f32 or bf16 (under LoRA: the frozen base itself).")
    var referenceDType = "f32"
    @Option(
        help: "Run this peer script (Scripts/bench/grpo_trl.py: TRL's GRPOTrainer) with the same shapes and threads.")
    var peer: String?
    @Option(
        name: .customLong("peer-micro-batch"),
        help: "Sequences per forward of the peer's update (0: the whole batch in one, as TRL's default config does).")
    var peerMicroBatch = 0
    @Option(help: "Python interpreter for --peer.") var python = "python3"
    @Flag(help: "Print JSON.") var json = false

    /// The decoder layers: --layers, else the shape's.
    var layerCount: Int { layers ?? (shape == "qwen2.5-math-1.5b" ? 28 : 24) }

    func validate() throws {
        for (name, v, hi) in [
            ("prompts", prompts, 4096), ("samples", samples, 1024), ("prompt-tokens", promptTokens, 32768),
            ("new-tokens", newTokens, 32768), ("micro-batch", microBatch, 4096), ("layers", layerCount, 256),
            ("threads", threads, 256), ("repeat-prompt", repeatPrompt, 4096),
        ] where !(1...hi).contains(v) {
            throw ValidationError("--\(name) \(v): expected 1 to \(hi)")
        }
        guard ["qwen2.5-0.5b", "qwen2.5-math-1.5b"].contains(shape) else {
            throw ValidationError("--shape \(shape): expected qwen2.5-0.5b or qwen2.5-math-1.5b")
        }
        guard (0...4096).contains(loraRank) else {
            throw ValidationError("--lora-rank \(loraRank): expected 0 (full fine-tuning) to 4096")
        }
        guard (0...4096).contains(peerMicroBatch) else {
            throw ValidationError("--peer-micro-batch \(peerMicroBatch): expected 0 (the whole batch) to 4096")
        }
        guard (0...(1 << 20)).contains(maxTokensPerMicroBatch) else {
            throw ValidationError(
                "--max-tokens-per-micro-batch \(maxTokensPerMicroBatch): expected 0 (off) to \(1 << 20)")
        }
        if let lengths { _ = try ResponseLengths.parse(lengths) }
    }

    func run() throws {
        var o = TrainBenchmarkOptions()
        (o.prompts, o.samples, o.promptTokens, o.newTokens) = (prompts, samples, promptTokens, newTokens)
        (o.microBatch, o.layers, o.threads, o.tokenizer) = (microBatch, layerCount, threads, tokenizer)
        (o.shape, o.loraRank) = (shape, loraRank)
        o.lengths = try lengths.map(ResponseLengths.parse)
        (o.seed, o.repeatPrompt, o.maxTokensPerMicroBatch) = (seed, repeatPrompt, maxTokensPerMicroBatch)
        o.sharePrompt = sharePrompt
        o.recompute = recompute
        guard let dtype = WeightDType(rawValue: referenceDType) else {
            throw ValidationError("--reference-dtype \(referenceDType): expected f32 or bf16")
        }
        o.referenceDType = dtype
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let r = try TrainBenchmark.run(options: o, log: log)
        // The peer runs while this process waits: hand back the buffers cached for the step first, so that the two
        // do not hold memory at once.
        BufferPool.releaseCached()
        if peer != nil { log("resident before the peer: \(Int(residentMegabytes())) MiB") }
        let peerJSON = try peer.map { try runPeer($0, lengths: r.response_lengths, log: log) }
        let peerSeconds = peerJSON?["seconds_total"] as? Double
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let ours = try enc.encode(r)
            guard let peerJSON, var obj = try JSONSerialization.jsonObject(with: ours) as? [String: Any] else {
                print(String(decoding: ours, as: UTF8.self))
                return
            }
            obj["trl"] = peerJSON
            if let peerSeconds, peerSeconds > 0 { obj["speedup_vs_trl"] = peerSeconds / r.seconds_total }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                String(
                    format:
                        "step %.1f s: rollout %.1f s (%.0f tok/s), reward %.2f s, reference log-probs %.1f s, update %.1f s",
                    r.seconds_total, r.seconds_rollout, r.rollout_tokens_per_s, r.seconds_reward, r.seconds_logprobs,
                    r.seconds_update))
            print(
                String(
                    format: "update %.1f GFLOP/s = %.1f%% of sgemm (%.1f GFLOP/s); peak RSS %.0f MiB (memory plan %.0f MiB)",
                    r.update_gflops, 100 * r.update_fraction_of_sgemm, r.sgemm_gflops, r.peak_rss_mb, r.memory_plan_mb))
            print(
                String(
                    format: "update tokens: %d needed, %d computed (%.1f%% padding, %d prompt tokens shared); lengths %@",
                    r.real_tokens, r.computed_tokens, 100 * r.padding_fraction, r.prefix_tokens_saved, r.lengths))
        }
        if let peerJSON, !json {
            if let peerSeconds, peerSeconds > 0 {
                let rss = (peerJSON["peak_rss_mb"] as? Double).map { String(format: "%.0f", $0) } ?? "?"
                print(
                    String(
                        format: "TRL: step %.1f s (generate %.1f s), peak RSS %@ MiB; speedup %.2fx",
                        peerSeconds, peerJSON["seconds_generate"] as? Double ?? .nan, rss, peerSeconds / r.seconds_total
                    ))
            } else {
                print("TRL: \(peerJSON["error"] ?? "no figures")")
            }
        }
    }

    /// Runs the peer script with the same shapes and threads; its JSON, or `{"error": ...}` when it fails
    /// (Verity's own figures are still printed).
    private func runPeer(_ script: String, lengths: [Int], log: (String) -> Void) throws -> [String: Any] {
        log("running peer \(script)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            python, script, "--threads", "\(threads)", "--layers", "\(layerCount)", "--prompts", "\(prompts)",
            "--shape", shape, "--lora-rank", "\(loraRank)",
            "--samples", "\(samples)", "--prompt-tokens", "\(promptTokens)", "--new-tokens", "\(newTokens)",
            "--tokenizer", tokenizer,
        ]
        if repeatPrompt != 1 { p.arguments? += ["--repeat-prompt", "\(repeatPrompt)"] }
        if peerMicroBatch > 0 { p.arguments? += ["--micro-batch", "\(peerMicroBatch)"] }
        var lengthsFile: URL?
        defer { if let lengthsFile { try? FileManager.default.removeItem(at: lengthsFile) } }
        if !lengths.isEmpty {
            // The same forced lengths, in (prompt, sample) order.
            let f = FileManager.default.temporaryDirectory.appendingPathComponent(
                "verity-lengths-\(UUID().uuidString).json")
            try Data("[\(lengths.map(String.init).joined(separator: ","))]".utf8).write(to: f)
            lengthsFile = f
            p.arguments? += ["--lengths-file", f.path]
        }
        var env = ProcessInfo.processInfo.environment
        env["HF_HUB_OFFLINE"] = env["HF_HUB_OFFLINE"] ?? "1"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // The script prints one JSON object as its last line (libraries may print before it).
        let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        if p.terminationStatus == 0,
            let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        {
            return obj
        }
        return ["error": "peer \(script) exited with status \(p.terminationStatus) or printed no JSON"]
    }

    /// VmRSS of this process (MiB), 0 when /proc is not there.
    private func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
}
