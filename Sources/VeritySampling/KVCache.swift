// KVCache: the key/value cache as a tree of segments. A segment holds, for every layer, the
// rotated keys and the values of a run of consecutive positions [start, start + capacity) laid out
// [position, KV·D] (grouped-query aware: only the KV heads are stored); its parent holds the
// positions before it. A shared prompt prefix is one segment that many rows point to; each live
// row owns one segment for its generated tokens, allocated when the row starts and freed when it
// finishes. Every allocation is charged to a `MemoryLedger` that enforces the user's budget. It is
// not a paged allocator: a segment's capacity is fixed when it is made.
import Foundation

// MARK: - Memory ledger

/// Counts the bytes of all live cache segments against a budget.
public final class MemoryLedger: @unchecked Sendable {
    /// The budget in bytes.
    public let budget: Int
    /// Bytes held by live segments now.
    public private(set) var used = 0
    /// The most bytes held at once.
    public private(set) var peak = 0
    private let lock = NSLock()

    /// A ledger with the given budget in bytes.
    public init(budget: Int) { self.budget = budget }

    /// Whether `bytes` more would stay within the budget.
    public func fits(_ bytes: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return used + bytes <= budget
    }

    func charge(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        used += bytes
        peak = max(peak, used)
    }

    func release(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        used -= bytes
    }
}

// MARK: - Segment

/// Cached keys and values of a run of positions for all layers; `parent` holds the positions before `start`.
public final class KVSegment {
    /// The segment holding the positions before this one (nil at the root).
    public let parent: KVSegment?
    /// The absolute position of this segment's first row.
    public let start: Int
    /// Rows allocated.
    public let capacity: Int
    /// Rows written so far.
    public internal(set) var count = 0
    /// Floats per row (KV·D).
    public let width: Int
    /// Layers.
    public let layers: Int
    let data: UnsafeMutablePointer<Float>
    let ledger: MemoryLedger
    let bytes: Int

    /// Bytes a segment of `rows` positions takes for a model with `layers` layers and KV·D = `width`.
    public static func bytes(rows: Int, layers: Int, width: Int) -> Int {
        2 * layers * rows * width * MemoryLayout<Float>.size
    }

    init(parent: KVSegment?, start: Int, capacity: Int, layers: Int, width: Int, ledger: MemoryLedger) {
        self.parent = parent
        self.start = start
        self.capacity = capacity
        self.layers = layers
        self.width = width
        self.ledger = ledger
        bytes = KVSegment.bytes(rows: capacity, layers: layers, width: width)
        data = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * layers * capacity * width))
        ledger.charge(bytes)
    }

    deinit {
        data.deallocate()
        ledger.release(bytes)
    }

    /// Keys of `layer` [capacity, KV·D].
    @inline(__always) func keys(_ layer: Int) -> UnsafeMutablePointer<Float> { data + (2 * layer) * capacity * width }
    /// Values of `layer` [capacity, KV·D].
    @inline(__always) func values(_ layer: Int) -> UnsafeMutablePointer<Float> {
        data + (2 * layer + 1) * capacity * width
    }

    /// The chain from the root down to this segment.
    var chain: [KVSegment] {
        var out: [KVSegment] = []
        var s: KVSegment? = self
        while let c = s { out.append(c); s = c.parent }
        return out.reversed()
    }

    /// Positions cached in the chain up to and including this segment.
    var endPosition: Int { start + count }
}
