// Kernels: the element-wise and row-wise float32 loops behind the autograd ops (add, RMSNorm,
// RoPE, SwiGLU, softmax rows, embedding), written with SIMD8 over raw pointers and split across
// cores above a size threshold. They allocate nothing per element and know nothing of graphs;
// matrix products live in BLAS.swift, attention in Attention.swift, the output head in TokenHead.swift.
import Foundation

// MARK: - SIMD helpers

/// Eight floats, the vector width the kernels use.
public typealias F8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always) func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

// MARK: - Kernels

/// Raw-pointer kernels used by the autograd ops and by inference code.
public enum Kernels {
    /// Elements per task below which a kernel stays on one core.
    public static let parallelGrain = 1 << 15

    /// e^x for eight lanes (Cephes expf polynomial, within ~2 ulp; inputs clamped to [-87.3, 88.3]). Rounding to the
    /// nearest integer and building 2^n use the 1.5·2²³ "magic number" and integer bit operations, so nothing here
    /// calls a generic float↔int conversion.
    @inline(__always)
    public static func exp8(_ x0: F8) -> F8 {
        var x = x0
        for i in 0..<8 { x[i] = Swift.min(Swift.max(x[i], -87.3), 88.3) }
        let magic = F8(repeating: 12582912)  // 1.5·2²³: adding it rounds to an integer kept in the low mantissa bits
        let t = x * 1.44269504088896341 + magic
        let fx = t - magic
        x = x - fx * 0.693359375
        x = x + fx * 2.12194440e-4
        var y = F8(repeating: 1.9875691500e-4)
        y = y * x + 1.3981999507e-3
        y = y * x + 8.3334519073e-3
        y = y * x + 4.1665795894e-2
        y = y * x + 1.6666665459e-1
        y = y * x + 5.0000001201e-1
        y = y * (x * x) + x + 1
        // bits(t) = 0x4B400000 + n; 2^n has bits (n + 127) << 23.
        let bits = unsafeBitCast(t, to: SIMD8<UInt32>.self) &- SIMD8<UInt32>(repeating: 0x4B40_0000 - 127)
        return y * unsafeBitCast(bits &<< SIMD8<UInt32>(repeating: 23), to: F8.self)
    }

    /// e^x for one float, the scalar twin of `exp8` (same polynomial).
    @inline(__always)
    public static func exp1(_ x: Float) -> Float { exp8(F8(repeating: x))[0] }

    // MARK: Element-wise

