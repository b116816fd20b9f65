// Profiler: an opt-in per-op timer for finding where a forward+backward spends its time. When
// enabled, each op result's creation closes the interval since the previous one (its forward, run
// on the calling thread just before) and `Variable.backward` times each node's backward closure;
// `report()` gives seconds and calls per "op.forward" / "op.backward". Off by default, when it costs
// one branch per op. It is single-threaded bookkeeping (ops are issued from one thread) and not a
// sampling profiler: use `perf` for anything inside a kernel.
import VerityMeasure

// MARK: - Profiler

/// Accumulated wall time per op and direction.
public enum OpProfiler {
    /// Whether ops are timed.
    public nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) static var totals: [String: (seconds: Double, calls: Int)] = [:]
    nonisolated(unsafe) static var stamp: Double = 0

    /// One row of the report.
    public struct Entry: Codable, Sendable {
        /// "name.forward" or "name.backward".
        public var op: String
        /// Total wall seconds.
        public var seconds: Double
        /// Number of timed calls.
        public var calls: Int
    }

    /// Clears the totals and starts the forward clock now.
    public static func reset() {
        totals = [:]
        stamp = CPUShareProbe.now()
    }

    /// Starts the forward clock now (call before the first op of a forward, after unrelated work).
    public static func mark() { stamp = CPUShareProbe.now() }

    /// Closes the forward interval of `op` (called when its result is created).
    static func forwardDone(_ op: StaticString) {
        let t = CPUShareProbe.now()
        add("\(op).forward", t - stamp)
        stamp = t
    }

    /// Adds `seconds` to an entry.
    static func add(_ key: String, _ seconds: Double) {
        let e = totals[key] ?? (0, 0)
        totals[key] = (e.seconds + seconds, e.calls + 1)
    }

    /// The totals, largest first.
    public static func report() -> [Entry] {
        totals.map { Entry(op: $0.key, seconds: $0.value.seconds, calls: $0.value.calls) }.sorted {
            $0.seconds > $1.seconds
        }
    }
}
