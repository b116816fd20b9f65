// The GPT-2 byte-level alphabet: every byte 0–255 is written as one printable Unicode character
// so that BPE vocabularies can be stored as JSON strings (GPT-2 `bytes_to_unicode`, also used by
// Hugging Face `tokenizers` ByteLevel). This file only maps between bytes and those characters;
// it does not split text (PreTokenizer.swift) or merge tokens (BPE.swift).

// MARK: - Byte <-> character map

/// The byte-level alphabet of GPT-2 and Hugging Face ByteLevel.
public enum ByteLevel {
    /// `scalarOfByte[b]` is the Unicode scalar value that stands for byte `b`.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// `byteOfScalar[u]` is the byte that scalar `u` stands for, or -1; indexed up to U+0143.
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, u) in scalarOfByte.enumerated() { table[Int(u)] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level token string stands for, or nil if a character is outside the alphabet.
    public static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let u = Int(scalar.value)
            guard u < byteOfScalar.count, byteOfScalar[u] >= 0 else { return nil }
            out.append(UInt8(byteOfScalar[u]))
        }
        return out
    }

    /// The bytes Hugging Face's ByteLevel decoder produces for a token: the mapped bytes, or the
    /// token's own UTF-8 when any character is outside the alphabet (as `tokenizers` does).
    static func decodedBytes(ofToken token: String) -> [UInt8] {
        bytes(ofToken: token) ?? Array(token.utf8)
    }

    /// Appends `decodedBytes(ofToken:)` to `out` without an intermediate array.
    static func appendDecodedBytes(ofToken token: String, to out: inout [UInt8]) {
        let start = out.count
        for scalar in token.unicodeScalars {
            let u = Int(scalar.value)
            guard u < byteOfScalar.count, byteOfScalar[u] >= 0 else {
                out.removeLast(out.count - start)
                out.append(contentsOf: token.utf8)
                return
            }
            out.append(UInt8(byteOfScalar[u]))
        }
    }

    /// The byte-level string for raw bytes.
    public static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes {
            if let scalar = Unicode.Scalar(scalarOfByte[Int(b)]) { s.append(scalar) }
        }
        return String(s)
    }
}
