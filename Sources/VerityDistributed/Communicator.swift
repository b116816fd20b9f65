// VerityDistributed: the ranks of a data-parallel job and what they say to each other. A `Communicator` is the
// four collectives data-parallel RLVR needs (all-reduce, broadcast, all-gather, barrier), with two
// implementations: one process alone, and MPI (Open MPI's `mpirun`, or `srun` under Slurm) through the C shim
// CMPIShim. The trainer sees only the protocol.
import CMPIShim
import Foundation

/// A failed collective: a timeout (a rank stopped answering) or an MPI error. The job cannot go on after one.
public struct CommunicatorError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// The collectives of a data-parallel job. Every rank calls the same collectives in the same order.
public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Sums `buffer` over all ranks, in place (every rank gets the same sum).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Sums `buffer` over all ranks, in place.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// The largest of each element over all ranks, in place.
    func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Replaces `buffer` on every rank by rank `root`'s, in place (every rank passes the same byte count).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Every rank's `bytes`, in rank order.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Returns when every rank has called it.
    func barrier() throws
    /// Ends every rank of the job at once with `code` (after this rank printed why).
    func abort(code: Int32) -> Never
    /// Seconds this process has spent inside collectives (waiting included) since it started.
    var secondsInCollectives: Double { get }
}

extension Communicator {
    /// Whether this is rank 0, the one that writes the run folder.
    public var isRoot: Bool { rank == 0 }

    /// Sums an array of doubles over all ranks.
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allReduceSum($0) }
        return v
    }

    /// The largest of each value over all ranks.
    public func allReduceMax(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allReduceMax($0) }
        return v
    }

    /// Replaces `bytes` on every rank by rank `root`'s (the count first, then the bytes).
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        var count = Int64(bytes.count)
        try withUnsafeMutableBytes(of: &count) { try broadcast($0, root: root) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Every rank's value, in rank order (JSON-encoded on the wire).
    public func allGather<T: Codable>(_ value: T) throws -> [T] {
        let parts = try allGather(Array(try JSONEncoder().encode(value)))
        return try parts.map { try JSONDecoder().decode(T.self, from: Data($0)) }
    }

    /// Rank `root`'s value on every rank (JSON-encoded on the wire).
    public func broadcast<T: Codable>(_ value: T, root: Int = 0) throws -> T {
        var bytes = rank == root ? Array(try JSONEncoder().encode(value)) : []
        try broadcast(&bytes, root: root)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// Rank `root`'s floats on every rank, in place (no copy: a model's weights may be most of the memory). The
    /// counts are checked first.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        let counts = try allGather(buffer.count)
        guard counts.allSatisfy({ $0 == counts[root] }) else {
            throw CommunicatorError("broadcast: the ranks hold \(counts) floats; rank \(root)'s count must be every rank's")
        }
        try broadcast(UnsafeMutableRawBufferPointer(buffer), root: root)
    }
}

// MARK: - One process

/// The communicator of a job of one process: every collective returns its input.
public final class LocalCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
    public var secondsInCollectives: Double { 0 }
}

// MARK: - MPI

