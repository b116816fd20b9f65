// RolloutEngine: batched generation with a KV cache, prefix sharing and exact log-probs, over the
// trainer's own `TransformerModel` (its parameter store, and its architecture's layers run by the
// decode executor in DecodeExecutor.swift). Prompts are put in a prefix tree (identical prompts are
// one leaf, a common system prompt is one shared node); each node is prefilled once, when its first
// sample is admitted (nodes admitted together are prefilled in one pass). All live rows then decode
// together, one token per row per step, so each weight matrix is read once per step for the whole
// batch. The weight matrices are read in place from the model (its float32 store, or its frozen
// bfloat16 base), their column panels packed on the fly inside the product, so the engine holds no
// second copy of the policy; LoRA adapters are applied as a low-rank side product. Only the opt-in
// bfloat16 sampler (`EngineOptions.weights`) keeps a repacked copy: it records the weights' version,
// and `generate` repacks (or, by option, fails) when the model has moved on, so the sampler never
// silently samples from an old policy. Prefill and decode are the same forward over the cache: the trainer's RMSNorm, RoPE,
// SwiGLU and embedding kernels, and DecodeKernels' batch-invariant product and cached attention, so
// every per-row number (hence every token) is independent of the batch, the thread count, prefix
// sharing and how prompts were grouped. Rows finish on EOS / stop ids / stop strings / max tokens and
// free their slot and cache segment; waiting samples join as slots and memory free up (continuous
// batching). Each sample draws from its own generator seeded by (seed, prompt, sample). It is not a
// server, and it does not preempt rows: a row is admitted only when its whole cache fits the budget.
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel

// MARK: - Request and options

/// Turns token ids into text one token at a time (the tokenizer's incremental decoder); used for stop strings and `text`.
public protocol IncrementalDetokenizer {
    /// Appends one token and returns the text it completes (may be empty while a UTF-8 sequence is incomplete).
    mutating func append(_ id: Int32) -> String
    /// Flushes what is held back at the end of a sample (an unfinished UTF-8 sequence, as U+FFFD).
    mutating func finish() -> String
}

extension IncrementalDetokenizer {
    /// Nothing held back by default.
    public mutating func finish() -> String { "" }
}

/// What to generate.
public struct GenerationRequest: Sendable {
    /// Prompt token ids, one list per prompt (no padding).
    public var prompts: [[Int32]]
    /// Samples per prompt (n).
    public var samplesPerPrompt: Int
    /// The most new tokens per sample.
    public var maxNewTokens: Int
    /// How tokens are drawn.
    public var sampling: SamplingParams
    /// The run seed; sample s of prompt p draws from `rowGenerator(seed:prompt:sample:)` with the prompt's global index.
    public var seed: UInt64
    /// The global index of `prompts[0]` in the whole batch (prompt p's generator uses `firstPromptIndex + p`), so a batch
    /// split over processes or requests draws the same tokens as one request: give each part the index of its first prompt.
    public var firstPromptIndex: Int = 0
    /// The global index of each prompt's first sample here (sample s uses `firstSampleIndex + s`), for a prompt's n samples
    /// split over requests.
    public var firstSampleIndex: Int = 0
    /// Extra token ids that end a sample (besides the engine's EOS ids).
    public var stopTokenIds: [Int32]
    /// Strings that end a sample once its detokenized text contains one (needs a detokenizer).
    public var stopStrings: [String]
    /// Never stop on the EOS ids (benchmarks force a fixed length).
    public var ignoreEOS: Bool
    /// Benchmarks: sample s of prompt p ends (finish reason `length`) after `forcedLengths[p * n + s]` new tokens, each
    /// in 1...maxNewTokens; with `ignoreEOS` this forces varying response lengths. nil: `maxNewTokens` for all.
    public var forcedLengths: [Int]? = nil

