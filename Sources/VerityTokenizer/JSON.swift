// A small, strict JSON reader for tokenizer files (RFC 8259). It exists because Foundation's
// JSONSerialization is slow on the 7 MB Qwen tokenizer.json and reports errors without the file,
// line and column this module promises. It reads UTF-8 bytes into a tree; it does not write JSON,
// keeps object members in file order, and is internal to VerityTokenizer.
import Foundation

// MARK: - Value tree

/// A parsed JSON value; objects keep their members in file order.
enum JSONValue {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// The member named `key` of an object (first occurrence), or nil.
    subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// The string payload, or nil for any other kind.
    var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The boolean payload, or nil for any other kind.
    var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// The number as an exact integer, or nil when it is not a number or not integral.
    var intValue: Int? {
        guard case let .number(d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    /// True for `null`.
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the kind, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

// MARK: - Parser

/// Parses JSON bytes; errors carry `file` and a line:column computed from the failing offset.
struct JSONParser {
    /// The name used in error messages.
    let file: String

    /// Parses a whole document; trailing non-space bytes are an error.
    func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw -> JSONValue in
            let bytes = raw.bindMemory(to: UInt8.self)
            var cursor = Cursor(bytes: bytes, file: file)
            cursor.skipSpace()
            let value = try cursor.parseValue(depth: 0)
            cursor.skipSpace()
            if cursor.pos < bytes.count {
                throw cursor.error("unexpected data after the top-level value")
            }
            return value
        }
    }
}

/// The moving read position over the byte buffer.
private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let file: String
    var pos = 0
    /// Scratch buffer for strings that contain escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// 1-based line and column of a byte offset.
    func location(_ offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
            i += 1
        }
        return (line, end - lineStart + 1)
    }

    func error(_ reason: String, at offset: Int? = nil) -> TokenizerError {
        let (line, column) = location(offset ?? pos)
        return .malformedJSON(file: file, line: line, column: column, reason: reason)
    }

    mutating func skipSpace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { break }
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw error("nesting deeper than 512 levels") }
        guard pos < bytes.count else { throw error("unexpected end of file (truncated?)") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character \(describe(bytes[pos]))")
        }
    }

    func describe(_ b: UInt8) -> String {
        (0x21..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : String(format: "0x%02X", b)
    }

    mutating func expectWord(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw error("unexpected end of file (truncated?)") }
        let start = word.utf8Start
        for k in 0..<n where bytes[pos + k] != start[k] {
            throw error("invalid literal (expected \(word))")
        }
        pos += n
    }

    mutating func parseObject(depth: Int) throws -> JSONValue {
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipSpace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an object (truncated?)") }
            guard bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describe(bytes[pos]))")
            }
            let key = try parseString()
            skipSpace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an object (truncated?)") }
            guard bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after key \(key.debugDescription)") }
            pos += 1
            skipSpace()
            let value = try parseValue(depth: depth + 1)
            members.append((key, value))
            skipSpace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an object (truncated?)") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw error("expected ',' or '}' in an object, found \(describe(bytes[pos]))")
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try parseValue(depth: depth + 1))
            skipSpace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an array (truncated?)") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']' in an array, found \(describe(bytes[pos]))")
        }
    }

    mutating func parseNumber() throws -> Double {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        var integral = true
        var digits = 0
        var value: Int = 0
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
            if digits < 15 { value = value * 10 + Int(bytes[pos] - 0x30) }
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw error("invalid number", at: start) }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            integral = false
            pos += 1
            var fraction = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1; fraction += 1 }
            guard fraction > 0 else { throw error("invalid number", at: start) }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            integral = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            var exponent = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1; exponent += 1 }
            guard exponent > 0 else { throw error("invalid number", at: start) }
        }
        if integral && digits <= 15 {
            return bytes[start] == UInt8(ascii: "-") ? -Double(value) : Double(value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let d = Double(text) else { throw error("invalid number \(text)", at: start) }
        return d
    }

    mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("unexpected end of file in a \\u escape (truncated?)") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw error("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Parses a string starting at the opening quote, validating UTF-8.
    mutating func parseString() throws -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes, ASCII or validated UTF-8.
        var ascii = true
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<pos])
                pos += 1
                if ascii { return String(decoding: slice, as: UTF8.self) }
                guard let s = String(validating: slice, as: UTF8.self) else { throw utf8Error(in: start..<(pos - 1)) }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("unescaped control character \(describe(b)) in a string") }
            if b >= 0x80 { ascii = false }
            pos += 1
        }
        guard pos < bytes.count else { throw error("unexpected end of file inside a string (truncated?)") }
        // Slow path with escapes.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        let rawStart = start
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                guard let s = String(validating: scratch, as: UTF8.self) else {
                    throw utf8Error(in: rawStart..<(pos - 1))
                }
                return s
            }
            if b < 0x20 { throw error("unescaped control character \(describe(b)) in a string") }
            if b != UInt8(ascii: "\\") { scratch.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                    else {
                        throw error("unpaired surrogate in a \\u escape")
                    }
                    pos += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in a \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(code) {
                    throw error("unpaired surrogate in a \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                scratch.append(contentsOf: String(Character(scalar)).utf8)
            default:
                throw error("invalid escape \\\(describe(e))")
            }
        }
        throw error("unexpected end of file inside a string (truncated?)")
    }

    /// The error for the first invalid UTF-8 byte inside `range`.
    func utf8Error(in range: Range<Int>) -> TokenizerError {
        var i = range.lowerBound
        while i < range.upperBound {
            let n = validUTF8Length(at: i, end: range.upperBound)
            if n == 0 { break }
            i += n
        }
        let (line, column) = location(i)
        return .invalidUTF8(file: file, line: line, column: column)
    }

    /// The length of the valid UTF-8 sequence starting at `i`, or 0 when it is invalid.
    func validUTF8Length(at i: Int, end: Int) -> Int {
        let b0 = bytes[i]
        if b0 < 0x80 { return 1 }
        let need: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0
        case 0xED: need = 2; hi = 0x9F
        case 0xE1...0xEF: need = 2
        case 0xF0: need = 3; lo = 0x90
        case 0xF4: need = 3; hi = 0x8F
        case 0xF1...0xF3: need = 3
        default: return 0
        }
        guard i + need < end else { return 0 }
        if bytes[i + 1] < lo || bytes[i + 1] > hi { return 0 }
        var k = 2
        while k <= need {
            if bytes[i + k] & 0xC0 != 0x80 { return 0 }
            k += 1
        }
        return need + 1
    }
}
