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

/// Packed rows whose sequences continue a shared prefix (a group's prompt computed once): per query [B·T], the keys
/// [start, end) it sees besides its own segment's. Empty (start == end) for a query that continues nothing; a range ends
/// at or before the query's segment start.
public struct SharedPrefix: Sendable, Equatable {
    /// Per query: the first key of the prefix it continues.
    public var start: [Int32]
    /// Per query: one past the prefix's last key.
    public var end: [Int32]

    /// Ranges per query ([B·T] each).
    public init(start: [Int32], end: [Int32]) {
        precondition(start.count == end.count, "shared prefix: \(start.count) starts, \(end.count) ends")
        self.start = start
        self.end = end
    }

    /// Whether any of queries base..<base+m continues a prefix, and the prefix keys [lo, lo + width) before `ownStart`
    /// (the block's first own key) that they read: the union of their ranges that end by `ownStart`. A range never
    /// straddles `ownStart` (a prefix is a whole segment), so a query's prefix lies either there or among the own keys.
    func span(base: Int, count m: Int, ownStart: Int) -> (any: Bool, lo: Int, width: Int) {
        var lo = Int.max, hi = 0, any = false
        for i in base..<(base + m) where end[i] > start[i] {
            any = true
            guard Int(end[i]) <= ownStart else { continue }
            lo = min(lo, Int(start[i]))
            hi = max(hi, Int(end[i]))
        }
        return hi > lo ? (any, lo, hi - lo) : (any, 0, 0)
    }

    /// Query `i`'s prefix entries in a block's score buffer: the prefix span [lo, lo + width) first, then the own keys
    /// from `ownStart`.
    func entries(_ i: Int, lo: Int, width: Int, ownStart: Int) -> Range<Int> {
        let a = Int(start[i]), e = Int(end[i])
        guard e > a else { return 0..<0 }
        return e <= ownStart ? (a - lo)..<(e - lo) : (width + a - ownStart)..<(width + e - ownStart)
    }
}

// MARK: - Kernels

extension Kernels {
    /// Queries per block: a block of queries only multiplies the keys its last query can see, which skips most of the
    /// masked upper triangle (about 40% of the score products at T = 256, approaching half for long sequences).
    public static let attentionQueryBlock = 64

