// TokenHead: per-token log-probability and entropy straight from hidden states through the output
// projection (logits = h·Wᵀ), in row chunks so the [N, V] logits of a batch are never held at once
// (Qwen's V is 151,936). The backward recomputes each chunk's logits from the saved row logsumexp.
// It is not a sampler and returns no full logits (use a plain matrix product for those).
import Foundation

// MARK: - Token head kernels

extension Kernels {
    /// Rows per logits chunk for vocabulary size V: about 64 M floats (256 MB) per chunk, at least 8 rows. Large chunks
    /// keep the backward's dW += dzᵀ·h passes over the [V, C] gradient few (each pass streams all of dW).
    public static func headChunkRows(vocab: Int) -> Int { max(8, (1 << 26) / max(vocab, 1)) }

    /// For rows of h [N, C] and W [V, C]: logp[i] = log_softmax(h_i·Wᵀ)[target_i], entropy[i] = −Σ p log p, lse[i] = logsumexp.
    public static func tokenHeadForward(
        hidden h: UnsafePointer<Float>, weight w: UnsafePointer<Float>, targets: [Int32],
        rows n: Int, width c: Int, vocab v: Int,
        logprobs: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>?,
        lse: UnsafeMutablePointer<Float>?, chunkRows: Int? = nil
    ) {
        forEachChunk(rows: n, vocab: v, chunkRows: chunkRows) { z, r0, m in
            chunkLogits(
                hidden: h + r0 * c, weight: w, targets: targets, first: r0, rows: m, width: c, vocab: v, z: z,
                logprobs: logprobs, entropy: entropy, lse: lse.map { $0 + r0 })
        }
    }

    /// Backward of `tokenHeadForward`: with g = dL/dlogp and e = dL/dentropy per row, dz_k = p_k(−g − e(log p_k + H)) + g·[k = target];
    /// dh += dz·W, dW += dzᵀ·h (either may be nil). `lse` and `entropyValues` are the forward's saved rows.
    public static func tokenHeadBackward(
        hidden h: UnsafePointer<Float>, weight w: UnsafePointer<Float>, targets: [Int32],
        rows n: Int, width c: Int, vocab v: Int,
        lse: UnsafePointer<Float>, entropyValues: UnsafePointer<Float>,
        gradLogprobs: UnsafePointer<Float>?, gradEntropy: UnsafePointer<Float>?,
        dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        chunkRows: Int? = nil
    ) {
        forEachChunk(rows: n, vocab: v, chunkRows: chunkRows) { z, r0, m in
            BLAS.gemm(transB: true, m: m, n: v, k: c, a: h + r0 * c, lda: c, b: w, ldb: c, c: z, ldc: v)
            Parallel.chunks(m, minChunk: max(1, parallelGrain / v)) { rr in
                for i in rr {
                    let row = r0 + i
                    logitGradient(
                        z + i * v, v, target: Int(targets[row]), gradLogprob: gradLogprobs?[row] ?? 0,
                        gradEntropy: gradEntropy?[row] ?? 0, lse: lse[row], entropy: entropyValues[row])
                }
            }
            if let dHidden {
                BLAS.gemm(m: m, n: c, k: v, a: z, lda: v, b: w, ldb: c, beta: 1, c: dHidden + r0 * c, ldc: c)
            }
            if let dWeight {
                BLAS.gemm(
                    transA: true, m: v, n: c, k: m, a: z, lda: v, b: h + r0 * c, ldb: c, beta: 1, c: dWeight, ldc: c)
            }
        }
    }

    /// Fused output head and per-token loss: for each row chunk, the logits z = h·Wᵀ give logp and entropy; `loss(row,
    /// logp, entropy)` returns (ℓ, ∂ℓ/∂logp, ∂ℓ/∂entropy) for that row; the logits' gradient follows while the chunk is
    /// still in memory, and dHidden = dz·W (written), dWeight = Σ dzᵀ·h (written by the first chunk, then added).
    /// Returns Σ ℓ (in Double). Either gradient may be nil (then nothing is computed for it). This is the forward and
    /// the backward of `tokenHeadForward` + a per-token loss in one pass, with no logits recomputed.
    public static func tokenHeadLoss(
        hidden h: UnsafePointer<Float>, weight w: UnsafePointer<Float>, targets: [Int32],
        rows n: Int, width c: Int, vocab v: Int,
        logprobs: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>,
        loss: (Int, Float, Float) -> (Float, Float, Float),
        dHidden: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        chunkRows: Int? = nil
    ) -> Double {
        let chunk = chunkSize(rows: n, vocab: v, chunkRows: chunkRows)
        let rowBuffer = Tensor(uninitialized: [3, chunk])
        defer { withExtendedLifetime(rowBuffer) {} }
        let lse = rowBuffer.data, gl = rowBuffer.data + chunk, ge = rowBuffer.data + 2 * chunk
        let wantGrad = dHidden != nil || dWeight != nil
        var total = 0.0
        forEachChunk(rows: n, vocab: v, chunkRows: chunkRows) { z, r0, m in
            chunkLogits(
                hidden: h + r0 * c, weight: w, targets: targets, first: r0, rows: m, width: c, vocab: v, z: z,
                logprobs: logprobs, entropy: entropy, lse: lse)
            for i in 0..<m {
                let (li, g, e) = loss(r0 + i, logprobs[r0 + i], entropy[r0 + i])
                total += Double(li)
                gl[i] = g
                ge[i] = e
            }
            if wantGrad {
                Parallel.chunks(m, minChunk: max(1, parallelGrain / v)) { rr in
                    for i in rr {
                        logitGradient(
                            z + i * v, v, target: Int(targets[r0 + i]), gradLogprob: gl[i], gradEntropy: ge[i],
                            lse: lse[i], entropy: entropy[r0 + i])
                    }
                }
                if let dHidden {
                    BLAS.gemm(m: m, n: c, k: v, a: z, lda: v, b: w, ldb: c, beta: 0, c: dHidden + r0 * c, ldc: c)
                }
                if let dWeight {
                    BLAS.gemm(
                        transA: true, m: v, n: c, k: m, a: z, lda: v, b: h + r0 * c, ldb: c, beta: r0 == 0 ? 0 : 1,
                        c: dWeight, ldc: c)
                }
            }
        }
        return total
    }