    /// A request; defaults: 1 sample, 256 new tokens, temperature 1, seed 0.
    public init(
        prompts: [[Int32]], samplesPerPrompt: Int = 1, maxNewTokens: Int = 256,
        sampling: SamplingParams = SamplingParams(),
        seed: UInt64 = 0, stopTokenIds: [Int32] = [], stopStrings: [String] = [], ignoreEOS: Bool = false
    ) {
        self.prompts = prompts
        self.samplesPerPrompt = samplesPerPrompt
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.seed = seed
        self.stopTokenIds = stopTokenIds
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
    }
}

/// How the engine runs.
public struct EngineOptions: Sendable {
    /// Threads for the decode kernels and BLAS.
    public var threads: Int = Parallel.cores
    /// The most rows decoded together.
    public var maxBatch: Int = 256
    /// Bytes the KV cache may take in all (shared prefixes counted once); default: a quarter of physical memory.
    public var memoryBudgetBytes: Int = Int(min(ProcessInfo.processInfo.physicalMemory / 4, UInt64(Int.max)))
    /// Prefill identical prompts and common prefixes once (off: every sample prefills its whole prompt).
    public var sharePrefixes = true
    /// Decode steps with at least this many rows use sgemm instead of the batch-invariant skinny kernel (nil: never).
    /// Faster at large batches, but a row's numbers then depend on the batch size (float rounding only).
    public var sgemmMinRows: Int? = nil
    /// How the sampler reads its weight matrices: float32 (default: the model's own weights, read in place, no copy) or
    /// bfloat16 (a repacked copy, half the bytes per decode step; log-probs then differ from the trainer's). A model whose
    /// matrices are frozen in bfloat16 is read in place either way.
    public var weights: WeightFormat = .float32
    /// What `generate` does when the model's parameters changed since the weights were packed: repack (default) or throw.
    public var stalePolicy: StaleWeightsPolicy = .repack

    /// Default options.
    public init() {}
}

/// What the engine does when its packed weights are older than the model's parameters.
public enum StaleWeightsPolicy: String, Sendable {
    /// Repack before generating.
    case repack
    /// Throw `SamplingError.staleWeights`.
    case fail
}

// MARK: - Results

/// Why a sample ended.
public enum FinishReason: String, Codable, Sendable {
    /// EOS, a stop token id or a stop string.
    case stop
    /// The new-token limit.
    case length
}

/// One finished sample.
public struct GeneratedSample: Sendable, Equatable {
    /// The prompt's index in the request.
    public var promptIndex: Int
    /// The sample's index among its prompt's samples.
    public var sampleIndex: Int
    /// New token ids (a final EOS / stop id included).
    public var tokens: [Int32]
    /// log p(token) under the model (temperature 1, no truncation), one per token.
    public var logprobs: [Float]
    /// log q(token) under the distribution sampled from (0 for greedy), one per token.
    public var samplingLogprobs: [Float]
    /// Why it ended.
    public var finishReason: FinishReason
    /// The stop string that ended it, if one did.
    public var matchedStopString: String?
    /// The detokenized new tokens, when a detokenizer was given.
    public var text: String?

    /// A sample (the engine makes them; data-parallel training rebuilds them from other ranks).
    public init(
        promptIndex: Int, sampleIndex: Int, tokens: [Int32], logprobs: [Float], samplingLogprobs: [Float],
        finishReason: FinishReason, matchedStopString: String? = nil, text: String? = nil
    ) {
        self.promptIndex = promptIndex
        self.sampleIndex = sampleIndex
        self.tokens = tokens
        self.logprobs = logprobs
        self.samplingLogprobs = samplingLogprobs
        self.finishReason = finishReason
        self.matchedStopString = matchedStopString
        self.text = text
    }
}

/// Work counters of one `generate` call.
public struct GenerationStats: Sendable, Codable {
    /// Prompt tokens run through prefill (shared prefixes once).
    public var prefillTokens = 0
    /// Prompt tokens summed over all samples (what prefill would cost without sharing).
    public var promptTokensAllSamples = 0
    /// Seconds in prefill.
    public var prefillSeconds = 0.0
    /// Batched decode steps.
    public var decodeSteps = 0
    /// Row-steps decoded (tokens fed through the cache).
    public var decodeRowSteps = 0
    /// Seconds in decode steps (forward and sampling).
    public var decodeSeconds = 0.0
    /// New tokens produced.
    public var generatedTokens = 0
    /// The most rows decoded together.
    public var peakLiveRows = 0
    /// The most KV-cache bytes held at once.
    public var peakCacheBytes = 0