    /// Causal GQA attention: out[b,t,h,:] = softmax_s(q·k/√D, s ≤ offset+t, s ≥ keyStart[b], s ≥ segmentStart[b,t]) · v.
    /// q [B·T, H·D], k/v [B·S, KV·D], out [B·T, H·D]; writes the row logsumexp into lse [B, H, T] when given (0 for a row
    /// that sees no key, whose output is 0). `segmentStart` [B·T] (packed rows: several sequences in one row) is the first
    /// key each query may see, non-decreasing along a row and never after the query itself. `prefix` (with
    /// `segmentStart`) adds a shared prefix's keys to what a query sees: a block's scores are its prefix keys' products
    /// then its own keys', side by side in one buffer, so keys between the two are never multiplied.
    public static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?,
        shape sh: AttentionShape, keyStart: [Int]? = nil, segmentStart: [Int32]? = nil, prefix: SharedPrefix? = nil
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
                        // A shared prefix's keys [pLo, pLo + pw) come first in the scores, then the block's own keys.
                        let (shared, pLo, pw) = prefix?.span(base: b * t + i0, count: m, ownStart: kLo) ?? (false, 0, 0)
                        let stride = pw + width
                        let kp = k + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d
                        let vp = v + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d
                        if pw > 0 {
                            BLAS.gemm(
                                transB: true, m: m, n: pw, k: d, alpha: sh.scale, a: qb, lda: h * d, b: kp, ldb: g * d,
                                c: scores, ldc: stride)
                        }
                        BLAS.gemm(
                            transB: true, m: m, n: width, k: d, alpha: sh.scale, a: qb, lda: h * d, b: kb, ldb: g * d,
                            c: scores + pw, ldc: stride)
                        for i in 0..<m {
                            let row = scores + i * stride
                            let valid = min(s, sh.queryOffset + i0 + i + 1) - kLo
                            // Keys before the query's segment (packed rows) get probability 0.
                            let lo = segmentStart.map { min(max(0, Int($0[b * t + i0 + i]) - kLo), max(valid, 0)) } ?? 0
                            let l: Float
                            if shared {
                                let a = prefix!.entries(b * t + i0 + i, lo: pLo, width: pw, ownStart: kLo)
                                l = softmaxRanges(row, n: stride, a, (pw + lo)..<(pw + max(valid, lo)))
                            } else if valid > lo {
                                if lo > 0 { row.update(repeating: 0, count: lo) }
                                l = softmaxRow(row + lo, n: width - lo, valid: valid - lo)
                            } else {
                                row.update(repeating: 0, count: width)
                                l = 0
                            }
                            lse?[(b * h + hh) * t + i0 + i] = l
                        }
                        if pw > 0 {
                            BLAS.gemm(m: m, n: d, k: pw, a: scores, lda: stride, b: vp, ldb: g * d, c: ob, ldc: h * d)
                        }
                        BLAS.gemm(
                            m: m, n: d, k: width, a: scores + pw, lda: stride, b: vb, ldb: g * d,
                            beta: pw > 0 ? 1 : 0, c: ob, ldc: h * d)
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
        segmentStart: [Int32]? = nil, prefix: SharedPrefix? = nil
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
                            let (shared, pLo, pw) =
                                prefix?.span(base: b * t + i0, count: m, ownStart: kLo) ?? (false, 0, 0)
                            if shared {
                                sharedPrefixBlockBackward(
                                    q: qb, dOut: dob, k: kb, v: vb,
                                    kp: k + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d,
                                    vp: v + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d,
                                    lse: lse + (b * h + hh) * t + i0, p: p, dp: dp, m: m, width: width, pw: pw,
                                    rowStride: h * d, kvStride: g * d, headDim: d, scale: scale,
                                    entries: { i in
                                        let full = max(0, min(s, sh.queryOffset + i0 + i + 1) - kLo)
                                        let lo = segmentStart.map { min(max(0, Int($0[b * t + i0 + i]) - kLo), full) } ?? 0
                                        return (
                                            prefix!.entries(b * t + i0 + i, lo: pLo, width: pw, ownStart: kLo),
                                            (pw + lo)..<(pw + full)
                                        )
                                    },
                                    dq: dq.map { $0 + rowOffset },
                                    dk: dk.map { $0 + kvOffset }, dv: dv.map { $0 + kvOffset },
                                    dkp: dk.map { $0 + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d },
                                    dvp: dv.map { $0 + (b * sh.kvRowsPerBatch + pLo) * g * d + kvh * d })
                                i0 += m
                                continue
                            }
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

    /// Softmax of `row[0..<n]` over the entries in `a` and `b` (disjoint, `a` first); every other entry becomes 0. Returns
    /// the logsumexp (0, with a zero row, when both are empty).
    static func softmaxRanges(_ row: UnsafeMutablePointer<Float>, n: Int, _ a: Range<Int>, _ b: Range<Int>) -> Float {
        var mx = -Float.infinity
        for j in a { mx = max(mx, row[j]) }
        for j in b { mx = max(mx, row[j]) }
        guard mx > -Float.infinity else {
            row.update(repeating: 0, count: n)
            return 0
        }
        var sum: Float = 0
        if !a.isEmpty { sum += expShifted(row + a.lowerBound, count: a.count, by: mx) }
        if !b.isEmpty { sum += expShifted(row + b.lowerBound, count: b.count, by: mx) }
        let inv = 1 / sum
        for x in a { row[x] *= inv }
        for x in b { row[x] *= inv }
        zeroOutside(row, n: n, a, b)
        return mx + Foundation.log(sum)
    }

    /// Zeroes row[0..<n] outside the ranges `a` and `b` (disjoint, `a` first).
    @inline(__always)
    static func zeroOutside(_ row: UnsafeMutablePointer<Float>, n: Int, _ a: Range<Int>, _ b: Range<Int>) {
        var j = 0
        if a.lowerBound > j { (row + j).update(repeating: 0, count: a.lowerBound - j) }
        j = max(j, a.upperBound)
        if b.lowerBound > j { (row + j).update(repeating: 0, count: b.lowerBound - j) }
        j = max(j, b.upperBound)
        if n > j { (row + j).update(repeating: 0, count: n - j) }
    }

