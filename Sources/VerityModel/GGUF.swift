// GGUF: llama.cpp's model file (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), read for
// `verity import gguf`. Layout: magic "GGUF", version (2 or 3), tensor count and metadata count (u64), the metadata
// (key, typed value; arrays of any type), the tensor infos (name, dims with the fastest-varying first, type, offset
// into the data section), then the data section at the next multiple of `general.alignment` (default 32). Every
// count, length and offset is checked against the file before it is used, so a truncated or lying file fails with
// its name and what is wrong, never a crash. Dequantisation follows ggml's block formats and gives exactly what the
// `gguf` Python package gives (tested).
import Foundation

/// A GGUF metadata value.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as an integer, if it is one (a float with an integer value too).
    public var intValue: Int? {
        switch self {
        case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v): return Int(v)
        case .float(let v): return v == v.rounded() && abs(v) < 9e15 ? Int(v) : nil
        default: return nil
        }
    }

    /// The value as a number.
    public var doubleValue: Double? {
        switch self {
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }

    /// The value as a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as a boolean.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value as an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// The tensor types ggml stores (the ones Verity reads have a dequantiser; others are named in the error).
public enum GGMLType: UInt32, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35

    /// Elements per block and bytes per block.
    public var block: (elements: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 36)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .iq2_xxs: return (256, 66)
        case .iq2_xs: return (256, 74)
        case .iq3_xxs: return (256, 98)
        case .iq1_s: return (256, 50)
        case .iq4_nl: return (32, 18)
        case .iq3_s: return (256, 110)
        case .iq2_s: return (256, 82)
        case .iq4_xs: return (256, 136)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        case .iq1_m: return (256, 56)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        }
    }

    /// The name llama.cpp uses.
    public var name: String { "\(self)".uppercased() }

    /// The types Verity dequantises.
    public static let supported: [GGMLType] = [
        .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
    ]

    /// Their names, for errors.
    public static var supportedNames: String { supported.map(\.name).joined(separator: ", ") }

    /// Whether Verity dequantises it.
    public var isSupported: Bool { GGMLType.supported.contains(self) }
}

/// A malformed or unsupported GGUF file.
public struct GGUFError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ file: String, _ detail: String) { description = "\(file): \(detail)" }
    public var errorDescription: String? { description }
}

/// One tensor's entry.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// llama.cpp's name (`blk.0.attn_q.weight`).
    public let name: String
    /// ggml's dims, fastest-varying first.
    public let dims: [Int]
    /// The storage type.
    public let type: GGMLType
    /// Byte offset in the file.
    public let offset: Int
    /// Bytes.
    public let bytes: Int

    /// Elements.
    public var count: Int { dims.reduce(1, *) }
    /// The row-major shape (slowest-varying first), as Hugging Face and Verity write it.
    public var shape: [Int] { dims.reversed() }
}