    /// Counters at zero.
    public init() {}
}

/// The samples of a request, ordered by (prompt, sample), and the work counters.
public struct GenerationResult: Sendable {
    /// Samples ordered by prompt index then sample index.
    public var samples: [GeneratedSample]
    /// Work counters.
    public var stats: GenerationStats

    /// A result of `samples` (ordered by prompt index then sample index) and their counters.
    public init(samples: [GeneratedSample], stats: GenerationStats) {
        self.samples = samples
        self.stats = stats
    }
}

/// Progress of a running `generate` call.
public struct GenerationProgress: Sendable {
    /// New tokens so far.
    public var generatedTokens: Int
    /// Samples finished.
    public var finishedSamples: Int
    /// Samples in the request.
    public var totalSamples: Int
    /// Rows decoding now.
    public var liveRows: Int
    /// Seconds since the call started.
    public var elapsed: Double
    /// New tokens if every sample ran to the limit.
    public var maxTokens: Int
}

/// The logits a token was drawn from (for tests and diagnostics).
public struct LogitsEvent {
    /// Prompt index.
    public var promptIndex: Int
    /// Sample index.
    public var sampleIndex: Int
    /// Index of the drawn token among the sample's new tokens.
    public var tokenIndex: Int
    /// The V logits.
    public var logits: UnsafeBufferPointer<Float>
}

// MARK: - Prefix tree

/// A run of prompt tokens shared by every prompt below it.
final class PrefixNode {
    let tokens: [Int32]
    let start: Int
    let parent: PrefixNode?
    var segment: KVSegment?
    var endsPrompt = false
    var lastLogits: [Float]?
    var remaining = 0

    init(tokens: [Int32], start: Int, parent: PrefixNode?) {
        self.tokens = tokens
        self.start = start
        self.parent = parent
    }

    var chain: [PrefixNode] {
        var out: [PrefixNode] = []
        var n: PrefixNode? = self
        while let c = n { out.append(c); n = c.parent }
        return out.reversed()
    }
}

/// Builds the radix tree of `seqs` (all sharing seqs[·][0..<depth]); sets `leaf[i]` to the node where seqs[i] ends.
func buildPrefixTree(_ seqs: [[Int32]], members: [Int], depth: Int, parent: PrefixNode?, leaf: inout [PrefixNode?]) {
    guard let first = members.first else { return }
    var l = depth
    extend: while true {
        for m in members where seqs[m].count <= l || seqs[m][l] != seqs[first][l] { break extend }
        l += 1
    }
    var node = parent
    if l > depth { node = PrefixNode(tokens: Array(seqs[first][depth..<l]), start: depth, parent: parent) }
    var groups: [Int32: [Int]] = [:]
    var order: [Int32] = []
    for m in members {
        if seqs[m].count == l {
            leaf[m] = node
            node?.endsPrompt = true
        } else {
            let t = seqs[m][l]
            if groups[t] == nil { order.append(t) }
            groups[t, default: []].append(m)
        }
    }
    for t in order { buildPrefixTree(seqs, members: groups[t] ?? [], depth: l, parent: node, leaf: &leaf) }
}

// MARK: - Engine

/// Batched sampling with a KV cache over a `TransformerModel`'s weights.
public final class RolloutEngine {
    /// The model (read in place; only the opt-in bfloat16 sampler repacks its matrices, see `refreshWeights()`).
    public let model: TransformerModel
    /// Token ids that end a sample (config.json and generation_config.json `eos_token_id`).
    public let eosTokenIds: Set<Int32>
    /// Threads, batch bound, memory budget, prefix sharing.
    public var options: EngineOptions