    /// x[i] = exp(x[i] - shift) for `count` entries; returns their sum.
    @inline(__always)
    static func expShifted(_ x: UnsafeMutablePointer<Float>, count: Int, by shift: Float) -> Float {
        let s8 = F8(repeating: shift)
        var acc = F8(), j = 0
        while j + 8 <= count { let e = exp8(load8(x + j) - s8); store8(e, x + j); acc += e; j += 8 }
        var sum = acc.sum()
        while j < count { let e = exp1(x[j] - shift); x[j] = e; sum += e; j += 1 }
        return sum
    }

    /// The backward of one query block of one head whose queries continue a shared prefix: the prefix keys before the
    /// block's own, `kp`/`vp` ([pw] of them, possibly none), and its own `k`/`v` ([width]), scores and their gradients
    /// side by side in `p`/`dp` ([m, pw + width]), each query's visible entries from `entries(i)` (its prefix's, then
    /// its own segment's, in buffer coordinates); the prefix's dK/dV accumulate from every block that reads it.
    static func sharedPrefixBlockBackward(
        q: UnsafePointer<Float>, dOut: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        kp: UnsafePointer<Float>, vp: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        p: UnsafeMutablePointer<Float>, dp: UnsafeMutablePointer<Float>, m: Int, width: Int, pw: Int,
        rowStride: Int, kvStride: Int, headDim d: Int, scale: Float,
        entries: (Int) -> (Range<Int>, Range<Int>),
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        dkp: UnsafeMutablePointer<Float>?, dvp: UnsafeMutablePointer<Float>?
    ) {
        let n = pw + width
        if pw > 0 {
            BLAS.gemm(
                transB: true, m: m, n: pw, k: d, alpha: scale, a: q, lda: rowStride, b: kp, ldb: kvStride, c: p, ldc: n)
            BLAS.gemm(transB: true, m: m, n: pw, k: d, a: dOut, lda: rowStride, b: vp, ldb: kvStride, c: dp, ldc: n)
        }
        BLAS.gemm(
            transB: true, m: m, n: width, k: d, alpha: scale, a: q, lda: rowStride, b: k, ldb: kvStride, c: p + pw,
            ldc: n)
        BLAS.gemm(
            transB: true, m: m, n: width, k: d, a: dOut, lda: rowStride, b: v, ldb: kvStride, c: dp + pw, ldc: n)
        for i in 0..<m {
            let (shared, ownRange) = entries(i)
            let pr = p + i * n, dr = dp + i * n, l = lse[i]
            // P = exp(S - lse) on visible entries; dS = P (dP - Σ P dP) · scale; zero elsewhere.
            var delta: Float = 0
            for j in shared { let e = exp1(pr[j] - l); pr[j] = e; delta += e * dr[j] }
            for j in ownRange { let e = exp1(pr[j] - l); pr[j] = e; delta += e * dr[j] }
            for x in shared { dr[x] = pr[x] * (dr[x] - delta) * scale }
            for x in ownRange { dr[x] = pr[x] * (dr[x] - delta) * scale }
            zeroOutside(pr, n: n, shared, ownRange)
            zeroOutside(dr, n: n, shared, ownRange)
        }
        if pw > 0, let dvp { BLAS.gemm(transA: true, m: pw, n: d, k: m, a: p, lda: n, b: dOut, ldb: rowStride, beta: 1, c: dvp, ldc: kvStride) }
        if let dv {
            BLAS.gemm(transA: true, m: width, n: d, k: m, a: p + pw, lda: n, b: dOut, ldb: rowStride, beta: 1, c: dv, ldc: kvStride)
        }
        if let dq {
            if pw > 0 { BLAS.gemm(m: m, n: d, k: pw, a: dp, lda: n, b: kp, ldb: kvStride, beta: 1, c: dq, ldc: rowStride) }
            BLAS.gemm(m: m, n: d, k: width, a: dp + pw, lda: n, b: k, ldb: kvStride, beta: 1, c: dq, ldc: rowStride)
        }
        if pw > 0, let dkp { BLAS.gemm(transA: true, m: pw, n: d, k: m, a: dp, lda: n, b: q, ldb: rowStride, beta: 1, c: dkp, ldc: kvStride) }
        if let dk {
            BLAS.gemm(transA: true, m: width, n: d, k: m, a: dp + pw, lda: n, b: q, ldb: rowStride, beta: 1, c: dk, ldc: kvStride)
        }
    }
}
