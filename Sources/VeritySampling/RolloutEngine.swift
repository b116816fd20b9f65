// RolloutEngine: batched generation with a KV cache, prefix sharing and exact log-probs, over the
// trainer's own `TransformerModel` weights. Prompts are put in a prefix tree (identical prompts are
// one leaf, a common system prompt is one shared node); each node is prefilled once, with the
// trainer's kernels (RMSNorm, RoPE, GQA attention, SwiGLU, sgemm), when its first sample is
// admitted. All live rows then decode together, one token per row per step, through the skinny
// kernels of DecodeKernels, so each weight matrix is read once per step for the whole batch. Rows
// finish on EOS / stop ids / stop strings / max tokens and free their slot and their cache segment;
// waiting samples join as slots and memory free up (continuous batching). Each sample draws from
// its own generator seeded by (seed, prompt, sample) and every per-row number is independent of
// the batch and the thread count, so a sample's tokens are too. It is not a server, and it does
// not preempt rows: a row is admitted only when its whole cache fits in the budget.
import Foundation
import VerityTensor
import VerityModel

// MARK: - Request and options

/// Turns token ids into text one token at a time (the tokenizer's incremental decoder); used for stop strings and `text`.
public protocol IncrementalDetokenizer {
    /// Appends one token and returns the text it completes (may be empty while a UTF-8 sequence is incomplete).
    mutating func append(_ id: Int32) -> String
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
    /// The run seed; sample s of prompt p draws from `rowGenerator(seed:prompt:sample:)`.
    public var seed: UInt64
    /// Extra token ids that end a sample (besides the engine's EOS ids).
    public var stopTokenIds: [Int32]
    /// Strings that end a sample once its detokenized text contains one (needs a detokenizer).
    public var stopStrings: [String]
    /// Never stop on the EOS ids (benchmarks force a fixed length).
    public var ignoreEOS: Bool

    /// A request; defaults: 1 sample, 256 new tokens, temperature 1, seed 0.
    public init(prompts: [[Int32]], samplesPerPrompt: Int = 1, maxNewTokens: Int = 256, sampling: SamplingParams = SamplingParams(),
                seed: UInt64 = 0, stopTokenIds: [Int32] = [], stopStrings: [String] = [], ignoreEOS: Bool = false) {
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

    /// Default options.
    public init() {}
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
}

/// The samples of a request, ordered by (prompt, sample), and the work counters.
public struct GenerationResult: Sendable {
    /// Samples ordered by prompt index then sample index.
    public var samples: [GeneratedSample]
    /// Work counters.
    public var stats: GenerationStats
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
    /// The model (its weights are used in place, not copied).
    public let model: TransformerModel
    /// Token ids that end a sample (config.json and generation_config.json `eos_token_id`).
    public let eosTokenIds: Set<Int32>
    /// Threads, batch bound, memory budget, prefix sharing.
    public var options: EngineOptions

    struct LayerPointers {
        let inputNorm, q, k, v, o, postNorm, gate, up, down: UnsafeMutablePointer<Float>
        let qb, kb, vb, ob, gateb, upb, downb: UnsafeMutablePointer<Float>?
    }
    let layerPtrs: [LayerPointers]
    let c: ModelConfig

    /// An engine over `model`; `eosTokenIds` defaults to the config's `eos_token_id`.
    public init(model: TransformerModel, eosTokenIds: [Int]? = nil, options: EngineOptions = EngineOptions()) {
        self.model = model
        self.c = model.config
        self.eosTokenIds = Set((eosTokenIds ?? model.config.eosTokenIds).map { Int32(truncatingIfNeeded: $0) })
        self.options = options
        layerPtrs = model.layers.map { L in
            LayerPointers(inputNorm: L.inputNorm.value.data, q: L.q.value.data, k: L.k.value.data, v: L.v.value.data, o: L.o.value.data,
                          postNorm: L.postNorm.value.data, gate: L.gate.value.data, up: L.up.value.data, down: L.down.value.data,
                          qb: L.qBias?.value.data, kb: L.kBias?.value.data, vb: L.vBias?.value.data, ob: L.oBias?.value.data,
                          gateb: L.gateBias?.value.data, upb: L.upBias?.value.data, downb: L.downBias?.value.data)
        }
    }

