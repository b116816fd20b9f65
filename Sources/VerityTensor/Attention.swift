// Attention: causal scaled-dot-product attention with grouped-query heads, forward and backward,
// on the [rows, heads·D] layouts the projections produce (no transposes or copies: BLAS strides do
// the head split). Per (batch, head) it runs Q·Kᵀ and P·V as sgemm calls and a masked softmax; the
// backward recomputes P from the saved row logsumexp instead of storing B·H·T·S probabilities. It
// is not a KV cache: callers pass keys/values already laid out [B, S, KV, D].
import Foundation

// MARK: - Attention geometry

/// Shapes of one attention call: B batch rows, T queries, S keys, H query heads, KV key/value heads, D head dim.
public struct AttentionShape: Sendable, Equatable {
    /// Batch rows.
    public var batch: Int
    /// Queries per batch row.
    public var queries: Int
    /// Keys per batch row (≥ queries + queryOffset for full causal prefixes).
    public var keys: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads; query head h reads KV head h / (heads / kvHeads) (transformers' repeat_kv).
    public var kvHeads: Int
    /// Head dimension.
    public var headDim: Int
    /// Query i of a row sits at key index queryOffset + i and sees keys 0...queryOffset+i.
    public var queryOffset: Int
    /// Rows between consecutive batch rows in the k/v buffers (a preallocated cache's capacity; defaults to `keys`).
    public var kvRowsPerBatch: Int

    /// A shape; `keys` defaults to `queryOffset + queries`, `kvRowsPerBatch` to `keys`.
    public init(batch: Int, queries: Int, keys: Int? = nil, heads: Int, kvHeads: Int, headDim: Int, queryOffset: Int = 0,
                kvRowsPerBatch: Int? = nil) {
        precondition(heads % kvHeads == 0, "heads \(heads) not a multiple of kvHeads \(kvHeads)")
        self.batch = batch
        self.queries = queries
        self.keys = keys ?? (queryOffset + queries)
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.queryOffset = queryOffset
        self.kvRowsPerBatch = kvRowsPerBatch ?? (keys ?? (queryOffset + queries))
        precondition(self.kvRowsPerBatch >= self.keys, "kvRowsPerBatch \(self.kvRowsPerBatch) < keys \(self.keys)")
    }

    /// 1/sqrt(D), the score scale.
    public var scale: Float { 1 / Float(headDim).squareRoot() }
}

// MARK: - Kernels

extension Kernels {
    /// Causal GQA attention: out[b,t,h,:] = softmax_s(q·k/√D, s ≤ offset+t, s ≥ keyStart[b]) · v.
    /// q [B·T, H·D], k/v [B·S, KV·D], out [B·T, H·D]; writes the row logsumexp into lse [B, H, T] when given.
    public static func attentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?,
                                        shape sh: AttentionShape, keyStart: [Int]? = nil) {
        let (t, s, h, g, d) = (sh.queries, sh.keys, sh.heads, sh.kvHeads, sh.headDim)
        let group = h / g
        // One unit of work per (batch row, query head), each on one core with serial products and its own score block.
        let units = sh.batch * h
        let tasks = min(Parallel.threads, units)
        BLAS.serialProducts { Parallel.forEachTask(tasks) { task in
            let scratch = Tensor(uninitialized: [max(1, t * s)])
            defer { withExtendedLifetime(scratch) {} }
            let scores = scratch.data
            for u in (units * task / tasks)..<(units * (task + 1) / tasks) {
                let b = u / h, hh = u % h, kvh = hh / group
                let start = keyStart?[b] ?? 0
                let qb = q + b * t * h * d + hh * d
                let kb = k + b * sh.kvRowsPerBatch * g * d + kvh * d
                let vb = v + b * sh.kvRowsPerBatch * g * d + kvh * d
                BLAS.gemm(transB: true, m: t, n: s, k: d, alpha: sh.scale, a: qb, lda: h * d, b: kb, ldb: g * d, c: scores, ldc: s)
                for i in 0..<t {
                    let row = scores + i * s
                    let hi = min(s, sh.queryOffset + i + 1)
                    if start > 0 { row.update(repeating: 0, count: min(start, s)) }
                    let l: Float
                    if hi > start {
                        l = softmaxRow(row + start, n: s - start, valid: hi - start)
                    } else {
                        row.update(repeating: 0, count: s)
                        l = 0
                    }
                    lse?[(b * h + hh) * t + i] = l
                }
                BLAS.gemm(m: t, n: d, k: s, a: scores, lda: s, b: vb, ldb: g * d, c: out + b * t * h * d + hh * d, ldc: h * d)
            }
        } }
    }

