// Transformer: a decoder-only causal language model (the architectures of Architecture.swift:
// Qwen2, Llama, Qwen3) over one `ParameterStore` that holds every weight and gradient. The forward is
// the architecture's layer run by an executor; this file holds the training executor, which runs
// VerityTensor's differentiable ops (parameters tracked, or untracked for no-grad scoring), and the
// head: logits, chunked token log-probs, and the fused head+loss of the trainers. Rows may be
// left-padded (`TokenBatch`): each row's keys start after its pads. Loading validates every tensor's
// presence and shape against config.json. It is not a sampler (VeritySampling runs the same layers
// through its decode executor over a KV cache).
import Foundation
import VerityTensor

// MARK: - Model

/// A causal language model with float32 parameters in one `ParameterStore`.
public final class TransformerModel {
    /// The validated configuration.
    public let config: ModelConfig
    /// The architecture running `config.model_type`.
    public let architecture: any DecoderArchitecture.Type
    /// Every parameter and gradient, in checkpoint order; optimizer steps bump `store.version`.
    public let store: ParameterStore
    /// Each decoder layer's parameters as store indices.
    public let layers: [LayerParameters]
    /// Store index of the token embedding [V, C].
    public let embeddingIndex: Int
    /// Store index of the final RMSNorm gain [C].
    public let finalNormIndex: Int
    /// Store index of the output projection [V, C] (the embedding's when tied).
    public let outputIndex: Int
    /// RoPE inverse frequencies [D/2].
    public let inverseFrequencies: [Float]
    /// LoRA adapters on the projections (nil: none). When attached, the forward adds them (unless a call switches them
    /// off), `trainable` tracks their parameters only, and the base's store is frozen.
    public private(set) var adapters: LoRAAdapters?
    /// Whether a tracked forward keeps only each layer's input and recomputes the layer in the backward
    /// (`update.recompute`): activation memory of one layer instead of all, for one more forward's compute.
    public var recompute = false
    /// The layers' weight matrices held frozen in bfloat16 (`frozenMatricesInBF16` at init), by store index: the frozen
    /// base under LoRA, or a bfloat16 reference model. Their float32 views in the store are never written or read (the
    /// untouched pages take no memory); the forward widens each one per projection, and the sampler reads them in place.
    public let frozenBF16: [Int: BF16Matrix]

    /// A model from named float32 tensors; every tensor the architecture lists must be given with its shape. `fill` writes
    /// tensor `name` of `shape` into the store's view (into a scratch rounded to bfloat16 afterwards, for the layers'
    /// matrices when `frozenMatricesInBF16`: such a model trains through LoRA adapters only).
    public init(config: ModelConfig, frozenMatricesInBF16: Bool = false, fill: (String, Tensor) throws -> Void) throws {
        self.config = config
        architecture = config.architecture
        let store = ParameterStore(config.parameterShapes)
        self.store = store
        let layerParameters = (0..<config.numHiddenLayers).map { LayerParameters(layer: $0, store: store) }
        let halves = frozenMatricesInBF16 ? Set(layerParameters.flatMap(\.matrices)) : []
        var frozen: [Int: BF16Matrix] = [:]
        for (i, (name, v)) in zip(store.names, store.variables).enumerated() {
            if halves.contains(i) {
                let scratch = Tensor(uninitialized: v.value.shape)
                try fill(name, scratch)
                frozen[i] = BF16Matrix(scratch.data, shape: v.value.shape)
            } else {
                try fill(name, v.value)
            }
        }
        frozenBF16 = frozen
        func index(_ n: String) -> Int {
            guard let i = store.index[n] else {
                preconditionFailure("parameter \(n) listed by the architecture is absent")
            }
            return i
        }
        let embed = index("model.embed_tokens.weight")
        embeddingIndex = embed
        finalNormIndex = index("model.norm.weight")
        outputIndex = config.tieWordEmbeddings ? embed : index("lm_head.weight")
        layers = layerParameters
        inverseFrequencies = config.ropeInverseFrequencies
    }