    /// Packed bfloat16 copies by parameter-store index (the opt-in bfloat16 sampler only; nil: read in place).
    let packed: [PackedWeights?]
    /// The output projection's packed copy (the bfloat16 sampler only).
    let outputPacked: PackedWeights?
    /// The store version the packed weights were made from.
    public private(set) var packedVersion: UInt64
    let c: ModelConfig
    /// The decode kernels' reusable buffers (x packed for the microkernel).
    let workspace = DecodeWorkspace()
    /// The weight format the engine was built with (`options.weights` at init).
    public let weightFormat: WeightFormat

    /// An engine over `model`; `eosTokenIds` defaults to the config's `eos_token_id`.
    public init(model: TransformerModel, eosTokenIds: [Int]? = nil, options: EngineOptions = EngineOptions()) {
        self.model = model
        self.c = model.config
        self.eosTokenIds = Set((eosTokenIds ?? model.config.eosTokenIds).map { Int32(truncatingIfNeeded: $0) })
        self.options = options
        let fmt = options.weights, th = max(1, options.threads)
        weightFormat = fmt
        let store = model.store
        func pack(_ i: Int) -> PackedWeights? {
            guard fmt == .bfloat16, model.frozenBF16[i] == nil else { return nil }
            let t = store.variables[i].value
            precondition(t.shape.count == 2, "weight matrix")
            return PackedWeights(t.data, outputs: t.shape[0], inner: t.shape[1], format: fmt, threads: th)
        }
        var packed = [PackedWeights?](repeating: nil, count: store.variables.count)
        for L in model.layers { for i in L.matrices { packed[i] = pack(i) } }
        self.packed = packed
        outputPacked = pack(model.outputIndex)
        packedVersion = model.weightsVersion
    }

    /// Weight matrix `i` as the products read it: the bfloat16 sampler's packed copy, the model's frozen bfloat16 matrix,
    /// or the store's float32 values, in place.
    func operand(_ i: Int) -> WeightOperand {
        if let p = i == model.outputIndex ? outputPacked : packed[i] { return WeightOperand(p) }
        let shape = model.store.shapes[i]
        precondition(shape.count == 2, "parameter \(model.store.names[i]) is not a matrix")
        if let m = model.frozenBF16[i] { return WeightOperand(bf16Rows: m.bits, outputs: shape[0], inner: shape[1]) }
        return WeightOperand(rows: model.store.variables[i].value.data, outputs: shape[0], inner: shape[1])
    }

    /// Repacks the bfloat16 sampler's copy from the model's store, and records the weights' version (store and
    /// adapters; the float32 sampler reads both in place and has nothing to repack). `generate` calls it when the
    /// version has moved on.
    public func refreshWeights() {
        let th = max(1, options.threads)
        for (i, pw) in packed.enumerated() {
            guard let pw else { continue }
            pw.repack(from: model.store.variables[i].value.data, threads: th)
        }
        outputPacked?.repack(from: model.outputWeight.value.data, threads: th)
        packedVersion = model.weightsVersion
    }

    /// Whether the packed weights were made from the model's current weights (store and adapters).
    public var weightsAreCurrent: Bool { packedVersion == model.weightsVersion }

    /// Bytes of the weight matrices one decode step reads (layers' matrices and the output projection).
    public var packedWeightBytes: Int {
        model.layers.flatMap(\.matrices).reduce(operand(model.outputIndex).bytes) { $0 + operand($1).bytes }
    }

    /// Bytes of the sampler's own weight copy (the bfloat16 sampler's packed matrices; 0 when it reads the model in place).
    public var weightCopyBytes: Int { packed.reduce(outputPacked?.bytes ?? 0) { $0 + ($1?.bytes ?? 0) } }

    /// An engine for the Hugging Face folder `directory`: its weights, and EOS ids from config.json and generation_config.json.
    public static func load(directory: URL, options: EngineOptions = EngineOptions()) throws -> RolloutEngine {
        let model = try TransformerModel.load(directory: directory)
        let gen = try GenerationConfig.load(directory: directory)
        let eos = Array(Set(model.config.eosTokenIds + gen.eosTokenIds)).sorted()
        return RolloutEngine(model: model, eosTokenIds: eos, options: options)
    }

