// DecodeKernels: the kernels the sampler adds to VerityTensor's: the matrix product x·Wᵀ over
// weights repacked once into column panels (float32 or bfloat16, `PackedWeights`), attention of one
// new query per row over a chain of KV-cache spans (C, one KV head's query group at a time), a row logsumexp and a streaming-bandwidth probe
// for the benchmark's roofline. Every output element is computed by the same sequence of float
// operations whatever the batch size, the row's place in it or the thread count (work is split over
// output panels only), so a row's numbers never depend on what else is in the batch. The product's
// loops are C (CDecodeKernels, AVX2/FMA chosen at run time). It is not a general GEMM: the trainer
// keeps BLAS.gemm, and the sampler's results differ from it by float rounding only (tested ≤ 1e-5).
import VerityMeasure
import Foundation
import VerityTensor
import CDecodeKernels

// MARK: - SIMD helpers

typealias V8 = SIMD8<Float>

@inline(__always) func ld8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
@inline(__always) func st8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
}

// MARK: - Packed weights

/// How the sampler stores its weight matrices.
public enum WeightFormat: String, Sendable, CaseIterable, Codable {
    /// float32, bit for bit the model's weights.
    case float32 = "f32"
    /// bfloat16 (round to nearest even), accumulated in float32: half the bytes read per decode step.
    case bfloat16 = "bf16"

    /// Bytes per stored weight.
    public var bytesPerWeight: Int { self == .float32 ? 4 : 2 }
}

/// A weight matrix W [N, K] (one row per output) repacked into 16-column panels [K][16] for `DecodeKernels.matmul`.
public final class PackedWeights: @unchecked Sendable {
    /// Outputs (N).
    public let outputs: Int
    /// Inner dimension (K).
    public let inner: Int
    /// Storage format.
    public let format: WeightFormat
    /// Number of 16-column panels.
    public let panels: Int
    let storage: UnsafeMutableRawPointer

    /// Packs `weight` [outputs, inner] in `format`, split over `threads`.
    public init(_ weight: UnsafePointer<Float>, outputs: Int, inner: Int, format: WeightFormat, threads: Int = 1) {
        precondition(outputs > 0 && inner > 0, "empty weight matrix")
        self.outputs = outputs
        self.inner = inner
        self.format = format
        panels = (outputs + Int(VERITY_PANEL) - 1) / Int(VERITY_PANEL)
        storage = UnsafeMutableRawPointer.allocate(
            byteCount: panels * Int(VERITY_PANEL) * inner * format.bytesPerWeight, alignment: 64)
        repack(from: weight, threads: threads)
    }

    deinit { storage.deallocate() }

    /// Bytes of the packed matrix (what one full product reads).
    public var bytes: Int { panels * Int(VERITY_PANEL) * inner * format.bytesPerWeight }

    /// Repacks from `weight` (same shape), e.g. after an optimizer step changed the model's weights.
    public func repack(from weight: UnsafePointer<Float>, threads: Int = 1) {
        let np = panels, n = outputs, k = inner, fmt = format, st = storage
        let tasks = max(1, min(threads, np))
        Parallel.forEachTask(tasks) { t in
            let p0 = np * t / tasks, p1 = np * (t + 1) / tasks
            switch fmt {
            case .float32: verity_pack_f32(weight, n, k, p0, p1, st.assumingMemoryBound(to: Float.self))
            case .bfloat16: verity_pack_bf16(weight, n, k, p0, p1, st.assumingMemoryBound(to: UInt16.self))
            }
        }
    }

    /// The stored weight W[j][kk] widened to float32 (for tests).
    public func weight(output j: Int, inner kk: Int) -> Float {
        let p = j / Int(VERITY_PANEL), c = j % Int(VERITY_PANEL)
        let idx = p * Int(VERITY_PANEL) * inner + kk * Int(VERITY_PANEL) + c
        switch format {
        case .float32: return storage.assumingMemoryBound(to: Float.self)[idx]
        case .bfloat16: return Float(bitPattern: UInt32(storage.assumingMemoryBound(to: UInt16.self)[idx]) << 16)
        }
    }
}