    /// A model from named float32 tensors given by `tensor(name, shape)` (copied into the store).
    public convenience init(
        config: ModelConfig, frozenMatricesInBF16: Bool = false, tensor: (String, [Int]) throws -> Tensor
    ) throws {
        try self.init(config: config, frozenMatricesInBF16: frozenMatricesInBF16) { name, view in
            let t = try tensor(name, view.shape)
            precondition(t.count == view.count, "tensor \(name) \(t.shape) for \(view.shape)")
            view.data.update(from: t.data, count: t.count)
        }
    }

    /// Loads `directory/config.json` and its safetensors (single or sharded), checking every tensor. A folder of PEFT
    /// adapters (adapter_config.json, no model.safetensors) loads its base with the adapters merged in.
    /// `frozenMatricesInBF16` holds the layers' matrices in bfloat16 (a frozen base for LoRA, or a reference).
    public static func load(directory: URL, frozenMatricesInBF16: Bool = false) throws -> TransformerModel {
        if holdsAdapters(directory) { return try loadMergingAdapters(directory: directory) }
        let config = try ModelConfig.load(from: directory.appendingPathComponent("config.json"))
        let ckpt = try SafeTensorsCheckpoint(directory: directory)
        return try TransformerModel(config: config, frozenMatricesInBF16: frozenMatricesInBF16) { name, view in
            let t = try ckpt.tensor(name, shape: view.shape)
            view.data.update(from: t.data, count: t.count)
            // The copy is made: the mapping's pages of this tensor need not stay resident beside it.
            ckpt.releasePages(name)
        }
    }

    /// A copy of this model's values with the layers' matrices in bfloat16 (a bf16 reference model).
    public func frozenBF16Copy() throws -> TransformerModel {
        try TransformerModel(config: config, frozenMatricesInBF16: true) { name, view in
            if let i = store.index[name], let m = frozenBF16[i] {
                m.widen(into: view.data)
            } else if let src = store.value(name) {
                view.data.update(from: src.data, count: view.count)
            }
        }
    }

    /// Bytes the bfloat16 frozen matrices hold.
    public var frozenBF16Bytes: Int { frozenBF16.values.reduce(0) { $0 + $1.bytes } }

    /// A randomly initialised model: matrices ~ N(0, std²), biases 0, norm gains 1.
    public static func random(config: ModelConfig, std: Float = 0.02, generator: inout SeededGenerator)
        -> TransformerModel
    {
        var g = generator
        defer { generator = g }
        let model = try? TransformerModel(config: config) { name, view in
            if view.shape.count == 1 {
                view.fill(name.hasSuffix("norm.weight") ? 1 : 0)
            } else {
                let t = Tensor.normal(view.shape, std: std, generator: &g)
                view.data.update(from: t.data, count: t.count)
            }
        }
        guard let model else { preconditionFailure("random initialisation cannot fail") }
        return model
    }

    /// Parameter names in checkpoint order.
    public var parameterNames: [String] { store.names }

    /// The tracked leaf of parameter `name` (a view of the store), if the model has it.
    public func parameter(_ name: String) -> Variable? { store.variable(name) }

    /// The token embedding [V, C].
    public var embedding: Variable { store.variables[embeddingIndex] }

    /// The output projection [V, C] (the embedding itself when tied).
    public var outputWeight: Variable { store.variables[outputIndex] }

    /// The number of parameters (tied embeddings counted once).
    public var parameterCount: Int { store.count }

    /// Makes every gradient of the trained parameters (the adapters', when attached) logically zero.
    public func zeroGrad() { trainableStore.zeroGrad() }

    /// The parameters training changes: the adapters' store when attached, else the model's.
    public var trainableStore: ParameterStore { adapters?.store ?? store }

    /// Attaches LoRA adapters laid out for this model (or detaches them with nil); the base is frozen from then on.
    public func attach(_ adapters: LoRAAdapters?) {
        if let adapters { precondition(adapters.fits(self), "LoRA adapters laid out for another model") }
        self.adapters = adapters
        store.bumpVersion()
    }

    /// Changes whenever the weights the forward computes with change: the store's version plus the adapters' (both only
    /// grow, so a copy that recorded the sum can tell it is stale).
    public var weightsVersion: UInt64 { store.version &+ (adapters?.store.version ?? 0) }

    // MARK: - Forward

