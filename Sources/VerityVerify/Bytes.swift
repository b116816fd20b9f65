// Byte-string helpers: the normalizers of the reference graders are literal substring and
// character-class rules, so they run here on UTF-8 bytes instead of Swift `Character`s (grapheme
// breaking is far slower and never needed). This file holds no grading rule itself.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Byte strings

/// A UTF-8 byte string, the working representation of every normalizer.
typealias Bytes = [UInt8]

extension Array where Element == UInt8 {
    /// The bytes of a Swift string.
    @inline(__always) init(_ s: String) { self = Array(s.utf8) }

    /// The bytes decoded as a Swift string (invalid sequences repaired).
    var string: String { String(decoding: self, as: UTF8.self) }

    /// Index of the first occurrence of `needle` at or after `from`, or nil (first byte located with `memchr`).
    func find(_ needle: Bytes, from: Int = 0) -> Int? {
        let n = needle.count, m = count
        if n == 0 { return from <= m ? from : nil }
        let start = Swift.max(from, 0)
        if m < n || start > m - n { return nil }
        return withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { nd in
                guard let base = h.baseAddress, let nb = nd.baseAddress else { return nil }
                var i = start
                while i <= m - n {
                    guard let hit = memchr(base + i, Int32(nb[0]), m - n - i + 1) else { return nil }
                    let k = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if n == 1 || memcmp(base + k + 1, nb + 1, n - 1) == 0 { return k }
                    i = k + 1
                }
                return nil
            }
        }
    }

    /// Index of the last occurrence of `needle` that ends at or before `before` (default: the end), or nil.
    func findLast(_ needle: Bytes, before: Int? = nil) -> Int? {
        let n = needle.count, m = Swift.min(before ?? count, count)
        if n == 0 || m < n { return nil }
        return withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { nd in
                guard let base = h.baseAddress, let nb = nd.baseAddress else { return nil }
                var limit = m - n + 1  // candidate starts lie in [0, limit)
                while limit > 0 {
                    let first = nb[0]
                    var k = limit - 1
                    // Eight bytes at a time: a word holds `first` when (w ^ pattern) has a zero byte.
                    let pattern = UInt64(first) &* 0x0101_0101_0101_0101
                    while k >= 7 {
                        let w = UnsafeRawPointer(base + (k - 7)).loadUnaligned(as: UInt64.self) ^ pattern
                        if (w &- 0x0101_0101_0101_0101) & ~w & 0x8080_8080_8080_8080 != 0 { break }
                        k -= 8
                    }
                    while k >= 0 && base[k] != first { k -= 1 }
                    if k < 0 { return nil }
                    if n == 1 || memcmp(base + k + 1, nb + 1, n - 1) == 0 { return k }
                    limit = k
                }
                return nil
            }
        }
    }

    /// Whether `needle` occurs.
    @inline(__always) func has(_ needle: Bytes) -> Bool { find(needle) != nil }

    /// Number of non-overlapping occurrences of `needle`.
    func occurrences(_ needle: Bytes) -> Int {
        var c = 0, i = 0
        while let k = find(needle, from: i) { c += 1; i = k + Swift.max(needle.count, 1) }
        return c
    }

    /// Every occurrence of `a` replaced by `b`, scanning left to right (Python `str.replace`).
    func replacing(_ a: Bytes, _ b: Bytes) -> Bytes {
        guard !a.isEmpty, var k = find(a) else { return self }
        var out = Bytes(); out.reserveCapacity(count)
        var i = 0
        while true {
            out.append(contentsOf: self[i..<k]); out.append(contentsOf: b)
            i = k + a.count
            guard let n = find(a, from: i) else { break }
            k = n
        }
        out.append(contentsOf: self[i...])
        return out
    }

    /// Python `str.split(sep)`.
    func split(on sep: Bytes) -> [Bytes] {
        var parts: [Bytes] = [], i = 0
        while let k = find(sep, from: i) { parts.append(Bytes(self[i..<k])); i = k + sep.count }
        parts.append(Bytes(self[i...]))
        return parts
    }

    /// Python `str.strip()` of ASCII whitespace.
    func trimmed() -> Bytes {
        var a = 0, b = count
        while a < b && isSpace(self[a]) { a += 1 }
        while b > a && isSpace(self[b - 1]) { b -= 1 }
        return Bytes(self[a..<b])
    }

    /// Strip any of `chars` from both ends (Python `str.strip(chars)`).
    func stripping(_ chars: Bytes) -> Bytes {
        var a = 0, b = count
        while a < b && chars.contains(self[a]) { a += 1 }
        while b > a && chars.contains(self[b - 1]) { b -= 1 }
        return Bytes(self[a..<b])
    }

    /// Strip any of `chars` from the right end.
    func rstripping(_ chars: Bytes) -> Bytes {
        var b = count
        while b > 0 && chars.contains(self[b - 1]) { b -= 1 }
        return Bytes(self[0..<b])
    }

    /// Strip any of `chars` from the left end.
    func lstripping(_ chars: Bytes) -> Bytes {
        var a = 0
        while a < count && chars.contains(self[a]) { a += 1 }
        return Bytes(self[a...])
    }

    /// Whether the bytes start with `p`.
    @inline(__always) func starts(_ p: Bytes) -> Bool {
        p.count <= count && self[0..<p.count].elementsEqual(p)
    }

    /// Whether the bytes end with `p`.
    @inline(__always) func ends(_ p: Bytes) -> Bool {
        p.count <= count && self[(count - p.count)...].elementsEqual(p)
    }

    /// Whether `p` occurs at offset `i`.
    @inline(__always) func has(_ p: Bytes, at i: Int) -> Bool {
        if i < 0 || i + p.count > count { return false }
        var j = 0
        while j < p.count { if self[i + j] != p[j] { return false }; j += 1 }
        return true
    }

    /// Whether the UTF-8 of a string occurs at `i` (no allocation).
    @inline(__always) func has(utf8 p: String.UTF8View, at i: Int) -> Bool {
        if i < 0 || i + p.count > count { return false }
        var j = i
        for b in p {
            if self[j] != b { return false }
            j += 1
        }
        return true
    }

    /// ASCII lower-casing.
    func lowered() -> Bytes { map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 } }

    /// ASCII upper-casing.
    func uppered() -> Bytes { map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 } }

    /// All bytes equal to `c` removed.
    func removingAll(_ c: UInt8) -> Bytes { filter { $0 != c } }
}