/// A GGUF file, mapped, with its header read and checked.
public final class GGUFFile: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// 2 or 3.
    public let version: Int
    /// The metadata, by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let keys: [String]
    /// The tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data section's alignment.
    public let alignment: Int
    let data: Data

    /// Reads and checks the header of the file at `url` (the tensor data is read on demand).
    public init(url: URL) throws {
        path = url.path
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw GGUFError(url.path, "cannot be read: \(error.localizedDescription)")
        }
        var r = GGUFReader(data: data, file: url.path)
        guard data.count >= 4, try r.u32() == 0x4655_4747 else {
            throw GGUFError(url.path, "not a GGUF file (the first 4 bytes are not \"GGUF\")")
        }
        let v = Int(try r.u32())
        guard v == 2 || v == 3 else {
            throw GGUFError(url.path, "GGUF version \(v) is not supported (2 and 3 are)")
        }
        version = v
        let tensorCount = try r.count("tensor count", atLeastBytesEach: 24)
        let kvCount = try r.count("metadata count", atLeastBytesEach: 12)
        var md: [String: GGUFValue] = [:], keys: [String] = []
        for _ in 0..<kvCount {
            let key = try r.string()
            let type = try r.u32()
            md[key] = try r.value(type: type, key: key, depth: 0)
            keys.append(key)
        }
        metadata = md
        self.keys = keys
        let align = md["general.alignment"]?.intValue ?? 32
        guard align > 0 && align & (align - 1) == 0 && align <= 1 << 20 else {
            throw GGUFError(url.path, "general.alignment = \(align): expected a power of two")
        }
        alignment = align
        var infos: [(String, [Int], GGMLType, Int)] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let n = Int(try r.u32())
            guard (1...8).contains(n) else { throw GGUFError(url.path, "tensor \(name): \(n) dimensions") }
            var dims: [Int] = []
            for _ in 0..<n {
                let d = try r.u64()
                guard d >= 1 && d <= 1 << 40 else { throw GGUFError(url.path, "tensor \(name): dimension \(d)") }
                dims.append(Int(d))
            }
            let raw = try r.u32()
            guard let type = GGMLType(rawValue: raw) else {
                throw GGUFError(url.path, "tensor \(name): unknown ggml type \(raw)")
            }
            let offset = try r.u64()
            guard offset <= UInt64(Int.max / 2) else { throw GGUFError(url.path, "tensor \(name): offset \(offset)") }
            infos.append((name, dims, type, Int(offset)))
        }
        let start = (r.at + align - 1) / align * align
        var out: [GGUFTensorInfo] = []
        for (name, dims, type, offset) in infos {
            let (per, bytesPer) = type.block
            var count = 1
            for d in dims {
                let (m, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw GGUFError(url.path, "tensor \(name): \(dims) elements overflow") }
                count = m
            }
            guard dims[0] % per == 0 else {
                throw GGUFError(url.path, "tensor \(name): \(dims[0]) columns, not a multiple of \(type.name)'s block of \(per)")
            }
            let bytes = count / per * bytesPer
            guard offset % align == 0, start + offset + bytes <= data.count else {
                throw GGUFError(
                    url.path,
                    "tensor \(name): data at \(start + offset)..<\(start + offset + bytes) lies past the end of the file (\(data.count) bytes) or off the \(align)-byte alignment"
                )
            }
            out.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: start + offset, bytes: bytes))
        }
        tensors = out
    }

    /// The tensor called `name`.
    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = tensors.first(where: { $0.name == name }) else {
            throw GGUFError(path, "no tensor \(name)")
        }
        return t
    }

    /// The tensor's values as float32, in row-major order of `shape` (an unsupported type is an error naming it).
    public func dequantize(_ t: GGUFTensorInfo) throws -> [Float] {
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try dequantize(t, into: $0.baseAddress!) }
        return out
    }

    /// Dequantises the tensor into `dst`, which holds `t.count` floats.
    public func dequantize(_ t: GGUFTensorInfo, into dst: UnsafeMutablePointer<Float>) throws {
        guard t.type.isSupported else {
            throw GGUFError(path, "tensor \(t.name): type \(t.type.name) is not supported (\(GGMLType.supportedNames) are)")
        }
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress!.advanced(by: t.offset).assumingMemoryBound(to: UInt8.self)
            GGUFDequant.run(t.type, src, dst, t.count)
        }
    }
}

/// The block formats (ggml-quants.c's dequantize_row_*), little-endian.
enum GGUFDequant {
    static func f16(_ p: UnsafePointer<UInt8>) -> Float {
        Float(Float16(bitPattern: UInt16(p[0]) | UInt16(p[1]) << 8))
    }