    /// Final-normed hidden states [B·T, C] for `ids` laid out [B, T] (row-major). Positions are 0..<T per row unless given;
    /// `keyStart[b]` (left padding) makes row b's queries see only keys from that index on; `segmentStart[b·T + i]` (packed
    /// rows) makes query i of row b see only keys from that index on, and `prefix` adds a shared prefix's keys [start,
    /// end) to what it sees (ending at or before its segment start). `trainable` tracks parameter
    /// gradients; `record` receives named intermediates (transformers' module names).
    public func hiddenStates(
        ids: [Int32], batch: Int, positions: [Int]? = nil, keyStart: [Int]? = nil, segmentStart: [Int32]? = nil,
        prefix: SharedPrefix? = nil, trainable: Bool, adapters useAdapters: Bool = true,
        record: ((String, Tensor) -> Void)? = nil
    ) throws -> Variable {
        guard batch > 0, ids.count % batch == 0, !ids.isEmpty else {
            throw ModelError.badInput(detail: "\(ids.count) token ids do not split into \(batch) equal rows")
        }
        let t = ids.count / batch
        let pos = positions ?? (0..<batch).flatMap { _ in Array(0..<t) }
        guard pos.count == ids.count else {
            throw ModelError.badInput(detail: "\(pos.count) positions for \(ids.count) ids")
        }
        if let keyStart, keyStart.count != batch || keyStart.contains(where: { $0 < 0 || $0 >= t }) {
            throw ModelError.badInput(detail: "key starts \(keyStart) for \(batch) rows of \(t) tokens")
        }
        if let segmentStart {
            // Each query's first key: within its row, not after the query, non-decreasing along the row.
            guard segmentStart.count == ids.count else {
                throw ModelError.badInput(detail: "\(segmentStart.count) segment starts for \(ids.count) ids")
            }
            for b in 0..<batch {
                var previous: Int32 = 0
                for i in 0..<t {
                    let v = segmentStart[b * t + i]
                    guard v >= previous, Int(v) <= i else {
                        throw ModelError.badInput(
                            detail: "segment start \(v) at row \(b), token \(i) is not a valid packed layout")
                    }
                    previous = v
                }
            }
        }
        if let prefix {
            // Each query's shared prefix: within its row, ending at or before its own segment.
            guard let segmentStart, prefix.start.count == ids.count, prefix.end.count == ids.count else {
                throw ModelError.badInput(detail: "a shared prefix needs segment starts and one range per token id")
            }
            for q in 0..<ids.count {
                let (a, e) = (prefix.start[q], prefix.end[q])
                guard a >= 0, a <= e, e <= segmentStart[q] else {
                    throw ModelError.badInput(
                        detail: "shared prefix \(a)..<\(e) at row \(q / t), token \(q % t) is not before its segment "
                            + "(\(segmentStart[q]))")
                }
            }
        }
        let shape = AttentionShape(
            batch: batch, queries: t, heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads,
            headDim: config.headDim)
        let e = try executor(ids: ids, positions: pos, trainable: trainable, adapters: useAdapters, record: record) {
            _, q, k, v in
            Ops.attention(q, k, v, shape: shape, keyStart: keyStart, segmentStart: segmentStart, prefix: prefix)
        }
        return trainable && recompute && record == nil ? runRecomputing(e) : run(e)
    }

