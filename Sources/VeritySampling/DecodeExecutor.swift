// DecodeExecutor: the sampler's way of running a model's layers (Architecture.swift's
// `ModelExecutor`), for one prefill or decode pass of the rollout engine. Products use the
// batch-invariant panel kernels over the model's own weights (or sgemm past `sgemmMinRows`), plus
// LoRA's low-rank side product s·(x·Aᵀ)·Bᵀ where adapters are attached; attention writes each token's K/V
// into its KV-cache slot and attends over its segment chain; RMSNorm, RoPE, embedding and adds are
// the trainer's own kernels, and SwiGLU the C kernel that gives the trainer's bits. So every per-row
// number is independent of the batch and of the thread count, and equals the training executor's
// within float rounding of the product order. Activations are pooled tensors (BufferPool), so a
// steady decode step maps no fresh memory. It holds no state beyond one pass.
import Foundation
import VerityTensor
import VerityModel

/// Runs a model's layers over the rollout engine's packed weights and KV cache, for one forward pass.
final class DecodeExecutor: ModelExecutor {
    typealias Activation = Tensor

    let engine: RolloutEngine
    let store: ParameterStore
    let ids: [Int32]
    let rows: Int
    let rope: RopeTable
    let plans: [RolloutEngine.RowPlan]
    let logitRows: [Int]
    let threads: Int
    let useBLAS: Bool
    let kvWidth: Int
    /// spanStart[i]..<spanStart[i+1] are row i's cache segments in `spans` (refilled per layer).
    var spanStart: [Int] = [0]
    var spans: [DecodeKernels.Span]
    var maxKeys = 0
    /// What unfilled spans point at (every span is filled before it is read).
    static let placeholder = Tensor(zeros: [1])

    init(engine: RolloutEngine, ids: [Int32], positions: [Int], plans: [RolloutEngine.RowPlan], logitRows: [Int]) {
        self.engine = engine
        self.store = engine.model.store
        self.ids = ids
        self.rows = ids.count
        self.plans = plans
        self.logitRows = logitRows
        let c = engine.model.config
        threads = engine.options.threads
        useBLAS =
            engine.weightFormat == .float32 && engine.model.frozenBF16.isEmpty
            && (engine.options.sgemmMinRows.map { ids.count >= $0 } ?? false)
        kvWidth = c.numKeyValueHeads * c.headDim
        rope = RopeTable(positions: positions, inverseFrequencies: engine.model.inverseFrequencies)
        for (i, p) in plans.enumerated() {
            guard let dest = p.chain.last else { preconditionFailure("empty cache chain") }
            precondition(p.index < dest.capacity && dest.start + p.index == positions[i], "cache slot mismatch")
            spanStart.append(spanStart[spanStart.count - 1] + p.chain.count)
            maxKeys = max(maxKeys, positions[i] + 1)
        }
        let none = UnsafePointer(Self.placeholder.data)
        spans = [DecodeKernels.Span](
            repeating: DecodeKernels.Span(keys: none, values: none, count: 0), count: spanStart[rows])
    }

    /// Parameter `i`'s values, read in place.
    func p(_ i: Int) -> UnsafeMutablePointer<Float> { store.variables[i].value.data }

    /// out[rows, outputs] = x·Wᵀ (+ b): the packed panel kernel, or sgemm on the unpacked weights past `sgemmMinRows`.
    func matmul(
        _ x: UnsafePointer<Float>, rows m: Int, weight: WeightOperand, blas: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?,
        outputs: Int, out: UnsafeMutablePointer<Float>
    ) {
        if useBLAS {
            engine.linearBLAS(x, rows: m, cin: weight.inner, blas, bias, cout: outputs, out: out)
        } else {
            DecodeKernels.matmul(
                x: x, rows: m, operand: weight, bias: bias, out: out, threads: threads, workspace: engine.workspace)
        }
    }

    func packed(_ i: Int) -> WeightOperand { engine.operand(i) }

