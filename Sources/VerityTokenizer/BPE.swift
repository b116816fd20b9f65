// The byte-level BPE model: merges of token-id pairs by rank, applied to the bytes of one
// pre-tokenized piece, with a per-workspace cache of finished pieces. The merge order follows
// Hugging Face `tokenizers` (models/bpe/word.rs): repeatedly apply the lowest-ranked merge
// present, the leftmost one on ties, until none applies. Dropout, continuing-subword prefixes and
// byte fallback are not implemented (the loader rejects them). No strings are built here.

// MARK: - Hashing

/// A fast 64-bit hash of a byte range (8-byte words, multiply-xorshift mixing).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= count {
        let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < count {
        var w: UInt64 = 0
        var shift: UInt64 = 0
        while i < count {
            w |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
    }
    h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h >> 32)
}

// MARK: - Pair table

/// Open-addressing map from a token-id pair to (rank, merged id).
struct PairTable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private let shift: UInt64
    /// Number of pairs stored.
    private(set) var count = 0

    /// The value returned for a pair with no merge.
    static let absent = UInt64.max

    init(capacityFor n: Int) {
        var cap = 16
        var bits: UInt64 = 4
        while cap < n * 2 { cap <<= 1; bits += 1 }
        keys = [UInt64](repeating: UInt64.max, count: cap)
        values = [UInt64](repeating: 0, count: cap)
        mask = cap - 1
        shift = 64 - bits
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Inserts a merge; a repeated pair takes the later rank, as the HashMap in `tokenizers` does.
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        let value = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        var s = slot(key)
        while keys[s] != UInt64.max {
            if keys[s] == key { values[s] = value; return }
            s = (s + 1) & mask
        }
        keys[s] = key
        values[s] = value
        count += 1
    }

    /// The packed (rank << 32 | merged id) of a pair, or `absent`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { k in
            var s = slot(key)
            while true {
                let stored = k[s]
                if stored == key { return values.withUnsafeBufferPointer { $0[s] } }
                if stored == UInt64.max { return PairTable.absent }
                s = (s + 1) & mask
            }
        }
    }
}

// MARK: - Byte-keyed table

/// Open-addressing map from a byte string to a short list of token ids (the piece cache, the
/// token table, and the whole-token lookup used with `ignore_merges`). Slots hold the hash and
/// the arena positions inline, so a probe touches one slot and, on a hash match, the key bytes.
struct ByteKeyTable {
    private struct Slot {
        var tag: UInt32 = 0
        var keyStart: UInt32 = 0
        var valueStart: UInt32 = 0
        var keyCount: UInt16 = 0
        var valueCount: UInt16 = 0  // 0: empty (every stored value list is non-empty)
    }
    private var slots: [Slot]
    private var keyBytes: [UInt8] = []
    private(set) var values: [Int32] = []
    private var mask: Int
    /// Entries stored.
    private(set) var count = 0
    /// Entries allowed before `insert` clears the table (bounded memory for the cache).
    let limit: Int
    /// The longest key and value list an entry can hold.
    static let maxLength = Int(UInt16.max)

    init(slotCount: Int, limit: Int) {
        var cap = 16
        while cap < slotCount { cap <<= 1 }
        slots = [Slot](repeating: Slot(), count: cap)
        mask = cap - 1
        self.limit = min(limit, cap * 3 / 4)
    }