    /// KV-cache bytes per cached position (all layers, keys and values).
    public var bytesPerPosition: Int {
        KVSegment.bytes(rows: 1, layers: c.numHiddenLayers, width: c.numKeyValueHeads * c.headDim)
    }

    // MARK: Generate

    /// Generates `samplesPerPrompt` samples for every prompt; results ordered by (prompt, sample).
    public func generate(
        _ req: GenerationRequest, detokenizer: (() -> any IncrementalDetokenizer)? = nil,
        observer: ((LogitsEvent) -> Void)? = nil,
        progress: ((GenerationProgress) -> Void)? = nil
    ) throws -> GenerationResult {
        try req.validate()
        try options.validate()
        for (i, p) in req.prompts.enumerated() {
            if p.isEmpty { throw SamplingError.emptyPrompt(index: i) }
            if let bad = p.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw SamplingError.tokenOutOfRange(prompt: i, id: Int(bad), vocab: c.vocabSize)
            }
        }
        if !req.stopStrings.isEmpty && detokenizer == nil {
            throw SamplingError.badParameter(
                name: "stop", value: req.stopStrings.description, detail: "stop strings need a detokenizer")
        }
        if !weightsAreCurrent {
            switch options.stalePolicy {
            case .repack: refreshWeights()
            case .fail:
                throw SamplingError.staleWeights(packedVersion: packedVersion, storeVersion: model.weightsVersion)
            }
        }
        let savedThreads = BLAS.threads
        BLAS.setThreads(options.threads)
        defer { BLAS.setThreads(savedThreads) }

        let n = req.samplesPerPrompt
        let ledger = MemoryLedger(budget: options.memoryBudgetBytes)
        var stats = GenerationStats()
        let t0 = CPUShareProbe.now()

        // Units: one per unique prompt when sharing, else one per sample; each maps to a leaf of the prefix tree.
        var unitSeqs: [[Int32]] = []
        var unitOf: [Int] = []  // per (prompt·n + sample)
        if options.sharePrefixes {
            var seen: [[Int32]: Int] = [:]
            for p in req.prompts {
                let u =
                    seen[p]
                    ?? {
                        let u = unitSeqs.count; unitSeqs.append(p); seen[p] = u; return u
                    }()
                for _ in 0..<n { unitOf.append(u) }
            }
        } else {
            for p in req.prompts { for _ in 0..<n { unitOf.append(unitSeqs.count); unitSeqs.append(p) } }
        }
        var leaf = [PrefixNode?](repeating: nil, count: unitSeqs.count)
        if options.sharePrefixes {
            buildPrefixTree(unitSeqs, members: Array(unitSeqs.indices), depth: 0, parent: nil, leaf: &leaf)
        } else {
            for (u, s) in unitSeqs.enumerated() {
                let node = PrefixNode(tokens: s, start: 0, parent: nil); node.endsPrompt = true; leaf[u] = node
            }
        }
        for u in unitOf { for node in leaf[u]?.chain ?? [] { node.remaining += 1 } }

        let stopIds = Set(req.stopTokenIds).union(req.ignoreEOS ? [] : eosTokenIds)
        let maxStop = req.stopStrings.map(\.count).max() ?? 0
        let total = req.prompts.count * n
        // Filled as samples finish (not sized by the request up front).
        var results: [Int: GeneratedSample] = [:]
        var live: [LiveRow] = []
        var nextPending = 0
        var finished = 0