    /// Adds LoRA's side product s·(x·Aᵀ)·Bᵀ to each output whose projection has adapters (batch-invariant products, so
    /// the sum is too); the trainer's `Ops.loraLinear` computes the same terms.
    func addAdapters(_ x: Tensor, _ projections: [(weight: Int, bias: Int?)], _ outs: [Tensor]) {
        guard let lora = engine.model.adapters else { return }
        for (pr, o) in zip(projections, outs) {
            guard let pair = lora.pairs[pr.weight] else { continue }
            let a = lora.store.variables[pair.a].value, b = lora.store.variables[pair.b].value
            let r = a.shape[0], cout = b.shape[0]
            let t = Tensor(uninitialized: [x.rows, r]), v = Tensor(uninitialized: [x.rows, cout])
            DecodeKernels.matmul(
                x: x.data, rows: x.rows, operand: WeightOperand(rows: a.data, outputs: r, inner: a.shape[1]), bias: nil,
                out: t.data, threads: threads, workspace: engine.workspace)
            DecodeKernels.matmul(
                x: t.data, rows: x.rows, operand: WeightOperand(rows: b.data, outputs: cout, inner: r), bias: nil,
                out: v.data, threads: threads, workspace: engine.workspace)
            Kernels.axpy(lora.scale, v.data, into: o.data, count: o.count)
        }
    }

    // MARK: ModelExecutor

    func embed(_ table: Int) -> Tensor {
        let width = store.shapes[table][1]
        let x = Tensor(uninitialized: [rows, width])
        Kernels.embeddingForward(table: p(table), ids: ids, width: width, out: x.data)
        return x
    }

    func rmsNorm(_ x: Tensor, _ weight: Int, eps: Float) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        Kernels.rmsNormForward(
            x.data, weight: p(weight), out: y.data, rstd: nil, rows: x.rows, width: x.lastDim, eps: eps)
        return y
    }

    func headRMSNorm(_ x: Tensor, _ weight: Int, heads: Int, eps: Float) -> Tensor {
        let y = Tensor(uninitialized: x.shape), d = x.lastDim / heads
        Kernels.rmsNormForward(
            x.data, weight: p(weight), out: y.data, rstd: nil, rows: x.rows * heads, width: d, eps: eps)
        return y
    }

    func linears(_ x: Tensor, _ projections: [(weight: Int, bias: Int?)]) -> [Tensor] {
        let outs = projections.map { Tensor(uninitialized: [x.rows, store.shapes[$0.weight][0]]) }
        if useBLAS || projections.count == 1 {
            for (pr, o) in zip(projections, outs) {
                let w = packed(pr.weight)
                matmul(
                    x.data, rows: x.rows, weight: w, blas: p(pr.weight), bias: pr.bias.map { UnsafePointer(p($0)) },
                    outputs: w.outputs,
                    out: o.data)
            }
        } else {
            DecodeKernels.matmulGroup(
                x: x.data, rows: x.rows,
                zip(projections, outs).map { pr, o in
                    .init(operand: packed(pr.weight), bias: pr.bias.map { UnsafePointer(p($0)) }, out: o.data)
                }, threads: threads, workspace: engine.workspace)
        }
        addAdapters(x, projections, outs)
        return outs
    }

    func rope(_ x: Tensor, heads: Int) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        Kernels.rope(
            x.data, out: y.data, rows: x.rows, heads: heads, headDim: rope.headDim, cos: rope.cos.data,
            sin: rope.sin.data,
            inverse: false, accumulate: false)
        return y
    }

    func attention(layer l: Int, _ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
        let kvd = kvWidth, c = engine.model.config
        for (i, plan) in plans.enumerated() {
            guard let dest = plan.chain.last else { continue }
            (dest.keys(l) + plan.index * kvd).update(from: k.data + i * kvd, count: kvd)
            (dest.values(l) + plan.index * kvd).update(from: v.data + i * kvd, count: kvd)
            for (j, s) in plan.chain.enumerated() {
                let cnt = s === dest ? plan.index + 1 : s.count
                spans[spanStart[i] + j] = DecodeKernels.Span(keys: s.keys(l), values: s.values(l), count: cnt)
            }
        }
        let out = Tensor(uninitialized: q.shape)
        DecodeKernels.cachedAttention(
            q: q.data, out: out.data, rows: rows, spans: spans, spanStart: spanStart, heads: c.numAttentionHeads,
            kvHeads: c.numKeyValueHeads, headDim: c.headDim, maxKeys: maxKeys, threads: threads)
        return out
    }

    func swiglu(_ gate: Tensor, _ up: Tensor) -> Tensor {
        let y = Tensor(uninitialized: gate.shape)
        DecodeKernels.swiglu(gate: gate.data, up: up.data, out: y.data, count: gate.count, threads: threads)
        return y
    }

    func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        let y = Tensor(uninitialized: a.shape)
        Kernels.add(a.data, b.data, into: y.data, count: a.count)
        return y
    }

    func outputRows(_ x: Tensor) -> Tensor {
        let width = x.lastDim
        let y = Tensor(uninitialized: [logitRows.count, width])
        for (i, row) in logitRows.enumerated() { (y.data + i * width).update(from: x.data + row * width, count: width) }
        return y
    }
}
