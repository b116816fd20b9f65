// CPUShare: measures how much of the machine other processes used during a benchmark, from
// /proc/stat (all processes' busy time) minus this process's own CPU time (getrusage). Benchmarks
// record it so a figure taken on a busy shared machine can be recognised. Linux only; elsewhere it
// reports nil. It is not a profiler. Every benchmark in the package (model, sampler, tokenizer,
// verifier, Lua) takes its figure from here; the engine also uses `now()` as its clock.
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

// MARK: - CPU share

/// A snapshot of machine-wide busy time, this process's CPU time and the wall clock.
public struct CPUShareProbe: Sendable {
    let busyJiffies: Double?
    let ownSeconds: Double
    let wall: Double

    /// Takes a snapshot now.
    public init() {
        busyJiffies = CPUShareProbe.machineBusyJiffies()
        ownSeconds = CPUShareProbe.processCPUSeconds()
        wall = CPUShareProbe.now()
    }

    /// The fraction (0–1) of all cores' time that other processes used since this snapshot; nil where /proc/stat is absent.
    public func otherProcessesShare(cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Double? {
        guard let b0 = busyJiffies, let b1 = CPUShareProbe.machineBusyJiffies() else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let elapsed = CPUShareProbe.now() - wall
        guard elapsed > 0, hz > 0 else { return nil }
        let busy = (b1 - b0) / hz
        let own = CPUShareProbe.processCPUSeconds() - ownSeconds
        return min(1, max(0, (busy - own) / (elapsed * Double(cores))))
    }

    /// Seconds of wall clock since this snapshot.
    public var elapsed: Double { CPUShareProbe.now() - wall }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// User + system CPU seconds of this process (all threads).
    static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6 + Double(u.ru_stime.tv_sec) + Double(
            u.ru_stime.tv_usec) * 1e-6
    }

    /// Busy jiffies over all CPUs (user+nice+system+irq+softirq+steal) from the first line of /proc/stat.
    static func machineBusyJiffies() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard f.count >= 8 else { return nil }
        return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]
    }
}

// MARK: - Peak resident memory

/// Resets this process's peak resident size (VmHWM) to its current resident size (Linux: "5" written to
/// /proc/self/clear_refs), so that a benchmark's peak is its measured phase's, not its setup's. Returns false where that
/// is not possible (no /proc, or not writable): the peak then covers the whole process.
@discardableResult
public func resetPeakResident() -> Bool {
    guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
    defer { try? h.close() }
    do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
    return true
}