/// The weight of one product as the kernels read it: packed panels (`PackedWeights`), or the row-major matrix W [N, K]
/// itself, float32 or bfloat16, whose panels the kernel packs on the fly slice by slice. Either way every element is the
/// fma chain of the packed float32 copy (for float32 and row-major sources, bit for bit), so the sampler can read the
/// trainer's own store (or the frozen bfloat16 base) and keep no second copy.
public struct WeightOperand: @unchecked Sendable {
    let pointer: UnsafeRawPointer
    let code: Int32
    /// Outputs (N).
    public let outputs: Int
    /// Inner dimension (K).
    public let inner: Int
    /// Keeps packed panels alive while the operand is used.
    let owner: AnyObject?

    /// Number of 16-column panels.
    public var panels: Int { (outputs + Int(VERITY_PANEL) - 1) / Int(VERITY_PANEL) }

    init(_ pointer: UnsafeRawPointer, code: Int32, outputs: Int, inner: Int, owner: AnyObject?) {
        precondition(outputs > 0 && inner > 0, "empty weight matrix")
        (self.pointer, self.code, self.outputs, self.inner, self.owner) = (pointer, code, outputs, inner, owner)
    }

    /// Packed panels.
    public init(_ packed: PackedWeights) {
        self.init(
            UnsafeRawPointer(packed.storage),
            code: packed.format == .bfloat16 ? Int32(VERITY_W_PANELS_BF16) : Int32(VERITY_W_PANELS_F32),
            outputs: packed.outputs, inner: packed.inner, owner: packed)
    }

    /// The float32 matrix `weight` [outputs, inner], row-major, read in place (it must outlive the product).
    public init(rows weight: UnsafePointer<Float>, outputs: Int, inner: Int) {
        self.init(UnsafeRawPointer(weight), code: Int32(VERITY_W_ROWS_F32), outputs: outputs, inner: inner, owner: nil)
    }

    /// The bfloat16 matrix `weight` [outputs, inner], row-major, read in place and widened exactly.
    public init(bf16Rows weight: UnsafePointer<UInt16>, outputs: Int, inner: Int) {
        self.init(UnsafeRawPointer(weight), code: Int32(VERITY_W_ROWS_BF16), outputs: outputs, inner: inner, owner: nil)
    }

    /// Bytes one full product reads.
    public var bytes: Int { outputs * inner * (code == Int32(VERITY_W_ROWS_F32) || code == Int32(VERITY_W_PANELS_F32) ? 4 : 2) }
}

// MARK: - Workspace

/// Buffers the shared products reuse from call to call (x packed for the microkernel), so a decode step does not allocate
/// and page-fault them afresh. One per engine; not for concurrent products.
public final class DecodeWorkspace: @unchecked Sendable {
    private var xp: UnsafeMutableRawPointer?
    private var capacity = 0

    /// An empty workspace.
    public init() {}

    deinit { xp?.deallocate() }

    /// A buffer of at least `count` floats (grown as needed, contents unspecified).
    func packedX(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let xp, capacity >= count { return xp.assumingMemoryBound(to: Float.self) }
        xp?.deallocate()
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.size, alignment: 64)
        xp = p
        capacity = count
        return p.bindMemory(to: Float.self, capacity: max(1, count))
    }
}

// MARK: - Kernels

/// Decode-time kernels: the panel product, cached attention, logsumexp, bandwidth probe.
public enum DecodeKernels {
    /// out[i·N + j] = Σ_k x[i·K + k]·W[j][k] (+ bias[j]) for x [M, K] and packed W [N, K]; each element is one sequential
    /// fma chain over k, so it does not depend on M, on the row's place or on `threads` (the split is over panels).
    public static func matmul(
        x: UnsafePointer<Float>, rows m: Int, weight w: PackedWeights, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, threads: Int, workspace: DecodeWorkspace? = nil
    ) {
        matmulGroup(x: x, rows: m, [GroupItem(weight: w, bias: bias, out: out)], threads: threads, workspace: workspace)
    }