    /// Backward of `attentionForward`, accumulating into dq/dk/dv (any may be nil); P is recomputed from q, k and lse.
    public static func attentionBackward(dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         lse: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
                                         dv: UnsafeMutablePointer<Float>?, shape sh: AttentionShape, keyStart: [Int]? = nil) {
        let (t, s, h, g, d) = (sh.queries, sh.keys, sh.heads, sh.kvHeads, sh.headDim)
        let group = h / g
        let scale = sh.scale
        // One unit per (batch row, KV head): the query heads sharing a KV head all add into its dk/dv, so they stay together.
        let units = sh.batch * g
        let tasks = min(Parallel.threads, units)
        BLAS.serialProducts { Parallel.forEachTask(tasks) { task in
            let scratch = Tensor(uninitialized: [2, max(1, t * s)])
            defer { withExtendedLifetime(scratch) {} }
            let p = scratch.data, dp = scratch.data + max(1, t * s)
            for u in (units * task / tasks)..<(units * (task + 1) / tasks) {
                let b = u / g, kvh = u % g
                let start = keyStart?[b] ?? 0
                let kb = k + b * sh.kvRowsPerBatch * g * d + kvh * d
                let vb = v + b * sh.kvRowsPerBatch * g * d + kvh * d
                for hh in (kvh * group)..<((kvh + 1) * group) {
                    let qb = q + b * t * h * d + hh * d
                    let dob = dOut + b * t * h * d + hh * d
                    BLAS.gemm(transB: true, m: t, n: s, k: d, alpha: scale, a: qb, lda: h * d, b: kb, ldb: g * d, c: p, ldc: s)
                    BLAS.gemm(transB: true, m: t, n: s, k: d, a: dob, lda: h * d, b: vb, ldb: g * d, c: dp, ldc: s)
                    for i in 0..<t {
                        let pr = p + i * s, dr = dp + i * s
                        let hi = min(s, sh.queryOffset + i + 1)
                        let l = lse[(b * h + hh) * t + i]
                        var delta: Float = 0
                        if hi > start {
                            let l8 = F8(repeating: l)
                            var j = start, acc = F8()
                            while j + 8 <= hi {
                                let e = exp8(load8(pr + j) - l8)
                                store8(e, pr + j)
                                acc += e * load8(dr + j)
                                j += 8
                            }
                            delta = acc.sum()
                            while j < hi { let e = exp1(pr[j] - l); pr[j] = e; delta += e * dr[j]; j += 1 }
                            j = start
                            let dl8 = F8(repeating: delta)
                            while j + 8 <= hi { store8(load8(pr + j) * (load8(dr + j) - dl8) * scale, dr + j); j += 8 }
                            while j < hi { dr[j] = pr[j] * (dr[j] - delta) * scale; j += 1 }
                        }
                        // Masked entries: zero probability and zero score gradient.
                        if start > 0 { pr.update(repeating: 0, count: min(start, s)); dr.update(repeating: 0, count: min(start, s)) }
                        let from = max(hi, start)
                        if from < s { (pr + from).update(repeating: 0, count: s - from); (dr + from).update(repeating: 0, count: s - from) }
                    }
                    // p now holds P, dp holds dScores·scale.
                    if let dv {
                        BLAS.gemm(transA: true, m: s, n: d, k: t, a: p, lda: s, b: dob, ldb: h * d, beta: 1,
                                        c: dv + b * sh.kvRowsPerBatch * g * d + kvh * d, ldc: g * d)
                    }
                    if let dq {
                        BLAS.gemm(m: t, n: d, k: s, a: dp, lda: s, b: kb, ldb: g * d, beta: 1, c: dq + b * t * h * d + hh * d, ldc: h * d)
                    }
                    if let dk {
                        BLAS.gemm(transA: true, m: s, n: d, k: t, a: dp, lda: s, b: qb, ldb: h * d, beta: 1,
                                        c: dk + b * sh.kvRowsPerBatch * g * d + kvh * d, ldc: g * d)
                    }
                }
            }
        } }
    }
}
