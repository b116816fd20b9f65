// Ops: the differentiable coarse operations of the transformer, each forward written beside its
// backward closure (linear, add, RMSNorm, RoPE, GQA causal attention, SwiGLU, embedding, token
// log-prob + entropy, and the small reductions a loss needs). Numerics live in Kernels/Attention/
// TokenHead; this file only wires values, saved tensors and gradients. No broadcasting beyond what
// each op documents.
import Foundation

// MARK: - RoPE tables

/// cos/sin tables [N, D/2] for the rotate-half RoPE at N given positions (transformers' Qwen2/Llama rotary embedding).
public struct RopeTable {
    /// cos(pos·inv_freq_j) per row and j < D/2.
    public let cos: Tensor
    /// sin(pos·inv_freq_j) per row and j < D/2.
    public let sin: Tensor
    /// The head dimension D.
    public let headDim: Int

    /// Tables for `positions` with the given inverse frequencies (D/2 of them); angles are float32 products as in transformers.
    public init(positions: [Int], inverseFrequencies: [Float]) {
        let half = inverseFrequencies.count
        headDim = 2 * half
        cos = Tensor(uninitialized: [positions.count, half])
        sin = Tensor(uninitialized: [positions.count, half])
        for (r, p) in positions.enumerated() {
            for j in 0..<half {
                let angle = Float(p) * inverseFrequencies[j]
                cos.data[r * half + j] = Float(Foundation.cos(Double(angle)))
                sin.data[r * half + j] = Float(Foundation.sin(Double(angle)))
            }
        }
    }

    /// inv_freq_j = θ^(−2j/D) for j < D/2 (float32, as transformers' default rope init).
    public static func inverseFrequencies(headDim: Int, theta: Double) -> [Float] {
        (0..<(headDim / 2)).map { j in 1 / Float(Foundation.pow(theta, Double(2 * j) / Double(headDim))) }
    }
}

// MARK: - Ops

