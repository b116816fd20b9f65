// TensorBoard: scalar event files that `tensorboard --logdir runs` reads, written without a protobuf
// library. A file is a sequence of TFRecords (length as uint64 LE, masked CRC32C of the length, the
// payload, masked CRC32C of the payload); each payload is a serialized `Event` protobuf: the first
// holds `file_version = "brain.Event:2"`, the others a wall time, a step and a `Summary` of
// (tag, simple_value) pairs. The few protobuf fields needed are encoded by hand (varints, fixed64
// doubles, fixed32 floats, length-delimited strings and messages). Records are appended and flushed
// per step, so a crash loses at most the step being written.
import Foundation

/// Appends scalar summaries to a TensorBoard event file.
public final class TensorBoardWriter {
    /// The event file.
    public let url: URL
    let handle: FileHandle

    /// Creates `directory/events.out.tfevents.<seconds>.verity` and writes the file-version event.
    public init(directory: URL, now: Date = Date()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(now.timeIntervalSince1970)).verity")
        FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
        var event = Proto()
        event.double(1, now.timeIntervalSince1970)
        event.string(3, "brain.Event:2")
        try handle.write(contentsOf: TensorBoardWriter.record(event.bytes))
    }

    deinit { try? handle.close() }

    /// Writes one event with every (tag, value) of `scalars` at `step` (non-finite values are skipped).
    public func write(step: Int, scalars: [String: Double], wallTime: Date = Date()) throws {
        var summary = Proto()
        for tag in scalars.keys.sorted() {
            guard let v = scalars[tag], v.isFinite else { continue }
            var value = Proto()
            value.string(1, tag)
            value.float(2, Float(v))
            summary.message(1, value)
        }
        var event = Proto()
        event.double(1, wallTime.timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary)
        try handle.write(contentsOf: TensorBoardWriter.record(event.bytes))
        try handle.synchronize()
    }

    /// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
    static func record(_ payload: [UInt8]) -> Data {
        var out = Data()
        var len = UInt64(payload.count).littleEndian
        let lenBytes = withUnsafeBytes(of: &len) { Array($0) }
        out.append(contentsOf: lenBytes)
        var c1 = maskedCRC32C(lenBytes).littleEndian
        withUnsafeBytes(of: &c1) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
        var c2 = maskedCRC32C(payload).littleEndian
        withUnsafeBytes(of: &c2) { out.append(contentsOf: $0) }
        return out
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = crcTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masking: rotate right by 15, add 0xa282ead8.
    static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let c = crc32c(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }
}

/// The handful of protobuf wire-format encodings an Event needs.
struct Proto {
    var bytes: [UInt8] = []

    mutating func key(_ field: Int, _ wire: UInt8) { rawVarint(UInt64(field) << 3 | UInt64(wire)) }

    mutating func rawVarint(_ v: UInt64) {
        var x = v
        while x >= 0x80 { bytes.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
        bytes.append(UInt8(x))
    }

    mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }

    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        var b = v.bitPattern.littleEndian
        withUnsafeBytes(of: &b) { bytes.append(contentsOf: $0) }
    }

    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        var b = v.bitPattern.littleEndian
        withUnsafeBytes(of: &b) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ field: Int, _ s: String) {
        key(field, 2)
        rawVarint(UInt64(s.utf8.count))
        bytes.append(contentsOf: Array(s.utf8))
    }

    mutating func message(_ field: Int, _ m: Proto) {
        key(field, 2)
        rawVarint(UInt64(m.bytes.count))
        bytes.append(contentsOf: m.bytes)
    }
}
