// DecodeKernels: the decode-time kernels the sampler adds to VerityTensor's: a skinny matrix
// product x·Wᵀ that streams each weight row once for all batch rows (OpenBLAS is slow on 1–8-row
// products), attention of one new query per row over a chain of KV-cache spans, a row logsumexp
// and a streaming-bandwidth probe for the benchmark's roofline. Every output element is computed
// by the same sequence of float operations whatever the batch size or thread count (work is split
// over output columns only), so a row's numbers never depend on what else is in the batch. It is
// not a general GEMM (large prefill products go through BLAS.gemm like the trainer's). The skinny
// product's loop is in C (CDecodeKernels) for AVX2/FMA with run-time dispatch.
import VerityMeasure
import Foundation
import VerityTensor
import CDecodeKernels

// MARK: - SIMD helpers

typealias V8 = SIMD8<Float>

@inline(__always) func ld8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
@inline(__always) func st8(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }

// MARK: - Kernels

/// Decode-time kernels: skinny products, cached attention, logsumexp, bandwidth probe.
public enum DecodeKernels {
    /// out[i·N + j] = Σ_k x[i·K + k]·w[j·K + k] (+ bias[j]) for x [M, K], W [N, K]; the weight streams once for all M rows.
    /// Each element's arithmetic is independent of M and of `threads` (the split is over N). The loop is C
    /// (CDecodeKernels) so it can use AVX2/FMA, chosen at run time.
    public static func matmulNT(x: UnsafePointer<Float>, rows m: Int, inner k: Int, weight w: UnsafePointer<Float>, outputs n: Int,
                                bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, threads: Int) {
        if m == 0 || n == 0 { return }
        let blocks = (n + 3) / 4
        // About 256 KB of weights per task at least, so tiny products stay on one core.
        let perTask = max(1, (1 << 16) / max(1, 4 * k))
        let tasks = max(1, min(threads, blocks / perTask))
        // Rows go in chunks that stay in L2 while the task's weight rows stream past (prefill has thousands of rows).
        let rowChunk = 64
        Parallel.forEachTask(tasks) { t in
            let j0 = min(n, 4 * (blocks * t / tasks)), j1 = min(n, 4 * (blocks * (t + 1) / tasks))
            guard j1 > j0 else { return }
            var i0 = 0
            while i0 < m {
                let rows = min(rowChunk, m - i0)
                verity_matmul_nt(x + i0 * k, rows, k, w, n, j0, j1, bias, out + i0 * n)
                i0 += rows
            }
        }
    }

    /// Whether the skinny product runs its AVX2/FMA path on this machine.
    public static var skinnyProductUsesAVX2: Bool { verity_matmul_nt_uses_avx2() != 0 }