/// Differentiable operations on Variables; each records its backward when an input tracks gradients.
public enum Ops {
    /// The value x·Wᵀ (+ b) [..., Cout] (the forward of `linear` and `loraLinear`).
    static func linearValue(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        let cin = w.shape[1], cout = w.shape[0], n = x.rows
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [cout])
        if let b {
            for r in 0..<n { (y.data + r * cout).update(from: b.data, count: cout) }
        }
        BLAS.gemm(
            transB: true, m: n, n: cout, k: cin, a: x.data, lda: cin, b: w.data, ldb: cin, beta: b == nil ? 0 : 1,
            c: y.data, ldc: cout)
        return y
    }

    /// y = x·Wᵀ + b over the last dimension: x [..., Cin], W [Cout, Cin], b [Cout] (nn.Linear).
    public static func linear(_ x: Variable, _ w: Variable, _ b: Variable? = nil) -> Variable {
        linear(x, w, weight: { w.value }, b)
    }

    /// `linear` with a frozen bfloat16 weight, widened to float32 for the forward product and again for the backward's
    /// dx (no float32 copy outlives the op; W gets no gradient).
    public static func linear(_ x: Variable, frozen w: BF16Matrix, _ b: Variable? = nil) -> Variable {
        linear(x, nil, weight: { w.widened() }, b, shape: w.shape)
    }

    /// The linear op over W given by `weight()` (the tracked leaf's value, or a widened frozen matrix), tracked by `w`.
    static func linear(
        _ x: Variable, _ w: Variable?, weight: @escaping () -> Tensor, _ b: Variable?, shape: [Int]? = nil
    ) -> Variable {
        let wShape = shape ?? w?.shape ?? []
        let cin = wShape[1], cout = wShape[0]
        precondition(x.value.lastDim == cin, "linear: input \(x.shape) vs weight \(wShape)")
        let n = x.value.rows
        let y = linearValue(x.value, weight(), b?.value)
        var parents = [x]
        if let w { parents.append(w) }
        if let b { parents.append(b) }
        return Variable(result: y, parents: parents, op: "linear") { dy in
            if let (dx, beta) = x.gradProductTarget() {
                let wv = weight()
                BLAS.gemm(
                    m: n, n: cin, k: cout, a: dy.data, lda: cout, b: wv.data, ldb: cin, beta: beta, c: dx, ldc: cin
                )
            }
            if let w, let (dw, beta) = w.gradProductTarget() {
                BLAS.gemm(
                    transA: true, m: cout, n: cin, k: n, a: dy.data, lda: cout, b: x.value.data, ldb: cin, beta: beta,
                    c: dw, ldc: cin)
            }
            if let b, let db = b.gradPointer() {
                for r in 0..<n { Kernels.axpy(1, dy.data + r * cout, into: db, count: cout) }
            }
        }
    }

    /// x·Wᵀ (+ b) + s·(x·Aᵀ)·Bᵀ: a linear layer with a low-rank adapter (LoRA, Hu et al. 2021; PEFT's `lora.Linear` with
    /// dropout 0). x [N, in], W [out, in], A [r, in], B [out, r]; the rank-r product t = x·Aᵀ [N, r] is kept for the
    /// backward, which gives dx = dy·W + s·(dy·B)·A, dA = s·(dy·B)ᵀ·x, dB = s·dyᵀ·t (and dW, db where they are tracked:
    /// under LoRA the base is frozen and they are not).
    public static func loraLinear(
        _ x: Variable, _ w: Variable, _ b: Variable?, a: Variable, bUp: Variable, scale s: Float
    ) -> Variable {
        loraLinear(x, w, weight: { w.value }, shape: w.shape, b, a: a, bUp: bUp, scale: s)
    }

    /// `loraLinear` over a frozen bfloat16 base W, widened to float32 for the forward product and again for dx.
    public static func loraLinear(
        _ x: Variable, frozen w: BF16Matrix, _ b: Variable?, a: Variable, bUp: Variable, scale s: Float
    ) -> Variable {
        loraLinear(x, nil, weight: { w.widened() }, shape: w.shape, b, a: a, bUp: bUp, scale: s)
    }

    /// The LoRA op over W given by `weight()`, tracked by `w` when given.
    static func loraLinear(
        _ x: Variable, _ w: Variable?, weight: @escaping () -> Tensor, shape wShape: [Int], _ b: Variable?, a: Variable,
        bUp: Variable, scale s: Float
    ) -> Variable {
        let cin = wShape[1], cout = wShape[0], r = a.shape[0]
        precondition(x.value.lastDim == cin, "loraLinear: input \(x.shape) vs weight \(wShape)")
        precondition(a.shape == [r, cin] && bUp.shape == [cout, r], "loraLinear: A \(a.shape), B \(bUp.shape) for \(wShape)")
        let n = x.value.rows
        let y = linearValue(x.value, weight(), b?.value)
        let t = Tensor(uninitialized: [n, r])
        BLAS.gemm(transB: true, m: n, n: r, k: cin, a: x.value.data, lda: cin, b: a.value.data, ldb: cin, c: t.data, ldc: r)
        BLAS.gemm(
            transB: true, m: n, n: cout, k: r, alpha: s, a: t.data, lda: r, b: bUp.value.data, ldb: r, beta: 1,
            c: y.data, ldc: cout)
        var parents = [x, a, bUp]
        if let w { parents.append(w) }
        if let b { parents.append(b) }
        return Variable(result: y, parents: parents, op: "lora_linear") { dy in
            // u = dy·B [N, r], shared by dx and dA.
            var u: Tensor?
            if x.requiresGrad || a.requiresGrad {
                let ut = Tensor(uninitialized: [n, r])
                BLAS.gemm(m: n, n: r, k: cout, a: dy.data, lda: cout, b: bUp.value.data, ldb: r, c: ut.data, ldc: r)
                u = ut
            }
            if let (dx, beta) = x.gradProductTarget(), let u {
                let wv = weight()
                BLAS.gemm(
                    m: n, n: cin, k: cout, a: dy.data, lda: cout, b: wv.data, ldb: cin, beta: beta, c: dx, ldc: cin)
                BLAS.gemm(m: n, n: cin, k: r, alpha: s, a: u.data, lda: r, b: a.value.data, ldb: cin, beta: 1, c: dx, ldc: cin)
            }
            if let w, let (dw, beta) = w.gradProductTarget() {
                BLAS.gemm(
                    transA: true, m: cout, n: cin, k: n, a: dy.data, lda: cout, b: x.value.data, ldb: cin, beta: beta,
                    c: dw, ldc: cin)
            }
            if let (da, beta) = a.gradProductTarget(), let u {
                BLAS.gemm(
                    transA: true, m: r, n: cin, k: n, alpha: s, a: u.data, lda: r, b: x.value.data, ldb: cin, beta: beta,
                    c: da, ldc: cin)
            }
            if let (db, beta) = bUp.gradProductTarget() {
                BLAS.gemm(
                    transA: true, m: cout, n: r, k: n, alpha: s, a: dy.data, lda: cout, b: t.data, ldb: r, beta: beta,
                    c: db, ldc: r)
            }
            if let b, let dbias = b.gradPointer() {
                for row in 0..<n { Kernels.axpy(1, dy.data + row * cout, into: dbias, count: cout) }
            }
        }
    }

    /// body(x) without keeping its activations (activation checkpointing, Chen et al. 2016, "Training Deep Nets with
    /// Sublinear Memory Cost"): the forward runs `body(x, false)` untracked and keeps only x and the result; the backward
    /// runs `body(leaf, true)` again over a leaf holding x's value, with tracking, back-propagates dy through it (the
    /// parameters' gradients accumulate where body's ops put them), then adds the leaf's gradient into x's. `anchors`
    /// are tracked leaves that body reads (its parameters): they make the result tracked when x is not (a frozen
    /// embedding under LoRA). body must compute the same values both times (no dropout).
    public static func recomputed(
        _ x: Variable, anchors: [Variable], _ body: @escaping (Variable, Bool) -> Variable
    ) -> Variable {
        let y = body(Variable(x.value), false).value
        return Variable(result: y, parents: [x] + anchors, op: "recompute") { dy in
            let input = Variable(x.value, requiresGrad: x.requiresGrad)
            body(input, true).backward(seed: dy)
            if let g = input.grad, let dx = x.gradPointer() { Kernels.axpy(1, g.data, into: dx, count: g.count) }
        }
    }

    /// a + b, same element count (residual connections).
    public static func add(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.value.count == b.value.count, "add: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitialized: a.shape)
        Kernels.add(a.value.data, b.value.data, into: y.data, count: y.count)
        return Variable(result: y, parents: [a, b], op: "add") { dy in
            if let da = a.gradPointer() { Kernels.axpy(1, dy.data, into: da, count: dy.count) }
            if let db = b.gradPointer() { Kernels.axpy(1, dy.data, into: db, count: dy.count) }
        }
    }

    /// a ⊙ b, same element count.
    public static func mul(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.value.count == b.value.count, "mul: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitialized: a.shape)
        for i in 0..<y.count { y.data[i] = a.value.data[i] * b.value.data[i] }
        return Variable(result: y, parents: [a, b], op: "mul") { dy in
            if let da = a.gradPointer() { for i in 0..<dy.count { da[i] += dy.data[i] * b.value.data[i] } }
            if let db = b.gradPointer() { for i in 0..<dy.count { db[i] += dy.data[i] * a.value.data[i] } }
        }
    }

    /// s · x.
    public static func scale(_ x: Variable, _ s: Float) -> Variable {
        let y = Tensor(zeros: x.shape)
        Kernels.axpy(s, x.value.data, into: y.data, count: y.count)
        return Variable(result: y, parents: [x], op: "scale") { dy in
            if let dx = x.gradPointer() { Kernels.axpy(s, dy.data, into: dx, count: dy.count) }
        }
    }

    /// Σ x as a scalar [1] (accumulated in Double).
    public static func sum(_ x: Variable) -> Variable {
        weightedSum(x, weights: nil)
    }

    /// Mean of x as a scalar [1].
    public static func mean(_ x: Variable) -> Variable {
        scale(sum(x), 1 / Float(max(1, x.value.count)))
    }

    /// Σ wᵢ·xᵢ as a scalar [1] (plain sum when `weights` is nil); weights must match x's element count.
    public static func weightedSum(_ x: Variable, weights: [Float]?) -> Variable {
        if let weights {
            precondition(weights.count == x.value.count, "weightedSum: \(weights.count) weights for \(x.shape)")
        }
        var s = 0.0
        for i in 0..<x.value.count { s += Double(x.value.data[i]) * Double(weights?[i] ?? 1) }
        let y = Tensor(shape: [1], values: [Float(s)])
        return Variable(result: y, parents: [x], op: "weightedSum") { dy in
            guard let dx = x.gradPointer() else { return }
            let g = dy.data[0]
            for i in 0..<x.value.count { dx[i] += g * (weights?[i] ?? 1) }
        }
    }

    /// Row i of a 2-D x as a 1-D vector.
    public static func row(_ x: Variable, _ i: Int) -> Variable {
        let c = x.value.lastDim
        precondition(x.shape.count == 2 && i >= 0 && i < x.shape[0], "row \(i) of \(x.shape)")
        let y = Tensor(uninitialized: [c])
        y.data.update(from: x.value.data + i * c, count: c)
        return Variable(result: y, parents: [x], op: "row") { dy in
            if let dx = x.gradPointer() { Kernels.axpy(1, dy.data, into: dx + i * c, count: c) }
        }
    }

    /// x with a new shape of the same element count (shares x's memory; the gradient flows back unchanged).
    public static func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
        precondition(shape.reduce(1, *) == x.value.count, "reshape: \(x.shape) to \(shape)")
        let y = Tensor(shape: shape, borrowing: x.value.data, owner: x.value)
        return Variable(result: y, parents: [x], op: "reshape") { dy in
            guard let (dx, beta) = x.gradProductTarget() else { return }
            if beta == 0 {
                dx.update(from: dy.data, count: dy.count)
            } else {
                Kernels.axpy(1, dy.data, into: dx, count: dy.count)
            }
        }
    }

    /// RMSNorm over the last dimension: w ⊙ x / sqrt(mean(x²) + eps) (Qwen2RMSNorm / LlamaRMSNorm).
    public static func rmsNorm(_ x: Variable, _ w: Variable, eps: Float) -> Variable {
        let c = x.value.lastDim, n = x.value.rows
        precondition(w.value.count == c, "rmsNorm: input \(x.shape) vs weight \(w.shape)")
        let y = Tensor(uninitialized: x.shape)
        let rstd = Tensor(uninitialized: [n])
        Kernels.rmsNormForward(
            x.value.data, weight: w.value.data, out: y.data, rstd: rstd.data, rows: n, width: c, eps: eps)
        return Variable(result: y, parents: [x, w], op: "rmsNorm") { dy in
            Kernels.rmsNormBackward(
                dy: dy.data, x: x.value.data, weight: w.value.data, rstd: rstd.data,
                dx: x.gradPointer(), dw: w.gradPointer(), rows: n, width: c)
        }
    }

    /// Rotate-half RoPE on x [N, heads·D] with the table's per-row angles.
    public static func rope(_ x: Variable, table: RopeTable, heads: Int) -> Variable {
        let d = table.headDim, n = x.value.rows
        precondition(
            x.value.lastDim == heads * d && table.cos.shape[0] == n,
            "rope: input \(x.shape), table \(table.cos.shape), heads \(heads)")
        let y = Tensor(uninitialized: x.shape)
        Kernels.rope(
            x.value.data, out: y.data, rows: n, heads: heads, headDim: d, cos: table.cos.data, sin: table.sin.data,
            inverse: false, accumulate: false)
        return Variable(result: y, parents: [x], op: "rope") { dy in
            guard let dx = x.gradPointer() else { return }
            Kernels.rope(
                dy.data, out: dx, rows: n, heads: heads, headDim: d, cos: table.cos.data, sin: table.sin.data,
                inverse: true, accumulate: true)
        }
    }

    /// Causal grouped-query attention: q [B·T, H·D], k/v [B·S, KV·D] → [B·T, H·D]. `keyStart` [B]: each row's first key
    /// (left padding); `segmentStart` [B·T]: each query's first key (packed rows of several sequences); `prefix`: the
    /// shared prefix each query also sees (packed rows whose sequences continue one prompt).
    public static func attention(
        _ q: Variable, _ k: Variable, _ v: Variable, shape: AttentionShape, keyStart: [Int]? = nil,
        segmentStart: [Int32]? = nil, prefix: SharedPrefix? = nil
    ) -> Variable {
        precondition(segmentStart.map { $0.count == shape.batch * shape.queries } ?? true, "attention: segment starts")
        precondition(
            prefix.map { segmentStart != nil && $0.start.count == shape.batch * shape.queries } ?? true,
            "attention: a shared prefix needs segment starts, one range per query")
        let hd = shape.heads * shape.headDim, kd = shape.kvHeads * shape.headDim
        precondition(q.value.count == shape.batch * shape.queries * hd, "attention: q \(q.shape) vs \(shape)")
        precondition(
            k.value.count == shape.batch * shape.kvRowsPerBatch * kd && v.value.count == k.value.count,
            "attention: k \(k.shape) v \(v.shape) vs \(shape)")
        let y = Tensor(uninitialized: q.shape)
        let lse = Tensor(uninitialized: [shape.batch, shape.heads, shape.queries])
        Kernels.attentionForward(
            q: q.value.data, k: k.value.data, v: v.value.data, out: y.data, lse: lse.data, shape: shape,
            keyStart: keyStart, segmentStart: segmentStart, prefix: prefix)
        return Variable(result: y, parents: [q, k, v], op: "attention") { dy in
            Kernels.attentionBackward(
                dOut: dy.data, q: q.value.data, k: k.value.data, v: v.value.data, lse: lse.data,
                dq: q.gradPointer(), dk: k.gradPointer(), dv: v.gradPointer(), shape: shape, keyStart: keyStart,
                segmentStart: segmentStart, prefix: prefix)
        }
    }

    /// silu(gate) ⊙ up (the SwiGLU MLP activation).
    public static func swiglu(_ gate: Variable, _ up: Variable) -> Variable {
        precondition(gate.value.count == up.value.count, "swiglu: \(gate.shape) vs \(up.shape)")
        let y = Tensor(uninitialized: gate.shape)
        Kernels.swigluForward(gate: gate.value.data, up: up.value.data, out: y.data, count: y.count)
        return Variable(result: y, parents: [gate, up], op: "swiglu") { dy in
            let dg = gate.gradProductTarget(), du = up.gradProductTarget()
            Kernels.swigluBackward(
                dy: dy.data, gate: gate.value.data, up: up.value.data, dGate: dg?.0, dUp: du?.0, count: dy.count,
                overwriteGate: dg?.1 == 0, overwriteUp: du?.1 == 0)
        }
    }

    /// Rows of `table` [V, C] at `ids` → [N, C] (nn.Embedding); ids must be in 0..<V (checked by the caller).
    public static func embedding(_ table: Variable, ids: [Int32]) -> Variable {
        let c = table.value.lastDim
        let y = Tensor(uninitialized: [ids.count, c])
        Kernels.embeddingForward(table: table.value.data, ids: ids, width: c, out: y.data)
        return Variable(result: y, parents: [table], op: "embedding") { dy in
            guard let dt = table.gradPointer() else { return }
            Kernels.embeddingBackward(dy: dy.data, ids: ids, width: c, dTable: dt)
        }
    }

    /// A per-token loss term: (row, logprob, entropy) → (loss, ∂loss/∂logprob, ∂loss/∂entropy).
    public typealias TokenLossTerm = (_ row: Int, _ logprob: Float, _ entropy: Float) -> (
        loss: Float, dLogprob: Float, dEntropy: Float
    )

    /// Σᵢ loss(i, logpᵢ, Hᵢ) over rows of hidden [N, C] under softmax(hidden·Wᵀ), fused with its gradient: each logits chunk is
    /// used once, in the forward, for the values and for the gradients (kept until `backward`, then scaled by the seed), so the
    /// backward recomputes nothing. Any loss that is a sum of per-token terms of (logp, entropy) fits: NLL, PPO/GRPO clipped
    /// surrogates (old logprobs and advantages captured by the closure), entropy bonuses, k3 KL to a reference's logprobs.
    /// Returns the scalar loss and the per-row log-probs and entropies (constants).
    public static func tokenLoss(
        _ hidden: Variable, weight: Variable, targets: [Int32], chunkRows: Int? = nil,
        loss: TokenLossTerm
    ) -> (loss: Variable, logprobs: Tensor, entropy: Tensor) {
        let c = hidden.value.lastDim, n = hidden.value.rows, vocab = weight.shape[0]
        precondition(
            weight.value.lastDim == c && targets.count == n,
            "tokenLoss: hidden \(hidden.shape), weight \(weight.shape), \(targets.count) targets")
        let lp = Tensor(uninitialized: [n]), ent = Tensor(uninitialized: [n])
        let dH = hidden.requiresGrad ? Tensor(uninitialized: hidden.shape) : nil
        let dW = weight.requiresGrad ? Tensor(uninitialized: weight.shape) : nil
        let total = Kernels.tokenHeadLoss(
            hidden: hidden.value.data, weight: weight.value.data, targets: targets, rows: n, width: c,
            vocab: vocab, logprobs: lp.data, entropy: ent.data, loss: { loss($0, $1, $2) },
            dHidden: dH?.data, dWeight: dW?.data, chunkRows: chunkRows)
        let y = Tensor(shape: [1], values: [Float(total)])
        let out = Variable(result: y, parents: [hidden, weight], op: "tokenLoss") { dy in
            let s = dy.data[0]
            for (v, g) in [(hidden, dH), (weight, dW)] {
                guard let g, v.requiresGrad else { continue }
                // A fresh gradient with seed 1 takes the buffer as it is; otherwise scale and add.
                if v.grad == nil && s == 1 {
                    v.setGrad(g)
                } else {
                    Kernels.axpy(s, g.data, into: v.gradBuffer().data, count: g.count)
                }
            }
        }
        return (out, lp, ent)
    }

    /// Per-row log-probability of `targets` and entropy under softmax(hidden·Wᵀ), chunked over rows so full logits are never held.
    /// hidden [N, C], weight [V, C]; returns ([N] log-probs, [N] entropies).
    public static func tokenLogProbs(_ hidden: Variable, weight: Variable, targets: [Int32], chunkRows: Int? = nil)
        -> (logprobs: Variable, entropy: Variable)
    {
        let c = hidden.value.lastDim, n = hidden.value.rows, vocab = weight.shape[0]
        precondition(
            weight.value.lastDim == c && targets.count == n,
            "tokenLogProbs: hidden \(hidden.shape), weight \(weight.shape), \(targets.count) targets")
        let both = Tensor(uninitialized: [2, n])
        let lse = Tensor(uninitialized: [n])
        Kernels.tokenHeadForward(
            hidden: hidden.value.data, weight: weight.value.data, targets: targets, rows: n, width: c, vocab: vocab,
            logprobs: both.data, entropy: both.data + n, lse: lse.data, chunkRows: chunkRows)
        let joint = Variable(result: both, parents: [hidden, weight], op: "tokenLogProbs") { dy in
            Kernels.tokenHeadBackward(
                hidden: hidden.value.data, weight: weight.value.data, targets: targets, rows: n, width: c, vocab: vocab,
                lse: lse.data, entropyValues: both.data + n, gradLogprobs: dy.data, gradEntropy: dy.data + n,
                dHidden: hidden.gradPointer(), dWeight: weight.gradPointer(), chunkRows: chunkRows)
        }
        return (row(joint, 0), row(joint, 1))
    }
}