    /// Rows per logits chunk for n rows (`chunkRows`, else `headChunkRows`, at most n).
    static func chunkSize(rows n: Int, vocab v: Int, chunkRows: Int?) -> Int {
        min(max(1, chunkRows ?? headChunkRows(vocab: v)), max(n, 1))
    }

    /// Calls `body(z, first, m)` for consecutive row chunks of 0..<n with one [chunk, V] logits buffer `z` they share.
    static func forEachChunk(
        rows n: Int, vocab v: Int, chunkRows: Int?,
        _ body: (UnsafeMutablePointer<Float>, Int, Int) -> Void
    ) {
        let chunk = chunkSize(rows: n, vocab: v, chunkRows: chunkRows)
        let zBuffer = Tensor(uninitialized: [chunk, v])
        defer { withExtendedLifetime(zBuffer) {} }
        var r0 = 0
        while r0 < n {
            let m = min(chunk, n - r0)
            body(zBuffer.data, r0, m)
            r0 += m
        }
    }

    /// One chunk's logits z [m, V] = h·Wᵀ for rows first..<first+m, and per row its log-prob of the target, entropy and
    /// logsumexp (lse indexed from the chunk's first row; logprobs and entropy from row 0 of the whole batch).
    static func chunkLogits(
        hidden h: UnsafePointer<Float>, weight w: UnsafePointer<Float>, targets: [Int32], first r0: Int,
        rows m: Int, width c: Int, vocab v: Int, z: UnsafeMutablePointer<Float>,
        logprobs: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>?,
        lse: UnsafeMutablePointer<Float>?
    ) {
        BLAS.gemm(transB: true, m: m, n: v, k: c, a: h, lda: c, b: w, ldb: c, c: z, ldc: v)
        Parallel.chunks(m, minChunk: max(1, parallelGrain / v)) { rr in
            for i in rr {
                let zr = z + i * v
                let (l, ez) = rowLogSumExp(zr, v)
                logprobs[r0 + i] = zr[Int(targets[r0 + i])] - l
                entropy?[r0 + i] = l - ez
                lse?[i] = l
            }
        }
    }

    /// Replaces a row of logits z (length v) by dL/dz for dL/dlogp[target] = g and dL/dentropy = e:
    /// dz_k = p_k(−g − e(log p_k + H)) + g·[k = target] = p_k·(a − e·z_k) + g·[k = target] with a = −g − e(H − lse),
    /// since log p_k = z_k − lse.
    @inline(__always)
    static func logitGradient(
        _ zr: UnsafeMutablePointer<Float>, _ v: Int, target: Int, gradLogprob g: Float, gradEntropy e: Float,
        lse l: Float, entropy ent: Float
    ) {
        let a = -g - e * (ent - l)
        let l8 = F8(repeating: l), a8 = F8(repeating: a), e8 = F8(repeating: e)
        var j = 0
        while j + 8 <= v {
            let zz = load8(zr + j)
            store8(exp8(zz - l8) * (a8 - e8 * zz), zr + j)
            j += 8
        }
        while j < v { let zz = zr[j]; zr[j] = exp1(zz - l) * (a - e * zz); j += 1 }
        zr[target] += g
    }

    /// (logsumexp(z), Σ softmax(z)_k z_k) of one row, in two SIMD passes.
    @inline(__always)
    static func rowLogSumExp(_ z: UnsafePointer<Float>, _ v: Int) -> (Float, Float) {
        var mx8 = F8(repeating: -.infinity), j = 0
        while j + 8 <= v {
            let zz = load8(z + j)
            for l in 0..<8 { mx8[l] = Swift.max(mx8[l], zz[l]) }
            j += 8
        }
        var mx = -Float.infinity
        for l in 0..<8 { mx = Swift.max(mx, mx8[l]) }
        while j < v { mx = max(mx, z[j]); j += 1 }
        let m8 = F8(repeating: mx)
        var s8 = F8(), sz8 = F8()
        j = 0
        while j + 8 <= v {
            let zz = load8(z + j)
            let e = exp8(zz - m8)
            s8 += e
            sz8 += e * zz
            j += 8
        }
        var s = s8.sum(), sz = sz8.sum()
        while j < v { let e = exp1(z[j] - mx); s += e; sz += e * z[j]; j += 1 }
        return (mx + Foundation.log(s), sz / s)
    }
}