    static func run(_ type: GGMLType, _ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        switch type {
        case .f32:
            // Little-endian floats, possibly unaligned: a byte copy (the hosts Verity runs on are little-endian).
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * n)
        case .f16:
            for i in 0..<n { dst[i] = f16(src + 2 * i) }
        case .bf16:
            for i in 0..<n { dst[i] = Float(bitPattern: (UInt32(src[2 * i]) | UInt32(src[2 * i + 1]) << 8) << 16) }
        case .q8_0:
            for b in 0..<n / 32 {
                let blk = src + 34 * b, d = f16(blk), o = dst + 32 * b
                for j in 0..<32 { o[j] = Float(Int8(bitPattern: blk[2 + j])) * d }
            }
        case .q4_0:
            for b in 0..<n / 32 {
                let blk = src + 18 * b, d = f16(blk), qs = blk + 2, o = dst + 32 * b
                for j in 0..<16 {
                    o[j] = d * Float(Int(qs[j] & 0x0F) - 8)
                    o[j + 16] = d * Float(Int(qs[j] >> 4) - 8)
                }
            }
        case .q4_1:
            for b in 0..<n / 32 {
                let blk = src + 20 * b, d = f16(blk), m = f16(blk + 2), qs = blk + 4, o = dst + 32 * b
                for j in 0..<16 {
                    o[j] = d * Float(qs[j] & 0x0F) + m
                    o[j + 16] = d * Float(qs[j] >> 4) + m
                }
            }
        case .q5_0, .q5_1:
            let one = type == .q5_1
            let size = one ? 24 : 22
            for b in 0..<n / 32 {
                let blk = src + size * b, d = f16(blk), m: Float = one ? f16(blk + 2) : 0
                let h = blk + (one ? 4 : 2)
                let qh = UInt32(h[0]) | UInt32(h[1]) << 8 | UInt32(h[2]) << 16 | UInt32(h[3]) << 24
                let qs = h + 4, o = dst + 32 * b
                for j in 0..<16 {
                    let lo = Int(qs[j] & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
                    let hi = Int(qs[j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                    if one {
                        o[j] = d * Float(lo) + m
                        o[j + 16] = d * Float(hi) + m
                    } else {
                        o[j] = d * Float(lo - 16)
                        o[j + 16] = d * Float(hi - 16)
                    }
                }
            }
        case .q2_K:
            for b in 0..<n / 256 {
                let blk = src + 84 * b, scales = blk, qs = blk + 16, o = dst + 256 * b
                let d = f16(blk + 80), dmin = f16(blk + 82)
                for e in 0..<256 {
                    let h = e / 128, s = (e % 128) / 32, l = e % 32, sc = scales[e / 16]
                    let q = Float((qs[h * 32 + l] >> UInt8(2 * s)) & 3)
                    o[e] = d * Float(sc & 0x0F) * q - dmin * Float(sc >> 4)
                }
            }
        case .q3_K:
            for b in 0..<n / 256 {
                let blk = src + 110 * b, hmask = blk, qs = blk + 32, sc = blk + 96, o = dst + 256 * b
                let d = f16(blk + 108)
                var dl = [Float](repeating: 0, count: 16)
                for g in 0..<16 {
                    let low = g < 8 ? sc[g] & 0x0F : sc[g - 8] >> 4
                    let high = (sc[8 + g % 4] >> UInt8(2 * (g / 4))) & 3
                    dl[g] = d * Float(Int(low | high << 4) - 32)
                }
                for e in 0..<256 {
                    let h = e / 128, s = (e % 128) / 32, l = e % 32
                    let low = Int((qs[h * 32 + l] >> UInt8(2 * s)) & 3)
                    let bit = Int((hmask[l] >> UInt8(e / 32)) & 1)
                    o[e] = dl[e / 16] * Float(low - (bit == 1 ? 0 : 4))
                }
            }
        case .q4_K, .q5_K:
            let five = type == .q5_K
            let size = five ? 176 : 144
            for b in 0..<n / 256 {
                let blk = src + size * b, d = f16(blk), dmin = f16(blk + 2), sc = blk + 4
                let qh = blk + 16, qs = blk + (five ? 48 : 16), o = dst + 256 * b
                for g in 0..<8 {
                    let scale: UInt8, minimum: UInt8
                    if g < 4 {
                        (scale, minimum) = (sc[g] & 0x3F, sc[g + 4] & 0x3F)
                    } else {
                        scale = (sc[g + 4] & 0x0F) | ((sc[g - 4] >> 2) & 0x30)
                        minimum = (sc[g + 4] >> 4) | ((sc[g] >> 2) & 0x30)
                    }
                    let dg = d * Float(scale), mg = dmin * Float(minimum)
                    for l in 0..<32 {
                        let e = g * 32 + l, c = e / 64, k = (e % 64) / 32
                        var q = Int((qs[c * 32 + l] >> UInt8(4 * k)) & 0x0F)
                        if five { q |= Int((qh[l] >> UInt8(e / 32)) & 1) << 4 }
                        o[e] = dg * Float(q) - mg
                    }
                }
            }
        case .q6_K:
            for b in 0..<n / 256 {
                let blk = src + 210 * b, ql = blk, qh = blk + 128, sc = blk + 192, o = dst + 256 * b
                let d = f16(blk + 208)
                for e in 0..<256 {
                    let h = e / 128, k = (e % 128) / 64, m = e % 64, s = (e % 128) / 32, l = e % 32
                    let low = Int((ql[h * 64 + m] >> UInt8(4 * k)) & 0x0F)
                    let high = Int((qh[h * 32 + l] >> UInt8(2 * s)) & 3)
                    o[e] = d * Float(Int8(bitPattern: sc[e / 16])) * Float((low | high << 4) - 32)
                }
            }
        default:
            preconditionFailure("unsupported type \(type)")
        }
    }
}

/// Reads a GGUF header with bounds checks.
struct GGUFReader {
    let data: Data
    let file: String
    var at = 0

    mutating func bytes(_ n: Int) throws -> Data {
        guard n >= 0, n <= data.count - at else {
            throw GGUFError(file, "the header ends early: \(n) bytes wanted at byte \(at) of \(data.count)")
        }
        defer { at += n }
        return data.subdata(in: data.startIndex + at..<data.startIndex + at + n)
    }

    mutating func u8() throws -> UInt8 { try bytes(1)[0] }
    mutating func u16() throws -> UInt16 { let b = try bytes(2); return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8 }
    mutating func u32() throws -> UInt32 { try bytes(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try bytes(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }

    /// A count that must fit what is left of the file at `atLeastBytesEach` bytes an item.
    mutating func count(_ what: String, atLeastBytesEach each: Int) throws -> Int {
        let n = try u64()
        guard n <= UInt64((data.count - at) / each) else {
            throw GGUFError(file, "\(what) \(n) cannot fit in the \(data.count - at) bytes that follow")
        }
        return Int(n)
    }

    mutating func string() throws -> String {
        let n = try u64()
        guard n <= UInt64(data.count - at) else {
            throw GGUFError(file, "a string of \(n) bytes at byte \(at) runs past the end of the file (\(data.count) bytes)")
        }
        guard let s = String(data: try bytes(Int(n)), encoding: .utf8) else {
            throw GGUFError(file, "a string at byte \(at - Int(n)) is not UTF-8")
        }
        return s
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try u8()))
        case 1: return .int(Int64(Int8(bitPattern: try u8())))
        case 2: return .uint(UInt64(try u16()))
        case 3: return .int(Int64(Int16(bitPattern: try u16())))
        case 4: return .uint(UInt64(try u32()))
        case 5: return .int(Int64(Int32(bitPattern: try u32())))
        case 6: return .float(Double(Float(bitPattern: try u32())))
        case 7:
            let b = try u8()
            guard b <= 1 else { throw GGUFError(file, "\(key): a bool of \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            guard depth < 4 else { throw GGUFError(file, "\(key): arrays nested too deep") }
            let inner = try u32()
            let n = try count("\(key): an array of", atLeastBytesEach: 1)
            var out: [GGUFValue] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try value(type: inner, key: key, depth: depth + 1)) }
            return .array(out)
        case 10: return .uint(try u64())
        case 11: return .int(Int64(bitPattern: try u64()))
        case 12: return .float(Double(bitPattern: try u64()))
        default: throw GGUFError(file, "\(key): unknown metadata type \(type)")
        }
    }
}