    /// out = a + b over `count` elements (out may alias a or b).
    public static func add(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: parallelGrain * 4) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(a + i) + load8(b + i), out + i); i += 8 }
            while i < r.upperBound { out[i] = a[i] + b[i]; i += 1 }
        }
    }

    /// out += alpha · a over `count` elements.
    public static func axpy(
        _ alpha: Float, _ a: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: parallelGrain * 4) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(out + i) + alpha * load8(a + i), out + i); i += 8 }
            while i < r.upperBound { out[i] += alpha * a[i]; i += 1 }
        }
    }

    // MARK: RMSNorm

    /// y[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + eps) over rows of width C; stores 1/sqrt(...) per row in `rstd` (Qwen2RMSNorm in transformers).
    public static func rmsNormForward(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, out y: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>?, rows: Int, width c: Int, eps: Float
    ) {
        Parallel.chunks(rows, minChunk: max(1, parallelGrain / max(c, 1))) { rr in
            for r in rr {
                let xr = x + r * c, yr = y + r * c
                var acc = F8(), j = 0
                while j + 8 <= c { let v = load8(xr + j); acc += v * v; j += 8 }
                var ss = acc.sum()
                while j < c { ss += xr[j] * xr[j]; j += 1 }
                let s = 1 / (ss / Float(c) + eps).squareRoot()
                rstd?[r] = s
                j = 0
                while j + 8 <= c { store8(load8(xr + j) * s * load8(w + j), yr + j); j += 8 }
                while j < c { yr[j] = xr[j] * s * w[j]; j += 1 }
            }
        }
    }

    /// Backward of `rmsNormForward`: dx += rstd·(dy⊙w − x̂·mean(dy⊙w⊙x̂)), dw += Σ_rows dy⊙x̂ (x̂ = x·rstd).
    public static func rmsNormBackward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
        rows: Int, width c: Int
    ) {
        let tasks = min(Parallel.threads, max(1, rows * c / parallelGrain))
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: tasks * c)
        partial.initialize(repeating: 0, count: tasks * c)
        defer { partial.deallocate() }
        Parallel.forEachTask(tasks) { t in
            let lo = rows * t / tasks, hi = rows * (t + 1) / tasks
            let pw = partial + t * c
            for r in lo..<hi {
                let xr = x + r * c, gr = dy + r * c, s = rstd[r]
                var acc = F8(), j = 0
                while j + 8 <= c {
                    let xh = load8(xr + j) * s, g = load8(gr + j)
                    acc += g * load8(w + j) * xh
                    store8(load8(pw + j) + g * xh, pw + j)
                    j += 8
                }
                var dot = acc.sum()
                while j < c { let xh = xr[j] * s; dot += gr[j] * w[j] * xh; pw[j] += gr[j] * xh; j += 1 }
                guard let dx else { continue }
                let m = dot / Float(c)
                let dr = dx + r * c
                j = 0
                while j + 8 <= c {
                    let xh = load8(xr + j) * s
                    store8(load8(dr + j) + s * (load8(gr + j) * load8(w + j) - xh * m), dr + j)
                    j += 8
                }
                while j < c { dr[j] += s * (gr[j] * w[j] - xr[j] * s * m); j += 1 }
            }
        }
        if let dw { for t in 0..<tasks { for j in 0..<c { dw[j] += partial[t * c + j] } } }
    }

    // MARK: RoPE

    /// Rotate-half RoPE on rows of H heads × D: y[j] = x[j]cos − x[j+D/2]sin, y[j+D/2] = x[j+D/2]cos + x[j]sin, with
    /// per-row tables cos/sin [rows, D/2]; `inverse` rotates by −angle (the backward). out may alias x.
    public static func rope(
        _ x: UnsafePointer<Float>, out y: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim d: Int,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, inverse: Bool, accumulate: Bool
    ) {
        let half = d / 2
        let sign: Float = inverse ? -1 : 1
        Parallel.chunks(rows, minChunk: max(1, parallelGrain / max(1, heads * d))) { rr in
            for r in rr {
                let cr = cos + r * half, sr = sin + r * half
                for h in 0..<heads {
                    let xa = x + (r * heads + h) * d, ya = y + (r * heads + h) * d
                    var j = 0
                    while j + 8 <= half {
                        let a = load8(xa + j), b = load8(xa + j + half)
                        let cj = load8(cr + j), sj = load8(sr + j) * sign
                        var o1 = a * cj - b * sj, o2 = b * cj + a * sj
                        if accumulate { o1 += load8(ya + j); o2 += load8(ya + j + half) }
                        store8(o1, ya + j); store8(o2, ya + j + half)
                        j += 8
                    }
                    while j < half {
                        let a = xa[j], b = xa[j + half], cj = cr[j], sj = sr[j] * sign
                        let o1 = a * cj - b * sj, o2 = b * cj + a * sj
                        if accumulate { ya[j] += o1; ya[j + half] += o2 } else { ya[j] = o1; ya[j + half] = o2 }
                        j += 1
                    }
                }
            }
        }
    }

    // MARK: SwiGLU

    /// y = silu(g) ⊙ u with silu(g) = g·σ(g) (the Qwen2/Llama MLP activation).
    public static func swigluForward(
        gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, out y: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: parallelGrain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gv = load8(g + i)
                let s = 1 / (1 + exp8(-gv))
                store8(gv * s * load8(u + i), y + i)
                i += 8
            }
            while i < r.upperBound { let s = 1 / (1 + exp1(-g[i])); y[i] = g[i] * s * u[i]; i += 1 }
        }
    }

    /// Backward of SwiGLU: dg += dy·u·σ(g)(1 + g(1−σ(g))), du += dy·silu(g); with `overwrite` the gradients are written
    /// instead of added (for fresh, uninitialised gradient buffers).
    public static func swigluBackward(
        dy: UnsafePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, count: Int,
        overwriteGate: Bool = false, overwriteUp: Bool = false
    ) {
        Parallel.chunks(count, minChunk: parallelGrain) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gv = load8(g + i), dv = load8(dy + i)
                let s = 1 / (1 + exp8(-gv))
                if let dGate {
                    let old = overwriteGate ? F8() : load8(dGate + i)
                    store8(old + dv * load8(u + i) * s * (1 + gv * (1 - s)), dGate + i)
                }
                if let dUp {
                    let old = overwriteUp ? F8() : load8(dUp + i)
                    store8(old + dv * gv * s, dUp + i)
                }
                i += 8
            }
            while i < r.upperBound {
                let s = 1 / (1 + exp1(-g[i]))
                if let dGate { dGate[i] = (overwriteGate ? 0 : dGate[i]) + dy[i] * u[i] * s * (1 + g[i] * (1 - s)) }
                if let dUp { dUp[i] = (overwriteUp ? 0 : dUp[i]) + dy[i] * g[i] * s }
                i += 1
            }
        }
    }

    // MARK: Softmax rows

    /// In-place softmax of the first `valid` entries of a row of length n (the rest set to 0); returns log Σ exp (the row's logsumexp).
    @discardableResult
    public static func softmaxRow(_ p: UnsafeMutablePointer<Float>, n: Int, valid: Int) -> Float {
        var mx = -Float.infinity
        for j in 0..<valid { mx = max(mx, p[j]) }
        var acc = F8(), j = 0
        let m8 = F8(repeating: mx)
        while j + 8 <= valid { let e = exp8(load8(p + j) - m8); store8(e, p + j); acc += e; j += 8 }
        var s = acc.sum()
        while j < valid { let e = exp1(p[j] - mx); p[j] = e; s += e; j += 1 }
        let inv = 1 / s
        j = 0
        while j + 8 <= valid { store8(load8(p + j) * inv, p + j); j += 8 }
        while j < valid { p[j] *= inv; j += 1 }
        if valid < n { (p + valid).update(repeating: 0, count: n - valid) }
        return mx + Foundation.log(s)
    }

    // MARK: Embedding

    /// out[i] = table[ids[i]] for rows of width C.
    public static func embeddingForward(
        table: UnsafePointer<Float>, ids: [Int32], width c: Int, out: UnsafeMutablePointer<Float>
    ) {
        for (i, id) in ids.enumerated() { (out + i * c).update(from: table + Int(id) * c, count: c) }
    }

    /// dTable[ids[i]] += dy[i] (scatter-add; repeated ids accumulate).
    public static func embeddingBackward(
        dy: UnsafePointer<Float>, ids: [Int32], width c: Int, dTable: UnsafeMutablePointer<Float>
    ) {
        for (i, id) in ids.enumerated() {
            let d = dTable + Int(id) * c, g = dy + i * c
            var j = 0
            while j + 8 <= c { store8(load8(d + j) + load8(g + j), d + j); j += 8 }
            while j < c { d[j] += g[j]; j += 1 }
        }
    }
}
