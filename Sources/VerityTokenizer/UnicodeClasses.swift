// Character classes for the pre-tokenizer patterns: Unicode letters (\p{L}: Lu Ll Lt Lm Lo),
// numbers (\p{N}: Nd Nl No) and white space (\s: the White_Space property, which is what
// Oniguruma's Unicode \s and Rust's `char::is_whitespace` use), plus \r and \n. Values come from
// the Swift standard library's Unicode tables, cached in a flat table for the Basic Multilingual
// Plane. This file classifies; it does not split (PreTokenizer.swift).

// MARK: - Class bits

/// Bit flags describing one Unicode scalar for the split patterns.
enum CharClass {
    /// \p{L}
    static let letter: UInt8 = 1
    /// \p{N}
    static let number: UInt8 = 2
    /// \s (White_Space)
    static let space: UInt8 = 4
    /// \r or \n (always together with `space`)
    static let newline: UInt8 = 8
    /// \w as Rust `regex` defines it (Alphabetic, Mark, Nd, Pc, Join_Control); used by single_word added tokens.
    static let word: UInt8 = 16

    /// The class bits of any scalar, computed from the standard library's properties.
    static func compute(_ scalar: Unicode.Scalar) -> UInt8 {
        let p = scalar.properties
        var bits: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            bits |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            bits |= number
        default:
            break
        }
        if p.isWhitespace { bits |= space }
        if scalar.value == 0x0A || scalar.value == 0x0D { bits |= newline }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            bits |= word
        default:
            if p.isAlphabetic || p.isJoinControl { bits |= word }
        }
        return bits
    }

    /// Class bits for U+0000–U+FFFF (surrogates get 0), built once per process.
    nonisolated(unsafe) static let bmp: UnsafeMutablePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for u in 0..<0x10000 {
            if let scalar = Unicode.Scalar(UInt32(u)) {
                table[u] = compute(scalar)
            } else {
                table[u] = 0
            }
        }
        return table
    }()

    /// The class bits of a scalar value.
    @inline(__always)
    static func of(_ u: UInt32, bmp table: UnsafeMutablePointer<UInt8>) -> UInt8 {
        if u < 0x10000 { return table[Int(u)] }
        guard let scalar = Unicode.Scalar(u) else { return 0 }
        return compute(scalar)
    }
}

// MARK: - UTF-8 stepping

/// Decodes the scalar starting at `i` of valid UTF-8 and returns its value and byte length.
@inline(__always)
func decodeScalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return (
        (b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4
    )
}
