// Parallel: splits a range of independent work items over the machine's cores with
// DispatchQueue.concurrentPerform. Kernels call it only above a size where threading pays; it is
// not a scheduler and never nests.
import Dispatch
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Parallel

/// Static splitting of index ranges over the cores.
public enum Parallel {
    /// The number of cores used for kernel splitting (active processors, at least 1).
    public static let cores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// The number of workers kernels and matrix products split over (default `cores`; set through `BLAS.setThreads`).
    public nonisolated(unsafe) static var threads: Int = cores

    /// Calls `body` on contiguous sub-ranges of 0..<n, in parallel when each part has at least `minChunk` items.
    public static func chunks(_ n: Int, minChunk: Int, _ body: (Range<Int>) -> Void) {
        let tasks = min(threads, max(1, n / max(1, minChunk)))
        if tasks <= 1 {
            if n > 0 { body(0..<n) }
            return
        }
        forEachTask(tasks) { t in
            let lo = n * t / tasks
            let hi = n * (t + 1) / tasks
            if hi > lo { body(lo..<hi) }
        }
    }

    /// Calls `body(t)` for t in 0..<tasks, concurrently when tasks > 1.
    public static func forEachTask(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 {
            if tasks == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedBox(escaping)
            DispatchQueue.concurrentPerform(iterations: tasks) { t in box.value(t) }
        }
    }
}

/// Carries a non-Sendable closure into concurrentPerform; the caller guarantees tasks touch disjoint memory.
@usableFromInline
final class UncheckedBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}

// MARK: - Allocator tuning

/// Process-wide memory settings for long numeric runs.
public enum MemoryTuning {
    /// Keeps freed large blocks in the heap for reuse (glibc mallopt), so per-step activations do not pay page faults
    /// on fresh mmap'd memory every step. A no-op where glibc is absent.
    public static func reuseFreedMemory() {
        #if canImport(Glibc)
            typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
            guard let sym = dlsym(nil, "mallopt") else { return }
            let mallopt = unsafeBitCast(sym, to: MallOpt.self)
            _ = mallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD (glibc malloc.h)
            _ = mallopt(-1, Int32.max)  // M_TRIM_THRESHOLD
        #endif
    }
}