        /// Appends a drawn token; returns true when the row is done (and records its result).
        func accept(_ row: LiveRow, _ d: DrawnToken) throws -> Bool {
            // NaN or +∞ logits (diverged weights, a corrupt checkpoint) make every log-prob NaN: stop with the row named,
            // instead of returning tokens drawn from garbage. (−∞ is a legitimate log-prob: a token masked to −∞.)
            if d.logprob.isNaN || d.logprob == .infinity {
                throw SamplingError.nonFiniteLogits(
                    prompt: row.promptIndex, sample: row.sampleIndex, token: row.tokens.count)
            }
            row.tokens.append(d.token)
            row.logprobs.append(d.logprob)
            row.samplingLogprobs.append(d.samplingLogprob)
            stats.generatedTokens += 1
            var reason: FinishReason? = nil
            var matched: String? = nil
            if stopIds.contains(d.token) { reason = .stop }
            if row.detok != nil {
                let piece = row.detok?.append(d.token) ?? ""
                row.text += piece
                if reason == nil && maxStop > 0 && !piece.isEmpty {
                    let window = String(row.text.suffix(piece.count + maxStop - 1))
                    if let s = req.stopStrings.first(where: { window.contains($0) }) { reason = .stop; matched = s }
                }
            }
            let cap = req.forcedLengths?[row.promptIndex * n + row.sampleIndex] ?? req.maxNewTokens
            if reason == nil && row.tokens.count >= cap { reason = .length }
            guard let reason else { return false }
            if row.detok != nil { row.text += row.detok?.finish() ?? "" }
            results[row.promptIndex * n + row.sampleIndex] = GeneratedSample(
                promptIndex: row.promptIndex, sampleIndex: row.sampleIndex, tokens: row.tokens, logprobs: row.logprobs,
                samplingLogprobs: row.samplingLogprobs, finishReason: reason, matchedStopString: matched,
                text: detokenizer == nil ? nil : row.text)
            finished += 1
            return true
        }

        /// Admits waiting samples while slots and memory allow; prefills the prompt nodes they need (together) first.
        func admit() throws {
            var batch: [Int] = []
            var newNodes: [PrefixNode] = []
            var planned = Set<ObjectIdentifier>()
            var plannedBytes = 0
            let ownRows = req.maxNewTokens - 1
            while live.count + batch.count < options.maxBatch && nextPending < total {
                let idx = nextPending
                guard let lf = leaf[unitOf[idx]] else { preconditionFailure("every unit has a leaf") }
                let fresh = lf.chain.filter { $0.segment == nil && !planned.contains(ObjectIdentifier($0)) }
                let need = fresh.reduce(0) { $0 + $1.tokens.count * bytesPerPosition } + ownRows * bytesPerPosition
                if !ledger.fits(plannedBytes + need) {
                    if live.isEmpty && batch.isEmpty {
                        let p = idx / n
                        throw SamplingError.rowDoesNotFit(
                            prompt: p, promptTokens: req.prompts[p].count, maxNewTokens: req.maxNewTokens,
                            neededBytes: need + ledger.used, budgetBytes: ledger.budget)
                    }
                    break
                }
                plannedBytes += need
                for node in fresh { planned.insert(ObjectIdentifier(node)); newNodes.append(node) }
                batch.append(idx)
                nextPending += 1
            }
            // Prefill level by level: a node is ready once its parent is cached.
            var todo = newNodes
            while !todo.isEmpty {
                let ready = todo.filter { $0.parent == nil || $0.parent?.segment != nil }
                precondition(!ready.isEmpty, "prefix tree order")
                let tp = CPUShareProbe.now()
                prefill(ready, ledger: ledger)
                stats.prefillTokens += ready.reduce(0) { $0 + $1.tokens.count }
                stats.prefillSeconds += CPUShareProbe.now() - tp
                let done = Set(ready.map(ObjectIdentifier.init))
                todo.removeAll { done.contains(ObjectIdentifier($0)) }
            }
            for idx in batch {
                let p = idx / n, s = idx % n
                guard let lf = leaf[unitOf[idx]], let logits = lf.lastLogits, let parentSeg = lf.segment else {
                    preconditionFailure("leaf prefilled with logits")
                }
                stats.promptTokensAllSamples += req.prompts[p].count
                let row = LiveRow(
                    promptIndex: p, sampleIndex: s, promptLength: req.prompts[p].count,
                    generator: rowGenerator(
                        seed: req.seed, prompt: req.firstPromptIndex + p, sample: req.firstSampleIndex + s),
                    detok: detokenizer?())
                let d = logits.withUnsafeBufferPointer { buf -> DrawnToken in
                    guard let base = buf.baseAddress else { preconditionFailure("empty logits") }
                    observer?(LogitsEvent(promptIndex: p, sampleIndex: s, tokenIndex: 0, logits: buf))
                    return req.sampling.draw(logits: base, vocab: c.vocabSize, generator: &row.generator)
                }
                for node in lf.chain {
                    node.remaining -= 1
                    if node.remaining == 0 { node.segment = nil; node.lastLogits = nil }
                }
                if try accept(row, d) { continue }
                row.own = KVSegment(
                    parent: parentSeg, start: row.promptLength, capacity: ownRows, layers: c.numHiddenLayers,
                    width: c.numKeyValueHeads * c.headDim, ledger: ledger)
                live.append(row)
            }
        }