    /// A training executor over `ids` at `positions`; `attend(layer, q, k, v)` is the attention (full causal attention over
    /// the rows themselves in `hiddenStates`; a test may attend over a cache instead). `adapters: false` runs the base
    /// alone (the reference policy under LoRA).
    public func executor(
        ids: [Int32], positions: [Int], trainable: Bool, adapters useAdapters: Bool = true,
        record: ((String, Tensor) -> Void)? = nil,
        attend: @escaping (Int, Variable, Variable, Variable) -> Variable
    ) throws -> TrainingExecutor {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError.badInput(detail: "token id \(bad) outside the vocabulary 0..<\(config.vocabSize)")
        }
        precondition(
            !(trainable && adapters == nil && !frozenBF16.isEmpty),
            "a model whose matrices are frozen in bfloat16 trains through LoRA adapters only")
        return TrainingExecutor(
            store: store, frozen: frozenBF16, ids: ids, trainable: trainable && adapters == nil,
            lora: useAdapters ? adapters : nil, adaptersTrainable: trainable,
            rope: RopeTable(positions: positions, inverseFrequencies: inverseFrequencies), attend: attend,
            recorder: record)
    }

    /// The whole decoder on executor `e`: embedding, every layer of the architecture, the rows `e` keeps, the final norm.
    public func run<E: ModelExecutor>(_ e: E) -> E.Activation {
        var x = e.embed(embeddingIndex)
        e.record(.embedding, layer: nil, x)
        for (l, p) in layers.enumerated() {
            x = architecture.layer(e, x, p, layer: l, config: config)
            e.record(.layerOut, layer: l, x)
        }
        let out = e.rmsNorm(e.outputRows(x), finalNormIndex, eps: Float(config.rmsNormEps))
        e.record(.finalNorm, layer: nil, out)
        return out
    }

    /// `run` with each layer under `Ops.recomputed`: the forward keeps the residual stream between layers only, and the
    /// backward recomputes each layer with tracking before back-propagating through it.
    func runRecomputing(_ e: TrainingExecutor) -> Variable {
        var x = e.embed(embeddingIndex)
        let frozen = e.untracked
        for (l, p) in layers.enumerated() {
            x = Ops.recomputed(x, anchors: e.trackedLeaves(p)) { [architecture, config] input, track in
                architecture.layer(track ? e : frozen, input, p, layer: l, config: config)
            }
        }
        return e.rmsNorm(x, finalNormIndex, eps: Float(config.rmsNormEps))
    }

    /// Full logits [B·T, V] of the given rows of hidden states (no gradient; for scoring and tests, not for batches of training).
    public func logits(hidden: Tensor) -> Tensor {
        let n = hidden.rows, cdim = config.hiddenSize, v = config.vocabSize
        let out = Tensor(uninitialized: [n, v])
        BLAS.gemm(
            transB: true, m: n, n: v, k: cdim, a: hidden.data, lda: cdim, b: outputWeight.value.data, ldb: cdim,
            c: out.data, ldc: v)
        return out
    }

    /// Per-token log-probabilities and entropies of `targets` from hidden states [N, C], chunked over rows (differentiable).
    public func tokenLogProbs(hidden: Variable, targets: [Int32], trainable: Bool) -> (
        logprobs: Variable, entropy: Variable
    ) {
        Ops.tokenLogProbs(
            hidden, weight: trainable && adapters == nil ? outputWeight : Variable(outputWeight.value), targets: targets)
    }

    /// Σᵢ loss(i, logpᵢ, Hᵢ) from hidden states [N, C] through the output projection, fused with its gradient (Ops.tokenLoss):
    /// the training path, which never recomputes the output logits. Returns the loss and the per-token log-probs and entropies.
    public func tokenLoss(
        hidden: Variable, targets: [Int32], trainable: Bool,
        loss: Ops.TokenLossTerm
    ) -> (loss: Variable, logprobs: Tensor, entropy: Tensor) {
        Ops.tokenLoss(
            hidden, weight: trainable && adapters == nil ? outputWeight : Variable(outputWeight.value), targets: targets,
            loss: loss)
    }

    // MARK: - Saving

    /// Writes config.json (torch_dtype set to the written dtype) and model.safetensors into `directory`.
    public func save(to directory: URL, dtype: SafeTensorsDType) throws {
        precondition(frozenBF16.isEmpty, "a model with bfloat16 frozen matrices is not saved whole (its adapters are)")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ModelError.writeFailed(file: directory.path, detail: "\(error)")
        }
        var raw = config.raw
        raw["torch_dtype"] = .string(dtype == .bf16 ? "bfloat16" : "float32")
        if raw["dtype"] != nil { raw["dtype"] = raw["torch_dtype"] }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configURL = directory.appendingPathComponent("config.json")
        let bytes: Data
        do { bytes = try enc.encode(JSONValue.object(raw)) } catch {
            throw ModelError.writeFailed(file: configURL.path, detail: "\(error)")
        }
        try AtomicFile.write(bytes, to: configURL)
        try SafeTensorsWriter.write(
            store.namedValues, to: directory.appendingPathComponent("model.safetensors"), dtype: dtype)
    }
}