    /// `matmul` over any weight operand (packed, or a row-major matrix read in place).
    public static func matmul(
        x: UnsafePointer<Float>, rows m: Int, operand w: WeightOperand, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, threads: Int, workspace: DecodeWorkspace? = nil
    ) {
        matmulGroup(x: x, rows: m, [GroupItem(operand: w, bias: bias, out: out)], threads: threads, workspace: workspace)
    }

    /// One product of a group sharing the input x (q/k/v, gate/up): weight, bias, output [M, weight.outputs].
    public struct GroupItem {
        /// The weight.
        public var weight: WeightOperand
        /// The bias, if any.
        public var bias: UnsafePointer<Float>?
        /// The output.
        public var out: UnsafeMutablePointer<Float>

        /// A product of the group.
        public init(weight: PackedWeights, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
            self.init(operand: WeightOperand(weight), bias: bias, out: out)
        }

        /// A product of the group over any weight operand.
        public init(operand: WeightOperand, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
            self.weight = operand
            self.bias = bias
            self.out = out
        }
    }

    /// Panel ranges handed out one at a time: sizes shrink with the panels left (a share of what remains, at most 64 and
    /// at least `minChunk`, even so that the few-row kernel keeps its panel pairs), so the last chunks are short and a
    /// thread that runs slower, or starts later, ends close to the others.
    static func chunkBounds(total: Int, minChunk: Int, tasks: Int) -> [Int] {
        var bounds = [0], at = 0
        let lo = max(1, minChunk)
        while at < total {
            var size = min(64, (total - at + 2 * tasks - 1) / (2 * tasks))
            size = max(lo, size)
            size += size & 1
            at = min(total, at + size)
            bounds.append(at)
        }
        return bounds
    }

    /// `matmul` for several weights over the same x in one parallel region: the threads share the packing of x, then
    /// take chunks of the panels of all the products from a shared counter (`verity_mm_run`), so the work follows the
    /// speed each core actually has; every element's arithmetic is unchanged. `minPanelsPerTask` (default: ~256 KB of
    /// float32 weights per thread, ~64 KB per chunk) lets tests split tiny products.
    public static func matmulGroup(
        x: UnsafePointer<Float>, rows m: Int, _ items: [GroupItem], threads: Int, minPanelsPerTask: Int? = nil,
        workspace: DecodeWorkspace? = nil
    ) {
        if m == 0 || items.isEmpty { return }
        let k = items[0].weight.inner
        precondition(items.allSatisfy { $0.weight.inner == k }, "group products share x")
        let total = items.reduce(0) { $0 + $1.weight.panels }
        let panelFloats = Int(VERITY_PANEL) * k
        let perTask = max(1, minPanelsPerTask ?? (1 << 16) / panelFloats)
        let tasks = max(1, min(threads, total / perTask))
        let bounds = chunkBounds(
            total: total, minChunk: minPanelsPerTask ?? max(1, (1 << 14) / panelFloats), tasks: tasks)
        let cItems = items.map {
            verity_mm_item(
                panels: $0.weight.pointer, format: $0.weight.code,
                n: $0.weight.outputs, bias: $0.bias, out: $0.out, ldo: $0.weight.outputs)
        }
        let units = verity_mm_pack_units(m, k)
        let ws = workspace ?? DecodeWorkspace()
        let xp = units > 0 ? ws.packedX(Int(verity_mm_xp_floats(m, k))) : nil
        var ready = [Int32](repeating: 0, count: max(1, units))
        var counters = [Int](repeating: 0, count: 2)
        cItems.withUnsafeBufferPointer { its in
            bounds.withUnsafeBufferPointer { bd in
                ready.withUnsafeMutableBufferPointer { rd in
                    counters.withUnsafeMutableBufferPointer { ct in
                        Parallel.forEachTask(tasks) { _ in
                            verity_mm_run(
                                x, m, k, k, its.baseAddress, its.count, bd.baseAddress, bd.count - 1, xp,
                                rd.baseAddress, ct.baseAddress)
                        }
                    }
                }
            }
        }
    }