// MARK: - Character classes

/// ASCII whitespace as Python's `str.strip()` sees it.
@inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
/// ASCII digit.
@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
/// ASCII letter.
@inline(__always) func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }
/// Python regex `\w` on UTF-8 bytes: letters, digits, `_`, and any non-ASCII byte (Unicode letters).
@inline(__always) func isWord(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) || c == 95 || c >= 0x80 }

/// Whether the bytes are a non-empty run of ASCII digits.
func allDigits(_ b: Bytes) -> Bool { !b.isEmpty && b.allSatisfy(isDigit) }

/// Python `int(s)` for decimal strings (sign, surrounding whitespace, `_` between digits), or nil.
func pyInt(_ s: Bytes) -> Int? {
    let t = s.trimmed()
    var i = 0, neg = false
    if i < t.count && (t[i] == 43 || t[i] == 45) { neg = t[i] == 45; i += 1 }
    if i >= t.count || !isDigit(t[i]) { return nil }
    var v = 0, prevDigit = false
    while i < t.count {
        let c = t[i]
        if isDigit(c) {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 48))
            if o1 || o2 { return nil }
            v = a; prevDigit = true
        } else if c == 95 && prevDigit && i + 1 < t.count && isDigit(t[i + 1]) {
            prevDigit = false
        } else {
            return nil
        }
        i += 1
    }
    return neg ? -v : v
}