    /// An engine for the Hugging Face folder `directory`: its weights, and EOS ids from config.json and generation_config.json.
    public static func load(directory: URL, options: EngineOptions = EngineOptions()) throws -> RolloutEngine {
        let model = try TransformerModel.load(directory: directory)
        let gen = try GenerationConfig.load(directory: directory)
        let eos = Array(Set(model.config.eosTokenIds + gen.eosTokenIds)).sorted()
        return RolloutEngine(model: model, eosTokenIds: eos, options: options)
    }

    /// KV-cache bytes per cached position (all layers, keys and values).
    public var bytesPerPosition: Int { KVSegment.bytes(rows: 1, layers: c.numHiddenLayers, width: c.numKeyValueHeads * c.headDim) }

    // MARK: Generate

    /// Generates `samplesPerPrompt` samples for every prompt; results ordered by (prompt, sample).
    public func generate(_ req: GenerationRequest, detokenizer: (() -> any IncrementalDetokenizer)? = nil,
                         observer: ((LogitsEvent) -> Void)? = nil,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> GenerationResult {
        try req.sampling.validate()
        guard req.samplesPerPrompt >= 1 else { throw SamplingError.badParameter(name: "n", value: "\(req.samplesPerPrompt)", detail: "must be ≥ 1") }
        guard req.maxNewTokens >= 1 else { throw SamplingError.badParameter(name: "max_tokens", value: "\(req.maxNewTokens)", detail: "must be ≥ 1") }
        guard options.maxBatch >= 1 else { throw SamplingError.badParameter(name: "max_batch", value: "\(options.maxBatch)", detail: "must be ≥ 1") }
        guard options.threads >= 1 else { throw SamplingError.badParameter(name: "threads", value: "\(options.threads)", detail: "must be ≥ 1") }
        for (i, p) in req.prompts.enumerated() {
            if p.isEmpty { throw SamplingError.emptyPrompt(index: i) }
            if let bad = p.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) { throw SamplingError.tokenOutOfRange(prompt: i, id: Int(bad), vocab: c.vocabSize) }
        }
        if !req.stopStrings.isEmpty && detokenizer == nil {
            throw SamplingError.badParameter(name: "stop", value: req.stopStrings.description, detail: "stop strings need a detokenizer")
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
        var unitOf: [Int] = []          // per (prompt·n + sample)
        if options.sharePrefixes {
            var seen: [[Int32]: Int] = [:]
            for p in req.prompts {
                let u = seen[p] ?? { let u = unitSeqs.count; unitSeqs.append(p); seen[p] = u; return u }()
                for _ in 0..<n { unitOf.append(u) }
            }
        } else {
            for p in req.prompts { for _ in 0..<n { unitOf.append(unitSeqs.count); unitSeqs.append(p) } }
        }
        var leaf = [PrefixNode?](repeating: nil, count: unitSeqs.count)
        if options.sharePrefixes {
            buildPrefixTree(unitSeqs, members: Array(unitSeqs.indices), depth: 0, parent: nil, leaf: &leaf)
        } else {
            for (u, s) in unitSeqs.enumerated() { let node = PrefixNode(tokens: s, start: 0, parent: nil); node.endsPrompt = true; leaf[u] = node }
        }
        for u in unitOf { for node in leaf[u]?.chain ?? [] { node.remaining += 1 } }

        let stopIds = Set(req.stopTokenIds).union(req.ignoreEOS ? [] : eosTokenIds)
        let maxStop = req.stopStrings.map(\.count).max() ?? 0
        let total = req.prompts.count * n
        var results = [GeneratedSample?](repeating: nil, count: total)
        var live: [LiveRow] = []
        var nextPending = 0
        var finished = 0

        /// Appends a drawn token; returns true when the row is done (and records its result).
        func accept(_ row: LiveRow, _ d: DrawnToken) -> Bool {
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
            if reason == nil && row.tokens.count >= req.maxNewTokens { reason = .length }
            guard let reason else { return false }
            results[row.promptIndex * n + row.sampleIndex] = GeneratedSample(
                promptIndex: row.promptIndex, sampleIndex: row.sampleIndex, tokens: row.tokens, logprobs: row.logprobs,
                samplingLogprobs: row.samplingLogprobs, finishReason: reason, matchedStopString: matched,
                text: detokenizer == nil ? nil : row.text)
            finished += 1
            return true
        }

        /// Admits waiting samples while slots and memory allow; prefills their prompt chain on first use.
        func admit() throws {
            while live.count < options.maxBatch && nextPending < total {
                let idx = nextPending
                let p = idx / n, s = idx % n
                guard let lf = leaf[unitOf[idx]] else { preconditionFailure("every unit has a leaf") }
                let chain = lf.chain
                let ownRows = req.maxNewTokens - 1
                let need = chain.filter { $0.segment == nil }.reduce(0) { $0 + $1.tokens.count * bytesPerPosition } + ownRows * bytesPerPosition
                if !ledger.fits(need) {
                    if live.isEmpty {
                        throw SamplingError.rowDoesNotFit(prompt: p, promptTokens: req.prompts[p].count, maxNewTokens: req.maxNewTokens,
                                                          neededBytes: need + ledger.used, budgetBytes: ledger.budget)
                    }
                    return
                }
                for node in chain where node.segment == nil {
                    let tp = CPUShareProbe.now()
                    prefill(node, ledger: ledger)
                    stats.prefillTokens += node.tokens.count
                    stats.prefillSeconds += CPUShareProbe.now() - tp
                }
                guard let logits = lf.lastLogits, let parentSeg = lf.segment else { preconditionFailure("leaf prefilled with logits") }
                nextPending += 1
                stats.promptTokensAllSamples += req.prompts[p].count
                let row = LiveRow(promptIndex: p, sampleIndex: s, promptLength: req.prompts[p].count,
                                  generator: rowGenerator(seed: req.seed, prompt: p, sample: s), detok: detokenizer?())
                let d = logits.withUnsafeBufferPointer { buf -> DrawnToken in
                    guard let base = buf.baseAddress else { preconditionFailure("empty logits") }
                    observer?(LogitsEvent(promptIndex: p, sampleIndex: s, tokenIndex: 0, logits: buf))
                    return req.sampling.draw(logits: base, vocab: c.vocabSize, generator: &row.generator)
                }
                for node in chain {
                    node.remaining -= 1
                    if node.remaining == 0 { node.segment = nil; node.lastLogits = nil }
                }
                if accept(row, d) { continue }
                row.own = KVSegment(parent: parentSeg, start: row.promptLength, capacity: ownRows, layers: c.numHiddenLayers,
                                    width: c.numKeyValueHeads * c.headDim, ledger: ledger)
                live.append(row)
            }
        }

        try admit()
        while !live.isEmpty {
            stats.peakLiveRows = max(stats.peakLiveRows, live.count)
            let ts = CPUShareProbe.now()
            let logits = decodeStep(live)
            let r = live.count, v = c.vocabSize
            var drawn = [DrawnToken](repeating: DrawnToken(token: 0, logprob: 0, samplingLogprob: 0), count: r)
            if let observer {
                for (i, row) in live.enumerated() {
                    observer(LogitsEvent(promptIndex: row.promptIndex, sampleIndex: row.sampleIndex, tokenIndex: row.tokens.count,
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
            for (i, row) in live.enumerated() where !accept(row, drawn[i]) { still.append(row) }
            live = still
            stats.decodeSeconds += CPUShareProbe.now() - ts
            try admit()
            progress?(GenerationProgress(generatedTokens: stats.generatedTokens, finishedSamples: finished, totalSamples: total,
                                         liveRows: live.count, elapsed: CPUShareProbe.now() - t0, maxTokens: total * req.maxNewTokens))
        }
        stats.peakCacheBytes = ledger.peak
        let samples = results.compactMap { $0 }
        precondition(samples.count == total, "every sample finishes")
        return GenerationResult(samples: samples, stats: stats)
    }

    // MARK: Prefill

    /// Linear layer through sgemm exactly as `Ops.linear`: out[N, Cout] = x[N, Cin]·Wᵀ + b.
    func linearBLAS(_ x: UnsafePointer<Float>, rows: Int, cin: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
                    cout: Int, out: UnsafeMutablePointer<Float>) {
        if let b { for r in 0..<rows { (out + r * cout).update(from: b, count: cout) } }
        BLAS.gemm(transB: true, m: rows, n: cout, k: cin, a: x, lda: cin, b: w, ldb: cin, beta: b == nil ? 0 : 1, c: out, ldc: cout)
    }

    /// Runs `node`'s tokens through the model over its ancestors' cache, filling its segment (and its last logits if a prompt ends there).
    func prefill(_ node: PrefixNode, ledger: MemoryLedger) {
        let t = node.tokens.count, a = node.start
        let cdim = c.hiddenSize, h = c.numAttentionHeads, g = c.numKeyValueHeads, d = c.headDim, inter = c.intermediateSize
        let kvd = g * d, hd = h * d
        let eps = Float(c.rmsNormEps)
        let seg = KVSegment(parent: node.parent?.segment, start: a, capacity: t, layers: c.numHiddenLayers, width: kvd, ledger: ledger)
        let ancestors = seg.parent?.chain ?? []
        let x = Tensor(uninitialized: [t, cdim]), n1 = Tensor(uninitialized: [t, cdim]), hbuf = Tensor(uninitialized: [t, cdim])
        let q = Tensor(uninitialized: [t, hd]), att = Tensor(uninitialized: [t, hd]), o = Tensor(uninitialized: [t, cdim])
        let gate = Tensor(uninitialized: [t, inter]), up = Tensor(uninitialized: [t, inter])
        let kAll = a > 0 ? Tensor(uninitialized: [a + t, kvd]) : nil, vAll = a > 0 ? Tensor(uninitialized: [a + t, kvd]) : nil
        Kernels.embeddingForward(table: model.embedding.value.data, ids: node.tokens, width: cdim, out: x.data)
        let rope = RopeTable(positions: Array(a..<(a + t)), inverseFrequencies: model.inverseFrequencies)
        let shape = AttentionShape(batch: 1, queries: t, keys: a + t, heads: h, kvHeads: g, headDim: d, queryOffset: a)
        for (l, L) in layerPtrs.enumerated() {
            Kernels.rmsNormForward(x.data, weight: L.inputNorm, out: n1.data, rstd: nil, rows: t, width: cdim, eps: eps)
            linearBLAS(n1.data, rows: t, cin: cdim, L.q, L.qb, cout: hd, out: q.data)
            linearBLAS(n1.data, rows: t, cin: cdim, L.k, L.kb, cout: kvd, out: seg.keys(l))
            linearBLAS(n1.data, rows: t, cin: cdim, L.v, L.vb, cout: kvd, out: seg.values(l))
            Kernels.rope(q.data, out: q.data, rows: t, heads: h, headDim: d, cos: rope.cos.data, sin: rope.sin.data, inverse: false, accumulate: false)
            Kernels.rope(seg.keys(l), out: seg.keys(l), rows: t, heads: g, headDim: d, cos: rope.cos.data, sin: rope.sin.data, inverse: false, accumulate: false)
            var kp = UnsafePointer(seg.keys(l)), vp = UnsafePointer(seg.values(l))
            if let kAll, let vAll {
                var row = 0
                for s in ancestors {
                    (kAll.data + row * kvd).update(from: s.keys(l), count: s.count * kvd)
                    (vAll.data + row * kvd).update(from: s.values(l), count: s.count * kvd)
                    row += s.count
                }
                (kAll.data + row * kvd).update(from: seg.keys(l), count: t * kvd)
                (vAll.data + row * kvd).update(from: seg.values(l), count: t * kvd)
                kp = UnsafePointer(kAll.data)
                vp = UnsafePointer(vAll.data)
            }
            Kernels.attentionForward(q: q.data, k: kp, v: vp, out: att.data, lse: nil, shape: shape)
            linearBLAS(att.data, rows: t, cin: hd, L.o, L.ob, cout: cdim, out: o.data)
            Kernels.add(x.data, o.data, into: hbuf.data, count: t * cdim)
            Kernels.rmsNormForward(hbuf.data, weight: L.postNorm, out: n1.data, rstd: nil, rows: t, width: cdim, eps: eps)
            linearBLAS(n1.data, rows: t, cin: cdim, L.gate, L.gateb, cout: inter, out: gate.data)
            linearBLAS(n1.data, rows: t, cin: cdim, L.up, L.upb, cout: inter, out: up.data)
            Kernels.swigluForward(gate: gate.data, up: up.data, out: gate.data, count: t * inter)
            linearBLAS(gate.data, rows: t, cin: inter, L.down, L.downb, cout: cdim, out: o.data)
            Kernels.add(hbuf.data, o.data, into: x.data, count: t * cdim)
        }
        seg.count = t
        node.segment = seg
        if node.endsPrompt {
            let last = x.data + (t - 1) * cdim
            Kernels.rmsNormForward(last, weight: model.finalNorm.value.data, out: n1.data, rstd: nil, rows: 1, width: cdim, eps: eps)
            var logits = [Float](repeating: 0, count: c.vocabSize)
            logits.withUnsafeMutableBufferPointer { lb in
                guard let base = lb.baseAddress else { return }
                DecodeKernels.matmulNT(x: n1.data, rows: 1, inner: cdim, weight: model.outputWeight.value.data, outputs: c.vocabSize,
                                       bias: nil, out: base, threads: options.threads)
            }
            node.lastLogits = logits
        }
    }

    // MARK: Decode

    /// One decode step for all live rows: feeds each row's last token at its next position, caches its K/V, returns logits [R, V].
    func decodeStep(_ rows: [LiveRow]) -> Tensor {
        let r = rows.count
        let cdim = c.hiddenSize, h = c.numAttentionHeads, g = c.numKeyValueHeads, d = c.headDim, inter = c.intermediateSize
        let kvd = g * d, hd = h * d, th = options.threads
        let eps = Float(c.rmsNormEps)
        let useBLAS = options.sgemmMinRows.map { r >= $0 } ?? false
        func mm(x: UnsafePointer<Float>, rows: Int, inner: Int, weight: UnsafePointer<Float>, outputs: Int, bias: UnsafePointer<Float>?,
                out: UnsafeMutablePointer<Float>, threads: Int) {
            if useBLAS {
                linearBLAS(x, rows: rows, cin: inner, weight, bias, cout: outputs, out: out)
            } else {
                DecodeKernels.matmulNT(x: x, rows: rows, inner: inner, weight: weight, outputs: outputs, bias: bias, out: out, threads: threads)
            }
        }
        let x = Tensor(uninitialized: [r, cdim]), n1 = Tensor(uninitialized: [r, cdim]), hbuf = Tensor(uninitialized: [r, cdim])
        let q = Tensor(uninitialized: [r, hd]), kNew = Tensor(uninitialized: [r, kvd]), vNew = Tensor(uninitialized: [r, kvd])
        let att = Tensor(uninitialized: [r, hd]), o = Tensor(uninitialized: [r, cdim])
        let gate = Tensor(uninitialized: [r, inter]), up = Tensor(uninitialized: [r, inter])
        let ids = rows.map { $0.tokens[$0.tokens.count - 1] }
        Kernels.embeddingForward(table: model.embedding.value.data, ids: ids, width: cdim, out: x.data)
        let positions = rows.map { $0.promptLength + $0.tokens.count - 1 }
        let rope = RopeTable(positions: positions, inverseFrequencies: model.inverseFrequencies)
        // Each row's cache chain (root first, its own segment last) and the slot the new token takes.
        var chains: [[KVSegment]] = []
        var spanStart = [0]
        var maxKeys = 0
        for row in rows {
            guard let own = row.own else { preconditionFailure("live row without a cache segment") }
            precondition(own.count < own.capacity, "row segment full")
            let ch = own.chain
            chains.append(ch)
            spanStart.append(spanStart[spanStart.count - 1] + ch.count)
            maxKeys = max(maxKeys, own.endPosition + 1)
        }
        var spans = [DecodeKernels.Span](repeating: DecodeKernels.Span(keys: x.data, values: x.data, count: 0), count: spanStart[r])
        for (l, L) in layerPtrs.enumerated() {
            Kernels.rmsNormForward(x.data, weight: L.inputNorm, out: n1.data, rstd: nil, rows: r, width: cdim, eps: eps)
            mm(x: n1.data, rows: r, inner: cdim, weight: L.q, outputs: hd, bias: L.qb, out: q.data, threads: th)
            mm(x: n1.data, rows: r, inner: cdim, weight: L.k, outputs: kvd, bias: L.kb, out: kNew.data, threads: th)
            mm(x: n1.data, rows: r, inner: cdim, weight: L.v, outputs: kvd, bias: L.vb, out: vNew.data, threads: th)
            Kernels.rope(q.data, out: q.data, rows: r, heads: h, headDim: d, cos: rope.cos.data, sin: rope.sin.data, inverse: false, accumulate: false)
            Kernels.rope(kNew.data, out: kNew.data, rows: r, heads: g, headDim: d, cos: rope.cos.data, sin: rope.sin.data, inverse: false, accumulate: false)
            for (i, ch) in chains.enumerated() {
                guard let own = ch.last else { continue }
                (own.keys(l) + own.count * kvd).update(from: kNew.data + i * kvd, count: kvd)
                (own.values(l) + own.count * kvd).update(from: vNew.data + i * kvd, count: kvd)
                for (j, s) in ch.enumerated() {
                    let cnt = s === own ? own.count + 1 : s.count
                    spans[spanStart[i] + j] = DecodeKernels.Span(keys: s.keys(l), values: s.values(l), count: cnt)
                }
            }
            DecodeKernels.cachedAttention(q: q.data, out: att.data, rows: r, spans: spans, spanStart: spanStart, heads: h, kvHeads: g,
                                          headDim: d, maxKeys: maxKeys, threads: th)
            mm(x: att.data, rows: r, inner: hd, weight: L.o, outputs: cdim, bias: L.ob, out: o.data, threads: th)
            Kernels.add(x.data, o.data, into: hbuf.data, count: r * cdim)
            Kernels.rmsNormForward(hbuf.data, weight: L.postNorm, out: n1.data, rstd: nil, rows: r, width: cdim, eps: eps)
            mm(x: n1.data, rows: r, inner: cdim, weight: L.gate, outputs: inter, bias: L.gateb, out: gate.data, threads: th)
            mm(x: n1.data, rows: r, inner: cdim, weight: L.up, outputs: inter, bias: L.upb, out: up.data, threads: th)
            Kernels.swigluForward(gate: gate.data, up: up.data, out: gate.data, count: r * inter)
            mm(x: gate.data, rows: r, inner: inter, weight: L.down, outputs: cdim, bias: L.downb, out: o.data, threads: th)
            Kernels.add(hbuf.data, o.data, into: x.data, count: r * cdim)
        }
        for ch in chains { ch.last?.count += 1 }
        Kernels.rmsNormForward(x.data, weight: model.finalNorm.value.data, out: n1.data, rstd: nil, rows: r, width: cdim, eps: eps)
        let logits = Tensor(uninitialized: [r, c.vocabSize])
        mm(x: n1.data, rows: r, inner: cdim, weight: model.outputWeight.value.data, outputs: c.vocabSize,
                               bias: nil, out: logits.data, threads: th)
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

    init(promptIndex: Int, sampleIndex: Int, promptLength: Int, generator: SeededGenerator, detok: (any IncrementalDetokenizer)?) {
        self.promptIndex = promptIndex
        self.sampleIndex = sampleIndex
        self.promptLength = promptLength
        self.generator = generator
        self.detok = detok
    }
}
