// `verity generate`: samples continuations of token-id prompts with the rollout engine and prints
// them (one JSON object per sample with --json). Parsing, printing and the stderr progress bar
// only; generation is VeritySampling.RolloutEngine. Text prompts (--prompt, `prompt` in JSONL), stop
// strings and each sample's `text` use the model folder's tokenizer (or --tokenizer DIR).
import ArgumentParser
import Foundation
import VerityModel
import VeritySampling
import VerityTokenizer

/// `verity generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3 | --prompts FILE.jsonl) [...]`.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample continuations of prompts with a KV cache, prefix sharing and exact log-probs.")

    @Option(help: "A Hugging Face model folder (config.json, *.safetensors, generation_config.json).") var model: String
    @Option(help: "A text prompt, tokenized with the model's tokenizer (no chat template is applied).") var prompt:
        String?
    @Option(help: "Prompt token ids, comma separated.") var promptIds: String?
    @Option(help: "A JSONL file with one {\"prompt_ids\": [...]} or {\"prompt\": \"text\"} per line.") var prompts:
        String?
    @Option(help: "Tokenizer folder (default: the model folder).") var tokenizer: String?
    @Option(help: "A string that ends a sample (repeatable; needs the tokenizer).") var stop: [String] = []
    @Option(help: "Samples per prompt.") var n = 1
    @Option(help: "The most new tokens per sample.") var maxTokens = 256
    @Option(help: "Temperature (0: greedy).") var temperature: Float = 1
    @Option(help: "Top-p (1: off).") var topP: Float = 1
    @Option(help: "Top-k (0: off).") var topK = 0
    @Option(help: "Min-p (0: off).") var minP: Float = 0
    @Option(help: "Run seed; sample s of prompt p uses a generator derived from (seed, p, s).") var seed: UInt64 = 0
    @Option(help: "Extra token ids that end a sample, comma separated.") var stopIds: String?
    @Option(help: "Threads for the kernels and BLAS.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "The most rows decoded together.") var maxBatch = 256
    @Option(help: "KV-cache memory budget in MiB (default: a quarter of physical memory).") var kvBudgetMb: Int?
    @Flag(help: "Prefill every sample's prompt separately (no prefix sharing).") var noShare = false
    @Option(help: "Sampler weight store: f32 (exact model weights) | bf16 (half the bytes, float32 accumulation).")
    var weights = "f32"
    @Flag(help: "One JSON object per sample on stdout.") var json = false

    /// Every numeric flag's range, checked before anything is loaded or allocated.
    func validate() throws {
        func check(_ ok: Bool, _ flag: String, _ value: Any, _ detail: String) throws {
            if !ok { throw ValidationError("\(flag) \(value): \(detail)") }
        }
        try check(
            (1...GenerationLimits.maxSamples).contains(n), "--n", n,
            "expected 1...\(GenerationLimits.maxSamples) samples per prompt")
        try check(
            (1...GenerationLimits.maxNewTokens).contains(maxTokens), "--max-tokens", maxTokens,
            "expected 1...\(GenerationLimits.maxNewTokens) new tokens")
        try check(
            (1...GenerationLimits.maxThreads).contains(threads), "--threads", threads,
            "expected 1...\(GenerationLimits.maxThreads) (\(ProcessInfo.processInfo.activeProcessorCount) cores here)")
        try check(
            (1...GenerationLimits.maxBatch).contains(maxBatch), "--max-batch", maxBatch,
            "expected 1...\(GenerationLimits.maxBatch) rows")
        if let kvBudgetMb {
            let physicalMB = Int(min(ProcessInfo.processInfo.physicalMemory >> 20, UInt64(Int.max >> 20)))
            try check(
                (1...max(1, physicalMB)).contains(kvBudgetMb), "--kv-budget-mb", kvBudgetMb,
                "expected 1...\(physicalMB) MiB (the physical memory)")
        }
        try check(
            temperature.isFinite && temperature >= 0, "--temperature", temperature, "expected a finite number ≥ 0")
        try check(topP > 0 && topP <= 1, "--top-p", topP, "expected a number in (0, 1]")
        try check(topK >= 0, "--top-k", topK, "expected 0 (off) or a positive count")
        try check(minP >= 0 && minP <= 1, "--min-p", minP, "expected a number in [0, 1]")
    }

    func run() throws {
        let sources = [prompt != nil, promptIds != nil, prompts != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --prompt, --prompt-ids, --prompts") }
        let tok = try loadTokenizer()
        if (prompt != nil || !stop.isEmpty) && tok == nil {
            throw ValidationError(
                "--prompt and --stop need a tokenizer: \(tokenizer ?? model) has no tokenizer.json or vocab.json")
        }
        var list: [[Int32]] = []
        if let prompt, let tok { list = [tok.encodeInt32(prompt)] }
        if let promptIds { list = [try PromptInput.parseIds(promptIds)] }
        if let prompts {
            list = try PromptInput.readJSONL(
                URL(fileURLWithPath: prompts), tokenize: tok.map { t in { t.encodeInt32($0) } })
        }
        guard let format = WeightFormat(rawValue: weights) else {
            throw ValidationError("--weights: '\(weights)' is not f32 or bf16")
        }
        var options = EngineOptions()
        options.weights = format
        options.threads = threads
        options.maxBatch = maxBatch
        options.sharePrefixes = !noShare
        if let kvBudgetMb { options.memoryBudgetBytes = kvBudgetMb * 1_048_576 }
        let config = try ModelConfig.load(from: URL(fileURLWithPath: model).appendingPathComponent("config.json"))
        for (i, p) in list.enumerated() {
            try config.checkSequenceLength(
                p.count + maxTokens, what: "prompt \(i) (\(p.count) tokens) plus --max-tokens \(maxTokens)")
        }
        warnAboutUnusedTensors(model: model, config: config)
        let engine = try RolloutEngine.load(directory: URL(fileURLWithPath: model), options: options)
        let request = GenerationRequest(
            prompts: list, samplesPerPrompt: n, maxNewTokens: maxTokens,
            sampling: SamplingParams(temperature: temperature, topK: topK, topP: topP, minP: minP), seed: seed,
            stopTokenIds: try stopIds.map { try PromptInput.parseIds($0, flag: "--stop-ids") } ?? [], stopStrings: stop)
        let bar = ProgressBar(enabled: isatty(2) == 1)
        let result = try engine.generate(request, detokenizer: tok?.detokenizerFactory(), progress: { bar.update($0) })
        bar.finish()
        for s in result.samples {
            if json {
                let obj: [String: Any] = [
                    "prompt_index": s.promptIndex, "sample_index": s.sampleIndex, "ids": s.tokens.map { Int($0) },
                    "text": s.text ?? NSNull(), "logprobs": s.logprobs.map { Double($0) },
                    "sampling_logprobs": s.samplingLogprobs.map { Double($0) },
                    "finish_reason": s.finishReason.rawValue,
                ]
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let lp = s.logprobs.reduce(0, +)
                print(
                    "prompt \(s.promptIndex) sample \(s.sampleIndex) [\(s.finishReason.rawValue), \(s.tokens.count) tokens, logprob \(String(format: "%.3f", lp))]: "
                        + (s.text ?? s.tokens.map(String.init).joined(separator: ",")))
            }
        }
        let st = result.stats
        FileHandle.standardError.write(
            Data(
                String(
                    format:
                        "%d tokens in %.2f s decode (%.1f tokens/s), prefill %d tokens in %.2f s, peak batch %d, peak KV %.1f MiB\n",
                    st.generatedTokens, st.decodeSeconds, Double(st.decodeRowSteps) / max(st.decodeSeconds, 1e-9),
                    st.prefillTokens, st.prefillSeconds, st.peakLiveRows, Double(st.peakCacheBytes) / 1_048_576
                ).utf8))
    }
}

extension Generate {
    /// The tokenizer of --tokenizer, else of the model folder when it has one; nil when neither does.
    func loadTokenizer() throws -> Tokenizer? {
        let folder = URL(fileURLWithPath: tokenizer ?? model)
        let fm = FileManager.default
        let has = ["tokenizer.json", "vocab.json"].contains {
            fm.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
        if tokenizer != nil && !has {
            throw ValidationError("--tokenizer \(folder.path) holds neither tokenizer.json nor vocab.json")
        }
        return has ? try Tokenizer(folder: folder) : nil
    }
}

/// A one-line progress bar with tokens/s and ETA on stderr (only when stderr is a terminal).
final class ProgressBar {
    let enabled: Bool
    var last = 0.0

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: GenerationProgress) {
        guard enabled, p.elapsed - last >= 0.2 || p.finishedSamples == p.totalSamples else { return }
        last = p.elapsed
        let rate = Double(p.generatedTokens) / max(p.elapsed, 1e-9)
        let frac = p.totalSamples == 0 ? 1 : Double(p.finishedSamples) / Double(p.totalSamples)
        let tokenFrac = Double(p.generatedTokens) / Double(max(1, p.maxTokens))
        let done = max(frac, tokenFrac)
        let eta = rate > 0 ? Double(p.maxTokens - p.generatedTokens) / rate : 0
        let width = 30
        let filled = min(width, Int(done * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line =
            "\r[\(bar)] \(p.finishedSamples)/\(p.totalSamples) samples  \(p.generatedTokens) tokens  "
            + String(format: "%.1f tokens/s", rate) + "  ETA ≤ \(Self.clock(eta))  "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}
