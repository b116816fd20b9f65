// A compact little-endian byte layout for what ranks exchange in bulk (a rollout's tokens and log-probs), where JSON
// would be several times larger and slower.
import Foundation

/// Appends values to a byte array.
public struct WireWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func int32s(_ v: [Int32]) {
        int(v.count)
        for x in v { withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) } }
    }
    public mutating func floats(_ v: [Float]) {
        int(v.count)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    }
    public mutating func string(_ s: String?) {
        guard let s else { return int(-1) }
        let u = Array(s.utf8)
        int(u.count)
        bytes.append(contentsOf: u)
    }
}

/// Reads what a WireWriter wrote, in the same order; a short or malformed buffer is an error, never a crash.
public struct WireReader {
    let bytes: [UInt8]
    var at = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { at == bytes.count }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - at else {
            throw CommunicatorError("a message from another rank ends early (\(n) bytes wanted at \(at) of \(bytes.count))")
        }
        defer { at += n }
        return bytes[at..<at + n]
    }

    /// A little-endian value of `T` at the read position (unaligned).
    mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= bytes.count - at else {
            throw CommunicatorError("a message from another rank ends early (\(size) bytes wanted at \(at) of \(bytes.count))")
        }
        defer { at += size }
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: T.self) })
    }

    public mutating func int() throws -> Int { Int(try load(Int64.self)) }

    mutating func count(_ width: Int) throws -> Int {
        let n = try int()
        guard n >= 0, n <= (bytes.count - at) / width else {
            throw CommunicatorError("a message from another rank has a bad length \(n) at \(at)")
        }
        return n
    }

    /// `n` 32-bit words at once (the count already checked against what is left).
    mutating func words(_ n: Int) -> [UInt32] {
        defer { at += 4 * n }
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4 * $0, as: UInt32.self)) }
        }
    }

    public mutating func int32s() throws -> [Int32] { words(try count(4)).map { Int32(bitPattern: $0) } }

    public mutating func floats() throws -> [Float] { words(try count(4)).map { Float(bitPattern: $0) } }

    public mutating func string() throws -> String? {
        let n = try int()
        if n == -1 { return nil }
        guard n >= 0 else { throw CommunicatorError("a message from another rank has a bad string length \(n)") }
        return String(decoding: try take(n), as: UTF8.self)
    }
}