    /// Runs `matmul` over panels p0 ..< p1 only, on the calling thread (tests check that any split gives the same bits).
    public static func matmulPanels(
        x: UnsafePointer<Float>, rows m: Int, weight w: PackedWeights, panels: Range<Int>,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>
    ) {
        matmulPanels(x: x, rows: m, operand: WeightOperand(w), panels: panels, bias: bias, out: out)
    }

    /// `matmulPanels` over any weight operand.
    public static func matmulPanels(
        x: UnsafePointer<Float>, rows m: Int, operand w: WeightOperand, panels: Range<Int>,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>
    ) {
        withExtendedLifetime(w.owner) {
            verity_panel_matmul(
                x, m, w.inner, w.inner, w.pointer, w.code, w.outputs, panels.lowerBound, panels.upperBound, bias, out,
                w.outputs)
        }
    }

    /// y = g·σ(g)·u over `count` elements (y may alias g or u), split over `threads`: the same bits as
    /// `Kernels.swigluForward` (same exp polynomial and operation order), in C so that it uses AVX2 where the CPU has it.
    public static func swiglu(
        gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, out y: UnsafeMutablePointer<Float>, count: Int,
        threads: Int
    ) {
        let tasks = max(1, min(threads, count / (1 << 14)))
        Parallel.forEachTask(tasks) { t in
            let lo = count * t / tasks, hi = count * (t + 1) / tasks
            if hi > lo { verity_swiglu(g + lo, u + lo, y + lo, hi - lo) }
        }
    }

    /// Whether the panel product runs its AVX2/FMA path on this machine.
    public static var panelProductUsesAVX2: Bool { verity_panel_uses_avx2() != 0 }

    /// Forces the portable C path (true) or restores run-time selection (false); for tests comparing the two paths.
    public static func forcePortablePath(_ on: Bool) { verity_panel_force_portable(on ? 1 : 0) }

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
    public static func cachedAttention(
        q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int,
        spans: [Span], spanStart: [Int], heads: Int, kvHeads: Int, headDim d: Int,
        maxKeys: Int, threads: Int
    ) {
        let group = heads / kvHeads, kvd = kvHeads * d
        let scale = 1 / Float(d).squareRoot()
        // One item per (row, KV head): its group of query heads reads each cached key and value once (C, AVX2).
        let items = rows * kvHeads
        let tasks = max(1, min(threads, items))
        let maxSpans = zip(spanStart.dropFirst(), spanStart).map { $0 - $1 }.max() ?? 0
        spans.withUnsafeBufferPointer { sp in
            Parallel.forEachTask(tasks) { t in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, group * maxKeys))
                let chain = UnsafeMutablePointer<verity_span>.allocate(capacity: max(1, maxSpans))
                defer { scores.deallocate(); chain.deallocate() }
                for item in (items * t / tasks)..<(items * (t + 1) / tasks) {
                    let r = item / kvHeads, kvh = item % kvHeads
                    var ns = 0
                    for si in spanStart[r]..<spanStart[r + 1] {
                        let span = sp[si]
                        chain[ns] = verity_span(
                            keys: span.keys + kvh * d, values: span.values + kvh * d, count: span.count)
                        ns += 1
                    }
                    let off = r * heads * d + kvh * group * d
                    verity_attend_group(q + off, group, d, chain, ns, kvd, scale, scores, out + off)
                }
            }
        }
    }

    // MARK: Rows

    /// logsumexp of a row of n logits: max-shifted, the trainer's exp polynomial, float sums in 8 lanes with a fixed lane
    /// order (C; AVX2 where present, same bits as the portable path).
    public static func logSumExp(_ z: UnsafePointer<Float>, _ n: Int) -> Float { verity_logsumexp(z, n) }

    /// The first index of the largest of `n` logits (NaN entries skipped).
    public static func argmax(_ z: UnsafePointer<Float>, _ n: Int) -> Int { verity_argmax(z, n) }

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
