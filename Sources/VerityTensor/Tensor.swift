// Tensor: a dense, row-major float32 array with a shape. It owns its memory (or keeps alive the
// object that does, e.g. a memory-mapped file) and has reference semantics: kernels write through
// `data`. It is not a lazy or strided view type, and it knows nothing of gradients (see Variable).
import Foundation

// MARK: - Tensor

/// A dense row-major float32 tensor with reference semantics.
public final class Tensor: @unchecked Sendable {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The number of elements (product of `shape`).
    public let count: Int
    /// The first element; `count` floats follow contiguously.
    public let data: UnsafeMutablePointer<Float>
    /// Keeps foreign memory alive (a mapped file); nil when this tensor allocated `data` itself.
    private let owner: AnyObject?

    /// A zero-filled tensor of the given shape.
    public init(zeros shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = n
        self.data = BufferPool.take(max(n, 1))
        self.data.initialize(repeating: 0, count: max(n, 1))
        self.owner = nil
    }

    /// An uninitialised tensor of the given shape, for kernels that overwrite every element.
    public init(uninitialized shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = n
        self.data = BufferPool.take(max(n, 1))
        self.owner = nil
    }

    /// A tensor holding a copy of `values`, which must have `shape`'s element count.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(uninitialized: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { data.update(from: base, count: count) }
        }
    }

    /// A tensor over memory owned by `owner` (kept alive as long as the tensor lives).
    public init(shape: [Int], borrowing pointer: UnsafeMutablePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = pointer
        self.owner = owner
    }

    deinit {
        if owner == nil { BufferPool.give(data, max(count, 1)) }
    }

    // MARK: - Access

    /// The elements as a Swift array (a copy).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The elements as a buffer pointer over the tensor's memory.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }

    /// Element at a flat row-major index.
    public subscript(flat i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// The size of the last dimension (1 for a scalar).
    public var lastDim: Int { shape.last ?? 1 }

    /// The number of rows when the tensor is read as [count / lastDim, lastDim].
    public var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    /// A fresh tensor with the same shape and values.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same memory under a new shape with the same element count (shares storage).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, borrowing: data, owner: self)
    }

    /// Sets every element to zero.
    public func zero() { data.update(repeating: 0, count: count) }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }
}

// MARK: - Whole-tensor helpers

extension Tensor {
    /// The largest absolute difference to another tensor of the same element count.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(count == other.count, "count mismatch \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(data[i] - other.data[i])) }
        return m
    }

    /// The Euclidean norm of all elements, accumulated in Double.
    public func l2Norm() -> Double {
        var s = 0.0
        for i in 0..<count { let v = Double(data[i]); s += v * v }
        return s.squareRoot()
    }

    /// Adds `other` (same count) into this tensor in place.
    public func addInPlace(_ other: Tensor) {
        precondition(count == other.count, "count mismatch \(shape) vs \(other.shape)")
        Kernels.add(data, other.data, into: data, count: count)
    }
}

// MARK: - Buffer pool

/// Reuses large tensor buffers. A training step allocates the same activation and gradient shapes every step;
/// handing freed buffers back out avoids the page faults and kernel zeroing of fresh memory (several percent of a
/// step). Large buffers are allocated in size classes (eight per power of two, so at most ~9% over the request), and a
/// cached buffer serves requests up to `reachClasses` classes smaller, so that shapes which vary (prompt lengths, live
/// rows, packed micro-batches) still reuse each other's memory instead of caching a copy per class. The cache holds at
/// most `limitBytes`; past that the buffers freed longest ago are released first. Buffers under `minimumFloats` go
/// straight to the allocator.
public enum BufferPool {
    /// Buffers smaller than this many floats are not pooled.
    public static let minimumFloats = 1 << 14
    /// The most bytes kept cached (default 8 GiB, and never more than a third of physical memory).
    public nonisolated(unsafe) static var limitBytes: Int = min(
        8 << 30, Int(ProcessInfo.processInfo.physicalMemory / 3))
    nonisolated(unsafe) static var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) static var freedOrder: [(size: Int, pointer: UnsafeMutablePointer<Float>)] = []
    nonisolated(unsafe) static var cachedBytes = 0
    static let lock = NSLock()

    /// The pooled capacity for a request of `count` floats: `count` rounded up to one of eight steps per power of two.
    static func sizeClass(_ count: Int) -> Int {
        let top = Int.bitWidth - 1 - count.leadingZeroBitCount  // 2^top ≤ count < 2^(top+1)
        let step = max(1, (1 << top) >> 3)
        return (count + step - 1) / step * step
    }

    /// A cached buffer may serve a request up to this many size classes smaller (at most ~30% over it): a packed
    /// micro-batch's shapes vary by a few classes from one to the next, and exact-class reuse alone would cache a set
    /// of activations per class.
    static let reachClasses = 3
    /// Buffers handed out from a larger class than their request's, by pointer, so that `give` files them back under
    /// their real capacity.
    nonisolated(unsafe) static var lent: [UnsafeMutablePointer<Float>: Int] = [:]

    /// A buffer of at least `count` floats (uninitialised), 64-byte aligned.
    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        guard count >= minimumFloats else { return allocate(count) }
        let size = sizeClass(count)
        lock.lock()
        defer { lock.unlock() }
        var cls = size
        for _ in 0...reachClasses {
            if var list = free[cls], let p = list.popLast() {
                free[cls] = list.isEmpty ? nil : list
                if let i = freedOrder.lastIndex(where: { $0.pointer == p }) { freedOrder.remove(at: i) }
                cachedBytes -= cls * 4
                if cls != size { lent[p] = cls }
                return p
            }
            cls = sizeClass(cls + 1)
        }
        return allocate(size)
    }

    /// Returns a buffer that `take(count)` gave out.
    static func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        guard count >= minimumFloats else { UnsafeMutableRawPointer(p).deallocate(); return }
        lock.lock()
        let size = lent.removeValue(forKey: p) ?? sizeClass(count)
        free[size, default: []].append(p)
        freedOrder.append((size, p))
        cachedBytes += size * 4
        var evicted: [UnsafeMutablePointer<Float>] = []
        while cachedBytes > limitBytes, !freedOrder.isEmpty {
            let (oldSize, old) = freedOrder.removeFirst()
            if var list = free[oldSize], let i = list.firstIndex(of: old) {
                list.remove(at: i)
                free[oldSize] = list.isEmpty ? nil : list
            }
            cachedBytes -= oldSize * 4
            evicted.append(old)
        }
        lock.unlock()
        for e in evicted { UnsafeMutableRawPointer(e).deallocate() }
    }

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(
            to: Float.self, capacity: count)
    }

    /// Bytes currently cached.
    public static var cached: Int {
        lock.lock()
        defer { lock.unlock() }
        return cachedBytes
    }

    /// Frees every cached buffer (e.g. between a rollout phase and a training phase of different shapes).
    public static func releaseCached() {
        lock.lock()
        let all = freedOrder
        free = [:]
        freedOrder = []
        cachedBytes = 0
        lock.unlock()
        for e in all { UnsafeMutableRawPointer(e.pointer).deallocate() }
    }
}