    /// One dot product (8 lanes over k, lane sum, scalar tail), used by the cached attention.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int) -> Float {
        var acc = V8(), p = 0
        while p + 8 <= k { acc += ld8(a + p) * ld8(b + p); p += 8 }
        var s = acc.sum()
        while p < k { s += a[p] * b[p]; p += 1 }
        return s
    }

    // MARK: Cached attention

    /// A contiguous run of cached keys and values for one layer: `count` rows of stride KV·D.
    public struct Span {
        /// The first key row.
        public var keys: UnsafePointer<Float>
        /// The first value row.
        public var values: UnsafePointer<Float>
        /// The number of cached positions in the run.
        public var count: Int
    }

    /// One query per row attending to all its cached positions (the chain of spans, oldest first), GQA-aware:
    /// out[r, h, :] = Σ_s softmax_s(q[r,h]·k_s/√D)·v_s with query head h reading KV head h / (H / KV).
    /// q, out [R, H·D]; `spanStart[r]..<spanStart[r+1]` index `spans` for row r; `scratch` holds one score row per task.
    public static func cachedAttention(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int,
                                       spans: [Span], spanStart: [Int], heads: Int, kvHeads: Int, headDim d: Int,
                                       maxKeys: Int, threads: Int) {
        let group = heads / kvHeads, kvd = kvHeads * d
        let scale = 1 / Float(d).squareRoot()
        let items = rows * heads
        let tasks = max(1, min(threads, items))
        spans.withUnsafeBufferPointer { sp in
            Parallel.forEachTask(tasks) { t in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxKeys))
                let acc = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { scores.deallocate(); acc.deallocate() }
                for item in (items * t / tasks)..<(items * (t + 1) / tasks) {
                    let r = item / heads, h = item % heads
                    let kvh = h / group
                    let qh = q + r * heads * d + h * d
                    // Scores over every span.
                    var s = 0
                    for si in spanStart[r]..<spanStart[r + 1] {
                        let span = sp[si]
                        for j in 0..<span.count { scores[s] = dot(qh, span.keys + j * kvd + kvh * d, d) * scale; s += 1 }
                    }
                    let n = s
                    // Softmax (max-shifted exponentials, as Kernels.softmaxRow).
                    var mx = -Float.infinity
                    for j in 0..<n { mx = max(mx, scores[j]) }
                    var j = 0, sum8 = V8()
                    let m8 = V8(repeating: mx)
                    while j + 8 <= n { let e = Kernels.exp8(ld8(scores + j) - m8); st8(e, scores + j); sum8 += e; j += 8 }
                    var sum = sum8.sum()
                    while j < n { let e = Kernels.exp1(scores[j] - mx); scores[j] = e; sum += e; j += 1 }
                    let inv = 1 / sum
                    // Weighted sum of values.
                    acc.update(repeating: 0, count: d)
                    s = 0
                    for si in spanStart[r]..<spanStart[r + 1] {
                        let span = sp[si]
                        for jj in 0..<span.count {
                            let pj = V8(repeating: scores[s] * inv)
                            let vr = span.values + jj * kvd + kvh * d
                            var c = 0
                            while c + 8 <= d { st8(ld8(acc + c) + pj * ld8(vr + c), acc + c); c += 8 }
                            let ps = scores[s] * inv
                            while c < d { acc[c] += ps * vr[c]; c += 1 }
                            s += 1
                        }
                    }
                    (out + r * heads * d + h * d).update(from: acc, count: d)
                }
            }
        }
    }

    // MARK: Rows

    /// logsumexp of a row of n logits (max-shifted, float accumulation in 8 lanes, as the trainer's token head).
    public static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float {
        var mx8 = V8(repeating: -.infinity), j = 0
        while j + 8 <= n { mx8 = pointwiseMax(mx8, ld8(z + j)); j += 8 }
        var mx = mx8.max()
        while j < n { mx = max(mx, z[j]); j += 1 }
        let m8 = V8(repeating: mx)
        var s8 = V8()
        j = 0
        while j + 8 <= n { s8 += Kernels.exp8(ld8(z + j) - m8); j += 8 }
        var s = s8.sum()
        while j < n { s += Kernels.exp1(z[j] - mx); j += 1 }
        return mx + Foundation.log(s)
    }

    // MARK: Bandwidth probe

    /// Memory read bandwidth in GB/s: the median of `repeats` passes summing a `megabytes` buffer split over `threads`.
    public static func readBandwidth(megabytes: Int = 512, repeats: Int = 5, threads: Int) -> Double {
        let n = megabytes * (1 << 20) / 4
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { buf.deallocate() }
        Parallel.forEachTask(threads) { t in
            let lo = n * t / threads, hi = n * (t + 1) / threads
            (buf + lo).initialize(repeating: 1, count: hi - lo)
        }
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: max(1, threads))
        defer { sink.deallocate() }
        var rates: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = CPUShareProbe.now()
            Parallel.forEachTask(threads) { t in
                let lo = n * t / threads, hi = n * (t + 1) / threads
                var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), i = lo
                while i + 32 <= hi {
                    a0 += ld8(buf + i); a1 += ld8(buf + i + 8); a2 += ld8(buf + i + 16); a3 += ld8(buf + i + 24)
                    i += 32
                }
                sink[t] = (a0 + a1 + a2 + a3).sum()
            }
            rates.append(Double(n) * 4 / (CPUShareProbe.now() - t0) / 1e9)
        }
        rates.sort()
        return rates[rates.count / 2]
    }
}
