// `verity bench tokenizer`: encode MATH500 problems and solutions repeated to about 10 MB with the
// Qwen2.5 vocabulary on one thread, report MB/s, tokens/s and vocabulary load time (medians of
// --repeats runs, with other processes' CPU share), and, with --peer, run Hugging Face
// `tokenizers` on the same documents (Scripts/bench/tokenizer_hf.py) and report the ratio.
// Measurement lives in VerityBench/TokenizerBenchmark.swift; this file parses flags and prints.
import VerityBench
import ArgumentParser
import Foundation
import VerityTokenizer

/// `verity bench tokenizer [--json] [--peer]`.
struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer throughput (MB/s, tokens/s) and load time, optionally beside HF tokenizers.")

    @Option(help: "Tokenizer folder.")
    var tokenizer = "Tests/Fixtures/qwen2.5-tokenizer"

    @Option(help: "MATH500 JSON lines (problem, solution).")
    var data = "data/eval/math500.jsonl"

    @Option(help: "Approximate text size in MB (10^6 bytes).")
    var megabytes = 10.0

    @Option(help: "Timed runs; medians are reported.")
    var repeats = 3

    @Flag(help: "Also run Scripts/bench/tokenizer_hf.py (python3 with `tokenizers`) and report the ratio.")
    var peer = false

    @Option(help: "Python interpreter for --peer.")
    var python = "python3"

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: tokenizer)
        var loadTimes: [Double] = []
        var tok: VerityTokenizer.Tokenizer?
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            tok = try VerityTokenizer.Tokenizer(folder: folder)
            loadTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        guard let tok else { return }
        let docs = try TokenizerBenchmark.documents(
            jsonl: URL(fileURLWithPath: data), targetBytes: Int(megabytes * 1e6))
        let bytes = docs.reduce(0) { $0 + $1.utf8.count }
        var runs: [TokenizerBenchmark.Run] = []
        for _ in 0..<max(1, repeats) { runs.append(TokenizerBenchmark.run(tok, documents: docs)) }
        let mbps = median(runs.map { Double(bytes) / 1e6 / $0.seconds })
        let tps = median(runs.map { Double($0.tokens) / $0.seconds })
        var result: [String: Any] = [
            "bench": "tokenizer",
            "tokenizer": tokenizer,
            "documents": docs.count,
            "text_bytes": bytes,
            "tokens": runs[0].tokens,
            "threads": 1,
            "load_seconds_median": median(loadTimes),
            "load_seconds": loadTimes,
            "mb_per_s_median": mbps,
            "tokens_per_s_median": tps,
            "runs": runs.map { r -> [String: Any] in
                [
                    "seconds": r.seconds, "mb_per_s": Double(bytes) / 1e6 / r.seconds,
                    "tokens_per_s": Double(r.tokens) / r.seconds, "other_cpu_share": r.otherCPUShare ?? NSNull(),
                ]
            },
        ]
        if peer {
            result["peer"] = runPeer(folder: folder, bytes: bytes, tokens: runs[0].tokens, mbps: mbps, result: &result)
        }
        if json {
            let out = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: out, as: UTF8.self))
        } else {
            print(
                String(
                    format: "verity: %.2f MB/s, %.0f tokens/s over %d bytes (%d tokens); load %.3f s",
                    mbps, tps, bytes, runs[0].tokens, median(loadTimes)))
            if let ratio = result["ratio_to_peer_mb_per_s"] as? Double {
                print(String(format: "ratio to HF tokenizers (MB/s): %.2f", ratio))
            }
        }
    }

    /// Runs the peer script and folds its figures into `result`; returns the peer's JSON object.
    private func runPeer(folder: URL, bytes: Int, tokens: Int, mbps: Double, result: inout [String: Any]) -> Any {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            python, "Scripts/bench/tokenizer_hf.py", "--tokenizer",
            folder.appendingPathComponent("tokenizer.json").path,
            "--data", data, "--megabytes", String(megabytes), "--repeats", String(repeats),
        ]
        var env = ProcessInfo.processInfo.environment
        env["TOKENIZERS_PARALLELISM"] = "false"
        env["RAYON_NUM_THREADS"] = "1"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        do {
            try process.run()
        } catch {
            return ["error": "cannot run \(python): \(error)"]
        }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try? JSONSerialization.jsonObject(with: out) as? [String: Any]
        else {
            return [
                "error": "peer exited with status \(process.terminationStatus)",
                "output": String(decoding: out, as: UTF8.self),
            ]
        }
        if let peerMBps = object["mb_per_s_median"] as? Double, peerMBps > 0 {
            result["ratio_to_peer_mb_per_s"] = mbps / peerMBps
        }
        if let peerLoad = object["load_seconds_median"] as? Double, peerLoad > 0 {
            result["ratio_to_peer_load_seconds"] = (result["load_seconds_median"] as? Double ?? .nan) / peerLoad
        }
        if let peerTokens = object["tokens"] as? Int { result["same_token_count_as_peer"] = peerTokens == tokens }
        if let peerBytes = object["text_bytes"] as? Int { result["same_text_bytes_as_peer"] = peerBytes == bytes }
        return object
    }
}