    /// The value range of the entry for `key`, or nil.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> Range<Int>? {
        let tag = UInt32(truncatingIfNeeded: hash >> 32)
        return slots.withUnsafeBufferPointer { sl -> Range<Int>? in
            keyBytes.withUnsafeBufferPointer { kb -> Range<Int>? in
                var s = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let slot = sl[s]
                    if slot.valueCount == 0 { return nil }
                    if slot.tag == tag && Int(slot.keyCount) == n {
                        let start = Int(slot.keyStart)
                        var same = true
                        var k = 0
                        while k < n {
                            if kb[start + k] != p[k] { same = false; break }
                            k += 1
                        }
                        if same { return Int(slot.valueStart)..<(Int(slot.valueStart) + Int(slot.valueCount)) }
                    }
                    s = (s + 1) & mask
                }
            }
        }
    }

    /// Stores `ids` for `key` (which must be absent), clearing the table first when it is full.
    /// Keys or value lists longer than `maxLength`, and empty value lists, are not stored.
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64, ids: UnsafeBufferPointer<Int32>) {
        guard n <= ByteKeyTable.maxLength, !ids.isEmpty, ids.count <= ByteKeyTable.maxLength else { return }
        if count >= limit { removeAll() }
        let slot = Slot(
            tag: UInt32(truncatingIfNeeded: hash >> 32), keyStart: UInt32(keyBytes.count),
            valueStart: UInt32(values.count), keyCount: UInt16(n), valueCount: UInt16(ids.count))
        keyBytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(contentsOf: ids)
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s].valueCount != 0 { s = (s + 1) & mask }
        slots[s] = slot
        count += 1
    }

    /// Sets a one-id value for `key`, replacing the value of an existing entry.
    mutating func setSingle(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64, id: Int32) {
        if let range = find(p, n, hash: hash), range.count == 1 {
            values[range.lowerBound] = id
            return
        }
        var value = id
        withUnsafePointer(to: &value) { insert(p, n, hash: hash, ids: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Empties the table, keeping its capacity.
    mutating func removeAll() {
        for i in slots.indices { slots[i].valueCount = 0 }
        count = 0
        keyBytes.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }
}

// MARK: - Token table

/// Token string -> id, keyed by the exact UTF-8 bytes (Swift's String hashing normalizes Unicode,
/// which is slow on 151k byte-level tokens and would conflate canonically equivalent tokens).
struct TokenTable: @unchecked Sendable {
    private var table: ByteKeyTable

    init(capacity: Int) {
        table = ByteKeyTable(slotCount: max(16, capacity + capacity / 2), limit: Int.max)
    }

    /// The id of the token with these exact bytes.
    func id(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        guard let r = table.find(p, n, hash: hashBytes(p, n)) else { return nil }
        return table.values[r.lowerBound]
    }

    /// The id of a token string.
    func id(_ token: String) -> Int32? {
        var token = token
        return token.withUTF8 { b in
            guard let p = b.baseAddress else { return nil }
            return id(p, b.count)
        }
    }

    /// Maps `token` to `id`, replacing an earlier id.
    mutating func set(_ token: String, _ id: Int32) {
        var token = token
        token.withUTF8 { b in
            guard let p = b.baseAddress else { return }
            table.setSingle(p, b.count, hash: hashBytes(p, b.count), id: id)
        }
    }
}

// MARK: - Model

/// The merge tables of a byte-level BPE vocabulary.
struct BPEModel: @unchecked Sendable {
    /// Token id of each single byte, or -1 when the byte's character is not in the vocabulary.
    let byteToID: [Int32]
    /// Merges keyed by id pair.
    let pairs: PairTable
    /// Whole-piece vocabulary lookup, present when `ignore_merges` is set.
    let wholeTokens: ByteKeyTable?
    /// The unknown token's id, if the model names one.
    let unknownID: Int32?
    /// Whether consecutive unknown symbols fuse into one.
    let fuseUnknown: Bool

    /// Pieces longer than this (in bytes) use the heap-based merge loop instead of the linear scan.
    static let heapThreshold = 48
}

/// Reusable buffers and the piece cache of one encoding thread.
final class EncodeWorkspace {
    var cache = ByteKeyTable(slotCount: 1 << 17, limit: 90_000)
    var symbols: [Int32] = []
    var ranks: [UInt64] = []
    var normalized: [UInt8] = []
    // Heap-path buffers.
    var next: [Int32] = []
    var prev: [Int32] = []
    var heap: [UInt64] = []
    var heapMerged: [Int32] = []
}

extension BPEModel {
    /// Appends the ids of one pre-tokenized piece `p[0..<n]` (n > 0) to `out`.
    @inline(__always)
    func encodePiece(
        _ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int32], workspace ws: EncodeWorkspace,
        forceHeap: Bool = false
    ) {
        if n == 1 {
            let id = byteToID[Int(p[0])]
            if id >= 0 { out.append(id) } else if let unk = unknownID { out.append(unk) }
            return
        }
        let h = hashBytes(p, n)
        if let range = ws.cache.find(p, n, hash: h) {
            ws.cache.values.withUnsafeBufferPointer { v in
                out.append(contentsOf: UnsafeBufferPointer(rebasing: v[range]))
            }
            return
        }
        if let whole = wholeTokens, let range = whole.find(p, n, hash: h) {
            out.append(contentsOf: whole.values[range])
            return
        }
        initialSymbols(p, n, ws)
        if ws.symbols.count > BPEModel.heapThreshold || forceHeap {
            mergeWithHeap(ws)
        } else {
            mergeByScan(ws)
        }
        ws.symbols.withUnsafeBufferPointer { s in
            out.append(contentsOf: s)
            ws.cache.insert(p, n, hash: h, ids: s)
        }
    }

    /// Fills `ws.symbols` with the byte tokens of the piece (unknown bytes become unk or vanish).
    @inline(__always)
    private func initialSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, _ ws: EncodeWorkspace) {
        ws.symbols.removeAll(keepingCapacity: true)
        var lastWasUnknown = false
        for k in 0..<n {
            let id = byteToID[Int(p[k])]
            if id >= 0 {
                ws.symbols.append(id)
                lastWasUnknown = false
            } else if let unk = unknownID {
                if !(fuseUnknown && lastWasUnknown) { ws.symbols.append(unk) }
                lastWasUnknown = true
            }
        }
    }

    /// Linear-scan merge loop for short pieces: O(n²) with tiny constants.
    private func mergeByScan(_ ws: EncodeWorkspace) {
        var n = ws.symbols.count
        guard n > 1 else { return }
        ws.ranks.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) { ws.ranks.append(pairs.lookup(ws.symbols[k], ws.symbols[k + 1])) }
        ws.symbols.withUnsafeMutableBufferPointer { sym in
            ws.ranks.withUnsafeMutableBufferPointer { rk in
                while n > 1 {
                    var best = PairTable.absent
                    var at = -1
                    for k in 0..<(n - 1) where rk[k] < best {
                        best = rk[k]
                        at = k
                    }
                    if at < 0 { break }
                    sym[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    // Remove symbol at+1 and pair at+1.
                    var k = at + 1
                    while k < n - 1 { sym[k] = sym[k + 1]; k += 1 }
                    k = at + 1
                    while k < n - 2 { rk[k] = rk[k + 1]; k += 1 }
                    n -= 1
                    if at > 0 { rk[at - 1] = pairs.lookup(sym[at - 1], sym[at]) }
                    if at < n - 1 { rk[at] = pairs.lookup(sym[at], sym[at + 1]) }
                }
            }
        }
        ws.symbols.removeLast(ws.symbols.count - n)
    }

    /// Heap-based merge loop for long pieces: O(n log n), the same order as the scan
    /// (lowest rank first, then leftmost position), as in `tokenizers` word.rs.
    private func mergeWithHeap(_ ws: EncodeWorkspace) {
        let n = ws.symbols.count
        guard n > 1 else { return }
        ws.next.removeAll(keepingCapacity: true)
        ws.prev.removeAll(keepingCapacity: true)
        for k in 0..<n {
            ws.next.append(k + 1 < n ? Int32(k + 1) : -1)
            ws.prev.append(Int32(k - 1))
        }
        // Heap entries: rank << 32 | position; the merged id is re-derived from the pair table.
        ws.heap.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) {
            let v = pairs.lookup(ws.symbols[k], ws.symbols[k + 1])
            if v != PairTable.absent { heapPush(&ws.heap, (v >> 32) << 32 | UInt64(k)) }
        }
        var alive = [Bool](repeating: true, count: n)
        while let top = heapPop(&ws.heap) {
            let rank = top >> 32
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos], ws.next[pos] >= 0 else { continue }
            let right = Int(ws.next[pos])
            let v = pairs.lookup(ws.symbols[pos], ws.symbols[right])
            // Stale entry: the pair at `pos` changed since it was pushed.
            guard v != PairTable.absent, v >> 32 == rank else { continue }
            ws.symbols[pos] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
            alive[right] = false
            let after = ws.next[right]
            ws.next[pos] = after
            if after >= 0 { ws.prev[Int(after)] = Int32(pos) }
            let before = ws.prev[pos]
            if before >= 0 {
                let w = pairs.lookup(ws.symbols[Int(before)], ws.symbols[pos])
                if w != PairTable.absent { heapPush(&ws.heap, (w >> 32) << 32 | UInt64(before)) }
            }
            if after >= 0 {
                let w = pairs.lookup(ws.symbols[pos], ws.symbols[Int(after)])
                if w != PairTable.absent { heapPush(&ws.heap, (w >> 32) << 32 | UInt64(pos)) }
            }
        }
        var k = 0
        var m = 0
        while k >= 0 {
            ws.symbols[m] = ws.symbols[k]
            m += 1
            k = Int(ws.next[k])
        }
        ws.symbols.removeLast(n - m)
    }
}

// MARK: - Binary min-heap of packed keys

@inline(__always)
private func heapPush(_ heap: inout [UInt64], _ value: UInt64) {
    heap.append(value)
    var i = heap.count - 1
    while i > 0 {
        let parent = (i - 1) / 2
        if heap[parent] <= heap[i] { break }
        heap.swapAt(parent, i)
        i = parent
    }
}

@inline(__always)
private func heapPop(_ heap: inout [UInt64]) -> UInt64? {
    guard let last = heap.popLast() else { return nil }
    guard !heap.isEmpty else { return last }
    let top = heap[0]
    heap[0] = last
    var i = 0
    let n = heap.count
    while true {
        let l = 2 * i + 1
        if l >= n { break }
        var c = l
        if l + 1 < n && heap[l + 1] < heap[l] { c = l + 1 }
        if heap[i] <= heap[c] { break }
        heap.swapAt(i, c)
        i = c
    }
    return top
}