        repeat { try admit() } while live.isEmpty && nextPending < total
        while !live.isEmpty {
            stats.peakLiveRows = max(stats.peakLiveRows, live.count)
            let ts = CPUShareProbe.now()
            let logits = decodeStep(live)
            let r = live.count, v = c.vocabSize
            var drawn = [DrawnToken](repeating: DrawnToken(token: 0, logprob: 0, samplingLogprob: 0), count: r)
            if let observer {
                for (i, row) in live.enumerated() {
                    observer(
                        LogitsEvent(
                            promptIndex: row.promptIndex, sampleIndex: row.sampleIndex, tokenIndex: row.tokens.count,
                            logits: UnsafeBufferPointer(start: logits.data + i * v, count: v)))
                }
            }
            let rows = live
            let params = req.sampling
            drawn.withUnsafeMutableBufferPointer { out in
                let tasks = min(options.threads, r)
                Parallel.forEachTask(tasks) { t in
                    for i in (r * t / tasks)..<(r * (t + 1) / tasks) {
                        out[i] = params.draw(logits: logits.data + i * v, vocab: v, generator: &rows[i].generator)
                    }
                }
            }
            stats.decodeSteps += 1
            stats.decodeRowSteps += r
            var still: [LiveRow] = []
            for (i, row) in live.enumerated() where try !accept(row, drawn[i]) { still.append(row) }
            live = still
            stats.decodeSeconds += CPUShareProbe.now() - ts
            repeat { try admit() } while live.isEmpty && nextPending < total
            progress?(
                GenerationProgress(
                    generatedTokens: stats.generatedTokens, finishedSamples: finished, totalSamples: total,
                    liveRows: live.count, elapsed: CPUShareProbe.now() - t0, maxTokens: total * req.maxNewTokens))
        }
        stats.peakCacheBytes = ledger.peak
        let samples = results.keys.sorted().compactMap { results[$0] }
        precondition(samples.count == total, "every sample finishes")
        return GenerationResult(samples: samples, stats: stats)
    }

    // MARK: Prefill

    /// Linear layer through sgemm as `Ops.linear`: out[N, Cout] = x[N, Cin]·Wᵀ + b (only with `sgemmMinRows`).
    func linearBLAS(
        _ x: UnsafePointer<Float>, rows: Int, cin: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
        cout: Int, out: UnsafeMutablePointer<Float>
    ) {
        if let b { for r in 0..<rows { (out + r * cout).update(from: b, count: cout) } }
        BLAS.gemm(
            transB: true, m: rows, n: cout, k: cin, a: x, lda: cin, b: w, ldb: cin, beta: b == nil ? 0 : 1, c: out,
            ldc: cout)
    }

    /// Prompt tokens per prefill pass (bounds the activations: rows × intermediate floats).
    static let prefillChunkTokens = 2048

    /// Prefills `nodes` (parents already cached), several nodes per pass; sets each node's segment and, where a prompt ends, its last logits.
    func prefill(_ nodes: [PrefixNode], ledger: MemoryLedger) {
        let kvd = c.numKeyValueHeads * c.headDim
        var group: [PrefixNode] = []
        var groupTokens = 0
        func flush() {
            guard !group.isEmpty else { return }
            var ids: [Int32] = [], positions: [Int] = [], plans: [RowPlan] = [], logitRows: [Int] = [],
                logitNodes: [PrefixNode] = []
            var segs: [KVSegment] = []
            for node in group {
                let seg = KVSegment(
                    parent: node.parent?.segment, start: node.start, capacity: node.tokens.count,
                    layers: c.numHiddenLayers,
                    width: kvd, ledger: ledger)
                segs.append(seg)
                let chain = seg.chain
                for (j, t) in node.tokens.enumerated() {
                    ids.append(t)
                    positions.append(node.start + j)
                    plans.append(RowPlan(chain: chain, index: j))
                }
                if node.endsPrompt { logitRows.append(ids.count - 1); logitNodes.append(node) }
            }
            let logits = forward(ids: ids, positions: positions, plans: plans, logitRows: logitRows)
            for (node, seg) in zip(group, segs) { seg.count = node.tokens.count; node.segment = seg }
            let v = c.vocabSize
            for (i, node) in logitNodes.enumerated() {
                node.lastLogits = Array(UnsafeBufferPointer(start: logits.data + i * v, count: v))
            }
            group = []
            groupTokens = 0
        }
        for node in nodes {
            if groupTokens + node.tokens.count > Self.prefillChunkTokens { flush() }
            group.append(node)
            groupTokens += node.tokens.count
        }
        flush()
    }

    // MARK: Forward over the cache

    /// One token's place in the cache: it writes slot `index` of `chain.last` and attends to every earlier cached position.
    struct RowPlan {
        /// The segments from the root to the one this token is written into.
        let chain: [KVSegment]
        /// The slot in `chain.last`.
        let index: Int
    }

    /// Runs tokens through the model, each at its position, caching its K/V per `plans` and attending over its chain;
    /// returns logits [logitRows.count, V] of the listed rows. Decode (one token per live row) and prefill (a prompt
    /// node's tokens) are both this: the architecture's layers on the decode executor, then the packed output
    /// projection. Every per-row number is independent of the other rows and of the thread count.
    func forward(ids: [Int32], positions: [Int], plans: [RowPlan], logitRows: [Int]) -> Tensor {
        let e = DecodeExecutor(engine: self, ids: ids, positions: positions, plans: plans, logitRows: logitRows)
        let hidden = model.run(e)
        let logits = Tensor(uninitialized: [max(1, logitRows.count), c.vocabSize])
        e.matmul(
            hidden.data, rows: logitRows.count, weight: operand(model.outputIndex), blas: model.outputWeight.value.data,
            bias: nil,
            outputs: c.vocabSize, out: logits.data)
        return logits
    }

    // MARK: Decode

    /// One decode step for all live rows: feeds each row's last token at its next position, caches its K/V, returns logits [R, V].
    func decodeStep(_ rows: [LiveRow]) -> Tensor {
        var plans: [RowPlan] = []
        for row in rows {
            guard let own = row.own else { preconditionFailure("live row without a cache segment") }
            plans.append(RowPlan(chain: own.chain, index: own.count))
        }
        let logits = forward(
            ids: rows.map { $0.tokens[$0.tokens.count - 1] },
            positions: rows.map { $0.promptLength + $0.tokens.count - 1 },
            plans: plans, logitRows: Array(rows.indices))
        for row in rows { row.own?.count += 1 }
        return logits
    }
}

// MARK: - Live rows

/// A sample being decoded: its tokens so far, generator, detokenizer and cache segment.
final class LiveRow: @unchecked Sendable {
    let promptIndex: Int
    let sampleIndex: Int
    let promptLength: Int
    var generator: SeededGenerator
    var detok: (any IncrementalDetokenizer)?
    var text = ""
    var own: KVSegment?
    var tokens: [Int32] = []
    var logprobs: [Float] = []
    var samplingLogprobs: [Float] = []

    init(
        promptIndex: Int, sampleIndex: Int, promptLength: Int, generator: SeededGenerator,
        detok: (any IncrementalDetokenizer)?
    ) {
        self.promptIndex = promptIndex
        self.sampleIndex = sampleIndex
        self.promptLength = promptLength
        self.generator = generator
        self.detok = detok
    }
}