/// A rank of an MPI job (MPI_COMM_WORLD). Made once per process by `Communicators.world()`.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// Seconds after which a collective that has not completed (a rank stopped answering) is an error; 0 = wait forever.
    public let timeout: Double
    public private(set) var secondsInCollectives = 0.0
    /// The MPI library's version line.
    public let libraryVersion: String
    /// After a stop request, the most seconds any one collective may wait (a launcher that is ending the job because
    /// a rank died signals the others the way Ctrl-C does; their partner will never answer).
    public let stopGrace: Double

    /// Marks a stop request (call from a signal handler's queue): collectives give up after `stopGrace`.
    public func requestStop() { verity_mpi_request_stop(stopGrace) }

    fileprivate init(timeout: Double, stopGrace: Double) throws {
        var r: Int32 = 0, s: Int32 = 0
        guard verity_mpi_init(&r, &s) == VERITY_MPI_OK.rawValue else {
            throw CommunicatorError("MPI_Init failed")
        }
        rank = Int(r)
        size = Int(s)
        self.timeout = timeout
        self.stopGrace = stopGrace
        var v = [CChar](repeating: 0, count: 256)
        verity_mpi_library_version(&v, 256)
        libraryVersion = String(decoding: v.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs one collective, timing it and turning a timeout or an error into a CommunicatorError naming `what`.
    func call(_ what: String, _ body: () -> Int32) throws {
        let t0 = Date()
        let status = body()
        secondsInCollectives += Date().timeIntervalSince(t0)
        switch status {
        case VERITY_MPI_OK.rawValue: return
        case VERITY_MPI_STOPPED.rawValue:
            throw CommunicatorError(
                "rank \(rank): \(what): a stop was requested and the other ranks did not answer within "
                    + "\(Int(stopGrace)) s (VERITY_STOP_GRACE): a rank has died or the launcher is ending the job")
        case VERITY_MPI_TIMEOUT.rawValue:
            throw CommunicatorError(
                "rank \(rank): \(what): no answer from the other ranks within \(Int(timeout)) s "
                    + "(VERITY_COMM_TIMEOUT); a rank has stopped or hangs")
        default:
            throw CommunicatorError("rank \(rank): \(what): MPI reported an error")
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return try barrier() }
        try call("all-reduce of \(buffer.count) floats") {
            verity_mpi_allreduce(p, buffer.count, Int32(VERITY_MPI_FLOAT.rawValue), Int32(VERITY_MPI_SUM.rawValue), timeout)
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return try barrier() }
        try call("all-reduce of \(buffer.count) doubles") {
            verity_mpi_allreduce(
                p, buffer.count, Int32(VERITY_MPI_DOUBLE.rawValue), Int32(VERITY_MPI_SUM.rawValue), timeout)
        }
    }

    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return try barrier() }
        try call("all-reduce (max) of \(buffer.count) doubles") {
            verity_mpi_allreduce(
                p, buffer.count, Int32(VERITY_MPI_DOUBLE.rawValue), Int32(VERITY_MPI_MAX.rawValue), timeout)
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return try barrier() }
        try call("broadcast of \(buffer.count) bytes from rank \(root)") {
            verity_mpi_broadcast(p, buffer.count, Int32(root), timeout)
        }
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var counts = [Int](repeating: 0, count: size)
        try counts.withUnsafeMutableBufferPointer { c in
            try call("all-gather of sizes") {
                verity_mpi_allgather_long(bytes.count, c.baseAddress!, timeout)
            }
        }
        guard counts.allSatisfy({ $0 >= 0 }), counts.reduce(0, +) < Int(Int32.max) else {
            throw CommunicatorError("rank \(rank): all-gather of \(counts.reduce(0, +)) bytes: over MPI's 2 GiB count")
        }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + Int32(counts[r - 1]) }
        let c32 = counts.map { Int32($0) }
        var out = [UInt8](repeating: 0, count: max(1, counts.reduce(0, +)))
        var mine = bytes.isEmpty ? [0] : bytes
        try out.withUnsafeMutableBytes { o in
            try mine.withUnsafeMutableBytes { m in
                try call("all-gather of \(counts.reduce(0, +)) bytes") {
                    verity_mpi_allgatherv(m.baseAddress, Int32(bytes.count), o.baseAddress, c32, displacements, timeout)
                }
            }
        }
        return (0..<size).map { r in Array(out[Int(displacements[r])..<Int(displacements[r]) + counts[r]]) }
    }

    public func barrier() throws {
        try call("barrier") { verity_mpi_barrier(timeout) }
    }

    public func abort(code: Int32) -> Never {
        verity_mpi_abort(code)
        exit(code)
    }

    /// MPI_Finalize (after the last collective).
    public func finalize() { verity_mpi_finalize() }
}

// MARK: - The world

/// The job this process belongs to.
public enum Communicators {
    /// Whether the environment says this process was started by an MPI launcher with more than one rank (Open MPI's
    /// `mpirun`; MPICH's `mpiexec`; a Slurm job step started by `srun`). A single process never starts MPI.
    public static func launchedSize(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"] {
            if let v = env[key], let n = Int(v) { return n }
        }
        return nil
    }

    /// The ranks of this job on this machine (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS,
    /// Slurm's SLURM_STEP_TASKS_PER_NODE when it is one number); 1 outside a job.
    public static func localSize(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_TASKS_PER_NODE"] {
            if let v = env[key], let n = Int(v), n >= 1 { return n }
        }
        return 1
    }

    /// The seconds a collective may wait before the job is declared hung (`VERITY_COMM_TIMEOUT`, default 1,800:
    /// longer than any one phase's imbalance should be; 0 = forever). A dead rank is noticed sooner, by the launcher.
    public static func timeout(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Double {
        guard let v = env["VERITY_COMM_TIMEOUT"] else { return 1800 }
        guard let t = Double(v), t >= 0, t.isFinite else {
            throw CommunicatorError("VERITY_COMM_TIMEOUT=\(v): expected seconds, 0 or more (0 waits forever)")
        }
        return t
    }

    /// After a stop request, the seconds a collective may wait for the other ranks (`VERITY_STOP_GRACE`, default
    /// 300): ranks that are all alive meet within their imbalance; a dead one never answers.
    public static func stopGrace(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Double {
        guard let v = env["VERITY_STOP_GRACE"] else { return 300 }
        guard let t = Double(v), t > 0, t.isFinite else {
            throw CommunicatorError("VERITY_STOP_GRACE=\(v): expected seconds, above 0")
        }
        return t
    }

    nonisolated(unsafe) static var shared: Communicator?

    /// This process's communicator: MPI when a launcher started more than one rank, else one process alone.
    /// MPI is initialised once, on the first call.
    public static func world() throws -> Communicator {
        if let shared { return shared }
        let c: Communicator =
            (launchedSize() ?? 1) > 1
            ? try MPICommunicator(timeout: timeout(), stopGrace: stopGrace()) : LocalCommunicator()
        shared = c
        return c
    }

    /// Finalises MPI if it was started (call once, at the end of a job that ended normally).
    public static func finalize() {
        (shared as? MPICommunicator)?.finalize()
    }
}
