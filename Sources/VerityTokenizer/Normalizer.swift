// Unicode NFC normalization of text segments before pre-tokenization, as the NFC normalizer of
// Hugging Face `tokenizers` (and Qwen2Tokenizer's `unicodedata.normalize("NFC")`) does. The work
// is Foundation's `precomposedStringWithCanonicalMapping`, applied only to the stretches that can
// change: text whose scalars are all below U+0300 is already NFC, and a boundary before an ASCII
// character is always stable (ASCII has combining class 0 and never composes with what precedes
// it; UAX #15), so only the stretch from the last ASCII character before a scalar ≥ U+0300 to the
// next ASCII character is handed to Foundation. Nothing else is normalized here.
import Foundation

// MARK: - NFC

enum NFC {
    /// True when `p[0..<n]` may change under NFC (it holds a scalar ≥ U+0300, lead byte ≥ 0xCC).
    @inline(__always)
    static func mayChange(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i < n {
            if p[i] >= 0xCC { return true }
            i += 1
        }
        return false
    }

    /// Writes the NFC form of valid UTF-8 `p[0..<n]` into `out` (replacing its contents).
    static func normalize(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var i = 0
        while i < n {
            // Find the next byte that may start a changing scalar.
            var k = i
            while k < n && p[k] < 0xCC { k += 1 }
            if k == n {
                out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: n - i))
                break
            }
            // Stable start: the last ASCII byte at or before k (not before i).
            var s = k
            while s > i && p[s] >= 0x80 { s -= 1 }
            if p[s] >= 0x80 { s = i }
            // Stable end: the next ASCII byte after k.
            var e = k + 1
            while e < n && p[e] >= 0x80 { e += 1 }
            out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: s - i))
            let chunk = String(decoding: UnsafeBufferPointer(start: p + s, count: e - s), as: UTF8.self)
            out.append(contentsOf: chunk.precomposedStringWithCanonicalMapping.utf8)
            i = e
        }
    }
}