// MARK: - Training executor

/// Runs a model's layers with VerityTensor's differentiable ops: parameters are the store's tracked leaves (`trainable`) or
/// untracked constants over the same memory (no-grad scoring).
public struct TrainingExecutor: ModelExecutor {
    /// An activation is an autograd node.
    public typealias Activation = Variable
    let store: ParameterStore
    /// The matrices held in bfloat16 (widened per projection).
    let frozen: [Int: BF16Matrix]
    let ids: [Int32]
    /// Whether the base's parameters are tracked (false under LoRA, whose base is frozen).
    let trainable: Bool
    /// The adapters the linears add (nil: none, or switched off).
    let lora: LoRAAdapters?
    /// Whether the adapters' parameters are tracked.
    let adaptersTrainable: Bool
    let rope: RopeTable
    let attend: (Int, Variable, Variable, Variable) -> Variable
    let recorder: ((String, Tensor) -> Void)?

    /// Parameter `i` as used in the forward.
    func w(_ i: Int) -> Variable { trainable ? store.variables[i] : Variable(store.variables[i].value) }

    /// The same executor with nothing tracked (the forward half of a recomputed layer).
    var untracked: TrainingExecutor {
        TrainingExecutor(
            store: store, frozen: frozen, ids: ids, trainable: false, lora: lora, adaptersTrainable: false, rope: rope, attend: attend,
            recorder: nil)
    }

    /// A tracked parameter that layer `p` reads (the base's when it trains, else one of the layer's adapters), or none.
    func trackedLeaves(_ p: LayerParameters) -> [Variable] {
        if trainable { return [store.variables[p.inputNorm]] }
        if adaptersTrainable, let lora, let pair = p.matrices.lazy.compactMap({ lora.pairs[$0] }).first {
            return [lora.store.variables[pair.a]]
        }
        return []
    }

    public func embed(_ table: Int) -> Variable { Ops.embedding(w(table), ids: ids) }

    public func rmsNorm(_ x: Variable, _ weight: Int, eps: Float) -> Variable { Ops.rmsNorm(x, w(weight), eps: eps) }

    public func headRMSNorm(_ x: Variable, _ weight: Int, heads: Int, eps: Float) -> Variable {
        let d = x.value.lastDim / heads
        return Ops.reshape(Ops.rmsNorm(Ops.reshape(x, [x.value.rows * heads, d]), w(weight), eps: eps), x.shape)
    }

    public func linears(_ x: Variable, _ projections: [(weight: Int, bias: Int?)]) -> [Variable] {
        projections.map { pr in
            let half = frozen[pr.weight]
            guard let lora, let pair = lora.pairs[pr.weight] else {
                if let half { return Ops.linear(x, frozen: half, pr.bias.map(w)) }
                return Ops.linear(x, w(pr.weight), pr.bias.map(w))
            }
            func a(_ i: Int) -> Variable {
                adaptersTrainable ? lora.store.variables[i] : Variable(lora.store.variables[i].value)
            }
            if let half {
                return Ops.loraLinear(x, frozen: half, pr.bias.map(w), a: a(pair.a), bUp: a(pair.b), scale: lora.scale)
            }
            return Ops.loraLinear(x, w(pr.weight), pr.bias.map(w), a: a(pair.a), bUp: a(pair.b), scale: lora.scale)
        }
    }

    public func rope(_ x: Variable, heads: Int) -> Variable { Ops.rope(x, table: rope, heads: heads) }

    public func attention(layer: Int, _ q: Variable, _ k: Variable, _ v: Variable) -> Variable {
        attend(layer, q, k, v)
    }

    public func swiglu(_ gate: Variable, _ up: Variable) -> Variable { Ops.swiglu(gate, up) }

    public func add(_ a: Variable, _ b: Variable) -> Variable { Ops.add(a, b) }

    public func record(_ site: RecordSite, layer: Int?, _ x: Variable) {
        guard let recorder else { return }
        recorder(layer.map { "layers.\($0).\(site.rawValue)" } ?? site.rawValue, x.value)
    }
}