/// Python `float(s)`: decimal and scientific forms, `inf`/`infinity`/`nan`, whitespace, `_` between digits.
func pyFloat(_ s: Bytes) -> Double? {
    let t = s.trimmed()
    if t.isEmpty || t.count > 400 { return nil }
    var i = 0
    var sign = 1.0
    if t[0] == 43 || t[0] == 45 { sign = t[0] == 45 ? -1 : 1; i = 1 }
    let rest = Bytes(t[i...]).lowered()
    if rest == Bytes("inf") || rest == Bytes("infinity") { return sign * .infinity }
    if rest == Bytes("nan") { return .nan }
    var clean = Bytes(); clean.reserveCapacity(t.count)
    var sawDigit = false, sawDot = false, sawExp = false, expDigits = false
    var j = 0
    while j < rest.count {
        let c = rest[j]
        if isDigit(c) {
            if sawExp { expDigits = true } else { sawDigit = true }
            clean.append(c)
        } else if c == 95 {
            if j == 0 || j + 1 >= rest.count || !isDigit(rest[j - 1]) || !isDigit(rest[j + 1]) { return nil }
        } else if c == 46 {
            if sawDot || sawExp { return nil }
            sawDot = true; clean.append(c)
        } else if c == 101 {
            if sawExp || !sawDigit { return nil }
            sawExp = true; clean.append(c)
            if j + 1 < rest.count && (rest[j + 1] == 43 || rest[j + 1] == 45) { clean.append(rest[j + 1]); j += 1 }
        } else {
            return nil
        }
        j += 1
    }
    if !sawDigit || (sawExp && !expDigits) { return nil }
    guard let v = Double(clean.string) else { return nil }
    return sign * v
}

// MARK: - Static-string overloads (no allocation for literal needles)

extension Array where Element == UInt8 {
    /// `find` with a literal needle.
    @inline(__always) func find(_ needle: StaticString, from: Int = 0) -> Int? {
        needle.withUTF8Buffer { find(Bytes($0), from: from) }
    }
    /// `findLast` with a literal needle.
    @inline(__always) func findLast(_ needle: StaticString, before: Int? = nil) -> Int? {
        needle.withUTF8Buffer { findLast(Bytes($0), before: before) }
    }
    /// `has` with a literal needle, without allocating.
    @inline(__always) func has(_ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { nd in
            let n = nd.count, m = count
            if n == 0 { return true }
            if m < n { return false }
            return withUnsafeBufferPointer { h in
                guard let base = h.baseAddress, let nb = nd.baseAddress else { return false }
                var i = 0
                while i <= m - n {
                    guard let hit = memchr(base + i, Int32(nb[0]), m - n - i + 1) else { return false }
                    let k = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if n == 1 || memcmp(base + k + 1, nb + 1, n - 1) == 0 { return true }
                    i = k + 1
                }
                return false
            }
        }
    }
    /// `has(_:at:)` with a literal needle.
    @inline(__always) func has(_ p: StaticString, at i: Int) -> Bool {
        p.withUTF8Buffer { nd in
            if i < 0 || i + nd.count > count { return false }
            var j = 0
            while j < nd.count { if self[i + j] != nd[j] { return false }; j += 1 }
            return true
        }
    }
    /// `replacing` with literal operands; allocates only when the needle occurs.
    @inline(__always) func replacing(_ a: StaticString, _ b: StaticString) -> Bytes {
        has(a) ? a.withUTF8Buffer { x in b.withUTF8Buffer { y in replacing(Bytes(x), Bytes(y)) } } : self
    }
    /// `replacing` with a literal needle.
    @inline(__always) func replacing(_ a: StaticString, _ b: Bytes) -> Bytes {
        has(a) ? a.withUTF8Buffer { x in replacing(Bytes(x), b) } : self
    }
    /// `starts` with a literal prefix.
    @inline(__always) func starts(_ p: StaticString) -> Bool { has(p, at: 0) }
    /// `ends` with a literal suffix.
    @inline(__always) func ends(_ p: StaticString) -> Bool { p.withUTF8Buffer { has(p, at: count - $0.count) } }
    /// `occurrences` with a literal needle.
    @inline(__always) func occurrences(_ needle: StaticString) -> Int {
        has(needle) ? needle.withUTF8Buffer { occurrences(Bytes($0)) } : 0
    }
}
