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
    public init(
        batch: Int, queries: Int, keys: Int? = nil, heads: Int, kvHeads: Int, headDim: Int, queryOffset: Int = 0,
        kvRowsPerBatch: Int? = nil
    ) {
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
    /// Queries per block: a block of queries only multiplies the keys its last query can see, which skips most of the
    /// masked upper triangle (about 40% of the score products at T = 256, approaching half for long sequences).
    public static let attentionQueryBlock = 64

    /// Causal GQA attention: out[b,t,h,:] = softmax_s(q·k/√D, s ≤ offset+t, s ≥ keyStart[b], s ≥ segmentStart[b,t]) · v.
    /// q [B·T, H·D], k/v [B·S, KV·D], out [B·T, H·D]; writes the row logsumexp into lse [B, H, T] when given (0 for a row
    /// that sees no key, whose output is 0). `segmentStart` [B·T] (packed rows: several sequences in one row) is the first
    /// key each query may see, non-decreasing along a row and never after the query itself.
    public static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?,
        shape sh: AttentionShape, keyStart: [Int]? = nil, segmentStart: [Int32]? = nil
    ) {
        let (t, s, h, g, d) = (sh.queries, sh.keys, sh.heads, sh.kvHeads, sh.headDim)
        let group = h / g, bq = attentionQueryBlock
        // One unit of work per (batch row, query head), each on one core with serial products and its own score block.
        let units = sh.batch * h
        let tasks = min(Parallel.threads, units)
        BLAS.serialProducts {
            Parallel.forEachTask(tasks) { task in
                let scratch = Tensor(uninitialized: [max(1, min(bq, t) * s)])
                defer { withExtendedLifetime(scratch) {} }
                let scores = scratch.data
                for u in (units * task / tasks)..<(units * (task + 1) / tasks) {
                    let b = u / h, hh = u % h, kvh = hh / group
                    let rowLo = min(keyStart?[b] ?? 0, s)
                    var i0 = 0
                    while i0 < t {
                        let m = min(bq, t - i0)
                        // A block multiplies keys from the first one its first query sees (segment starts grow along a row).
                        let kLo = segmentStart.map { max(rowLo, min(s, Int($0[b * t + i0]))) } ?? rowLo
                        let kb = k + (b * sh.kvRowsPerBatch + kLo) * g * d + kvh * d
                        let vb = v + (b * sh.kvRowsPerBatch + kLo) * g * d + kvh * d
                        let qb = q + (b * t + i0) * h * d + hh * d
                        let ob = out + (b * t + i0) * h * d + hh * d
                        // Keys [kLo, kHi) are the ones some query of the block sees.
                        let width = min(s, sh.queryOffset + i0 + m) - kLo
                        if width <= 0 {
                            for i in 0..<m {
                                (ob + i * h * d).update(repeating: 0, count: d); lse?[(b * h + hh) * t + i0 + i] = 0
                            }
                            i0 += m
                            continue
                        }
                        BLAS.gemm(
                            transB: true, m: m, n: width, k: d, alpha: sh.scale, a: qb, lda: h * d, b: kb, ldb: g * d,
                            c: scores, ldc: width)
                        for i in 0..<m {
                            let row = scores + i * width
                            let valid = min(s, sh.queryOffset + i0 + i + 1) - kLo
                            // Keys before the query's segment (packed rows) get probability 0.
                            let lo = segmentStart.map { min(max(0, Int($0[b * t + i0 + i]) - kLo), max(valid, 0)) } ?? 0
                            let l: Float
                            if valid > lo {
                                if lo > 0 { row.update(repeating: 0, count: lo) }
                                l = softmaxRow(row + lo, n: width - lo, valid: valid - lo)
                            } else {
                                row.update(repeating: 0, count: width)
                                l = 0
                            }
                            lse?[(b * h + hh) * t + i0 + i] = l
                        }
                        BLAS.gemm(m: m, n: d, k: width, a: scores, lda: width, b: vb, ldb: g * d, c: ob, ldc: h * d)
                        i0 += m
                    }
                }
            }
        }
    }

    /// Backward of `attentionForward`, accumulating into dq/dk/dv (any may be nil); P is recomputed from q, k and lse.
    public static func attentionBackward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        lse: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
        dv: UnsafeMutablePointer<Float>?, shape sh: AttentionShape, keyStart: [Int]? = nil,
        segmentStart: [Int32]? = nil
    ) {
        let (t, s, h, g, d) = (sh.queries, sh.keys, sh.heads, sh.kvHeads, sh.headDim)
        let group = h / g, bq = attentionQueryBlock
        let scale = sh.scale
        // One unit per (batch row, KV head): the query heads sharing a KV head all add into its dk/dv, so they stay together.
        let units = sh.batch * g
        let tasks = min(Parallel.threads, units)
        BLAS.serialProducts {
            Parallel.forEachTask(tasks) { task in
                let block = max(1, min(bq, t) * s)
                let scratch = Tensor(uninitialized: [2, block])
                defer { withExtendedLifetime(scratch) {} }
                let p = scratch.data, dp = scratch.data + block
                for u in (units * task / tasks)..<(units * (task + 1) / tasks) {
                    let b = u / g, kvh = u % g
                    let rowLo = min(keyStart?[b] ?? 0, s)
                    for hh in (kvh * group)..<((kvh + 1) * group) {
                        var i0 = 0
                        while i0 < t {
                            let m = min(bq, t - i0)
                            let kLo = segmentStart.map { max(rowLo, min(s, Int($0[b * t + i0]))) } ?? rowLo
                            let kvOffset = (b * sh.kvRowsPerBatch + kLo) * g * d + kvh * d
                            let kb = k + kvOffset, vb = v + kvOffset
                            let width = min(s, sh.queryOffset + i0 + m) - kLo
                            let rowOffset = (b * t + i0) * h * d + hh * d
                            let qb = q + rowOffset, dob = dOut + rowOffset
                            guard width > 0 else { i0 += m; continue }  // no key seen: no gradient
                            BLAS.gemm(
                                transB: true, m: m, n: width, k: d, alpha: scale, a: qb, lda: h * d, b: kb, ldb: g * d,
                                c: p, ldc: width)
                            BLAS.gemm(
                                transB: true, m: m, n: width, k: d, a: dob, lda: h * d, b: vb, ldb: g * d, c: dp,
                                ldc: width)
                            for i in 0..<m {
                                let full = max(0, min(s, sh.queryOffset + i0 + i + 1) - kLo)
                                // Keys before the query's segment (packed rows): zero probability and gradient.
                                let lo = segmentStart.map { min(max(0, Int($0[b * t + i0 + i]) - kLo), full) } ?? 0
                                if lo > 0 {
                                    (p + i * width).update(repeating: 0, count: lo)
                                    (dp + i * width).update(repeating: 0, count: lo)
                                }
                                let pr = p + i * width + lo, dr = dp + i * width + lo
                                let valid = full - lo, span = width - lo
                                let l = lse[(b * h + hh) * t + i0 + i]
                                var delta: Float = 0
                                let l8 = F8(repeating: l)
                                var j = 0, acc = F8()
                                while j + 8 <= valid {
                                    let e = exp8(load8(pr + j) - l8)
                                    store8(e, pr + j)
                                    acc += e * load8(dr + j)
                                    j += 8
                                }
                                delta = acc.sum()
                                while j < valid { let e = exp1(pr[j] - l); pr[j] = e; delta += e * dr[j]; j += 1 }
                                j = 0
                                let dl8 = F8(repeating: delta)
                                while j + 8 <= valid {
                                    store8(load8(pr + j) * (load8(dr + j) - dl8) * scale, dr + j); j += 8
                                }
                                while j < valid { dr[j] = pr[j] * (dr[j] - delta) * scale; j += 1 }
                                // Masked entries: zero probability and zero score gradient.
                                if valid < span {
                                    (pr + valid).update(repeating: 0, count: span - valid);
                                    (dr + valid).update(repeating: 0, count: span - valid)
                                }
                            }
                            // p now holds P, dp holds dScores·scale, both [m, width].
                            if let dv {
                                BLAS.gemm(
                                    transA: true, m: width, n: d, k: m, a: p, lda: width, b: dob, ldb: h * d, beta: 1,
                                    c: dv + kvOffset, ldc: g * d)
                            }
                            if let dq {
                                BLAS.gemm(
                                    m: m, n: d, k: width, a: dp, lda: width, b: kb, ldb: g * d, beta: 1,
                                    c: dq + rowOffset, ldc: h * d)
                            }
                            if let dk {
                                BLAS.gemm(
                                    transA: true, m: width, n: d, k: m, a: dp, lda: width, b: qb, ldb: h * d, beta: 1,
                                    c: dk + kvOffset, ldc: g * d)
                            }
                            i0 += m
                        }
                    }
                }
            }
        }
    }
}
