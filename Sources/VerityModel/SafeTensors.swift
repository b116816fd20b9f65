// SafeTensors: reading and writing the safetensors format (8-byte little-endian header length, a
// JSON header of {name: {dtype, shape, data_offsets}}, then raw little-endian data). Files are
// memory-mapped; F32 tensors are used in place when aligned, BF16/F16 are widened to float32.
// Sharded checkpoints (model.safetensors.index.json) are read through SafeTensorsCheckpoint. Every
// check of the header happens at open time, so a lying file fails with its name and the tensor.
// Format reference: https://github.com/huggingface/safetensors (README, "Format").
import Foundation
import VerityTensor
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Dtypes

/// The element types Verity reads or writes.
public enum SafeTensorsDType: String, Sendable {
    /// IEEE float32.
    case f32 = "F32"
    /// bfloat16 (the top 16 bits of a float32).
    case bf16 = "BF16"
    /// IEEE float16.
    case f16 = "F16"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 2 }
}

/// Bytes per element of every dtype the format defines (to validate offsets of tensors we do not read).
let safetensorsDTypeSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
]

// MARK: - Mapped file

/// A read-write private (copy-on-write) memory mapping of a whole file.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelError.fileMissing(file: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError.fileMissing(file: path) }
        size = Int(st.st_size)
        guard size > 0 else { throw ModelError.truncated(file: path, detail: "the file is empty") }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelError.fileMissing(file: path)
        }
        base = p
    }

    deinit { munmap(base, size) }
}

// MARK: - One file

/// One safetensors file, mapped and with its header validated.
public final class SafeTensorsFile: @unchecked Sendable {
    /// A tensor's entry in the header.
    public struct Entry: Sendable {
        /// The dtype string as written (F32, BF16, ...).
        public let dtype: String
        /// The tensor's shape.
        public let shape: [Int]
        /// Byte range within the data section.
        public let begin: Int
        /// End of the byte range (exclusive).
        public let end: Int
    }

    /// The file's path (as given).
    public let path: String
    /// Header entries by tensor name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Maps `url` and validates its header: every offset in range, every size matching dtype × shape.
    public init(url: URL) throws {
        path = url.path
        file = try MappedFile(path: path)
        guard file.size >= 8 else {
            throw ModelError.truncated(file: path, detail: "\(file.size) bytes, fewer than the 8-byte header length")
        }
        // Compared as UInt64 first: a length of 2^63 or more does not fit Int.
        let rawLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard rawLength > 0, rawLength <= 100_000_000 else {
            throw ModelError.badHeader(file: path, detail: "header length \(rawLength) is not plausible")
        }
        let headerLength = Int(rawLength)
        guard 8 + headerLength <= file.size else {
            throw ModelError.truncated(
                file: path, detail: "header of \(headerLength) bytes but the file has \(file.size)")
        }
        dataStart = 8 + headerLength
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let dict = json as? [String: Any] else {
            let why =
                JSONDiagnostics.syntaxError(in: headerData).map { "not valid JSON at header \($0)" }
                ?? "not a JSON object"
            throw ModelError.badHeader(file: path, detail: "the header is \(why)")
        }
        // JSONSerialization keeps one of two equal keys without a word: find them first.
        if let duplicate = firstDuplicateTopLevelKey(headerData) {
            throw ModelError.badHeader(file: path, detail: "tensor '\(duplicate)' appears twice in the header")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let dataSize = file.size - dataStart
        for (name, value) in dict {
            if name == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { metadata[k] = "\(v)" } }
                continue
            }
            guard let e = value as? [String: Any], let dtype = e["dtype"] as? String,
                let shapeAny = e["shape"] as? [Any], let offs = e["data_offsets"] as? [Any], offs.count == 2
            else {
                throw ModelError.badHeader(file: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            let shape = shapeAny.compactMap(exactInteger)
            let o = offs.compactMap(exactInteger)
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), o.count == 2 else {
                throw ModelError.badHeader(
                    file: path, detail: "entry '\(name)' has a shape or offset that is not a whole number in range")
            }
            guard let esize = safetensorsDTypeSizes[dtype] else {
                throw ModelError.unsupportedDtype(file: path, tensor: name, dtype: dtype)
            }
            // Overflow-checked: a shape whose product does not fit Int cannot match any file.
            var need = esize
            for d in shape {
                let (product, overflow) = need.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw ModelError.badOffsets(
                        file: path, tensor: name, detail: "\(dtype) \(shape) needs more bytes than any file can hold")
                }
                need = product
            }
            guard o[0] >= 0, o[1] >= o[0] else {
                throw ModelError.badOffsets(
                    file: path, tensor: name, detail: "[\(o[0]), \(o[1])] is not an increasing range")
            }
            guard o[1] <= dataSize else {
                throw ModelError.badOffsets(
                    file: path, tensor: name,
                    detail:
                        "[\(o[0]), \(o[1])] ends past the data section of \(dataSize) bytes (file truncated or header wrong)"
                )
            }
            guard o[1] - o[0] == need else {
                throw ModelError.badOffsets(
                    file: path, tensor: name,
                    detail: "[\(o[0]), \(o[1])] holds \(o[1] - o[0]) bytes but \(dtype) \(shape) needs \(need)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: o[0], end: o[1])
        }
        // Two tensors must not share bytes: a write through one would change the other.
        let ranges = entries.filter { $0.value.end > $0.value.begin }.sorted {
            ($0.value.begin, $0.key) < ($1.value.begin, $1.key)
        }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.value.begin < a.value.end {
            throw ModelError.badOffsets(
                file: path, tensor: b.key,
                detail:
                    "[\(b.value.begin), \(b.value.end)] overlaps tensor '\(a.key)' at [\(a.value.begin), \(a.value.end)]"
            )
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// Drops the whole pages of tensor `name`'s bytes from this process's resident memory (read again from the file if
    /// touched later). A loader that has copied the tensor calls it, so that the mapping does not hold a second copy of
    /// the model until the file is closed (a 1.5B float32 checkpoint is 6.2 GB of mapped pages).
    public func releasePages(_ name: String) {
        guard let e = entries[name] else { return }
        let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE))))
        let start = Int(bitPattern: file.base) + dataStart + e.begin, end = Int(bitPattern: file.base) + dataStart + e.end
        let a = (start + page - 1) / page * page, b = end / page * page
        if b > a, let p = UnsafeMutableRawPointer(bitPattern: a) { _ = madvise(p, b - a, Int32(MADV_DONTNEED)) }
    }

    /// The tensor `name` as float32 (aligned F32 data is used in place, copy-on-write; BF16/F16 are widened).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw ModelError.missingTensor(file: path, tensor: name) }
        guard let dtype = SafeTensorsDType(rawValue: e.dtype) else {
            throw ModelError.unsupportedDtype(file: path, tensor: name, dtype: e.dtype)
        }
        let src = file.base + dataStart + e.begin
        let n = e.shape.reduce(1, *)
        switch dtype {
        case .f32:
            if Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
                return Tensor(shape: e.shape, borrowing: src.assumingMemoryBound(to: Float.self), owner: file)
            }
            let t = Tensor(uninitialized: e.shape)
            for i in 0..<n {
                t.data[i] = Float(
                    bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            return t
        case .bf16:
            let t = Tensor(uninitialized: e.shape)
            for i in 0..<n {
                let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                t.data[i] = Float(bitPattern: UInt32(h) << 16)
            }
            return t
        case .f16:
            let t = Tensor(uninitialized: e.shape)
            for i in 0..<n {
                t.data[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
            return t
        }
    }
}

// MARK: - Header checks

/// A JSON number that is a whole number within Int (fractions, 1e300 and strings are nil).
func exactInteger(_ value: Any) -> Int? {
    guard let n = value as? NSNumber else { return nil }
    let d = n.doubleValue
    guard d.isFinite, d == d.rounded(), abs(d) < 0x1p62 else { return nil }
    let i = n.int64Value
    guard Double(i) == d || abs(d) >= 0x1p53 else { return nil }
    return Int(i)
}

/// The first key that appears twice in a JSON object's top level, decoded; nil when none does or
/// the text is not an object (the caller's parser reports that).
func firstDuplicateTopLevelKey(_ data: Data) -> String? {
    let bytes = [UInt8](data)
    var seen = Set<String>()
    var depth = 0
    var i = 0
    var expectKey = false
    while i < bytes.count {
        let b = bytes[i]
        if b == UInt8(ascii: "\"") {
            let start = i
            i += 1
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
            }
            if depth == 1 && expectKey {
                let literal = Data(bytes[start..<min(i + 1, bytes.count)])
                let key =
                    (try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed)) as? String
                    ?? String(decoding: literal, as: UTF8.self)
                if !seen.insert(key).inserted { return key }
                expectKey = false
            }
        } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
            depth += 1
            expectKey = depth == 1 && b == UInt8(ascii: "{")
        } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
            depth -= 1
        } else if b == UInt8(ascii: ","), depth == 1 {
            expectKey = true
        }
        i += 1
    }
    return nil
}

// MARK: - Checkpoints (single or sharded)

/// The tensors of a model folder: `model.safetensors`, or the shards listed by `model.safetensors.index.json`.
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    /// The opened files.
    public let files: [SafeTensorsFile]
    private let fileOf: [String: SafeTensorsFile]
    /// The file a missing tensor is reported against (the single file or the index).
    public let displayPath: String

    /// Opens `directory/model.safetensors.index.json` with its shards if present, else `directory/model.safetensors`.
    public init(directory: URL) throws {
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        let single = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: index.path) {
            displayPath = index.path
            guard let data = FileManager.default.contents(atPath: index.path) else {
                throw ModelError.fileMissing(file: index.path)
            }
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ModelError.badHeader(
                    file: index.path,
                    detail: JSONDiagnostics.syntaxError(in: data).map { "not valid JSON: \($0)" } ?? "not a JSON object"
                )
            }
            guard let map = json["weight_map"] as? [String: String] else {
                throw ModelError.badHeader(
                    file: index.path, detail: "key 'weight_map' missing or not an object of strings")
            }
            var opened: [String: SafeTensorsFile] = [:]
            var fileOf: [String: SafeTensorsFile] = [:]
            for (tensor, shard) in map.sorted(by: { $0.key < $1.key }) {
                guard !shard.contains("/") else {
                    throw ModelError.badHeader(
                        file: index.path, detail: "shard name '\(shard)' is not a plain file name")
                }
                let f: SafeTensorsFile
                if let o = opened[shard] {
                    f = o
                } else {
                    f = try SafeTensorsFile(url: directory.appendingPathComponent(shard))
                    opened[shard] = f
                }
                guard f.entries[tensor] != nil else { throw ModelError.missingTensor(file: f.path, tensor: tensor) }
                fileOf[tensor] = f
            }
            files = opened.keys.sorted().compactMap { opened[$0] }
            self.fileOf = fileOf
        } else {
            displayPath = single.path
            let f = try SafeTensorsFile(url: single)
            files = [f]
            var fileOf: [String: SafeTensorsFile] = [:]
            for name in f.entries.keys { fileOf[name] = f }
            self.fileOf = fileOf
        }
    }

    /// All tensor names.
    public var names: [String] { fileOf.keys.sorted() }

    /// The header entry of `name`, if present.
    public func entry(_ name: String) -> SafeTensorsFile.Entry? { fileOf[name]?.entries[name] }

    /// The tensor `name` as float32, checked against `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let f = fileOf[name] else { throw ModelError.missingTensor(file: displayPath, tensor: name) }
        if let shape, let e = f.entries[name], e.shape != shape {
            throw ModelError.wrongShape(file: f.path, tensor: name, expected: shape, found: e.shape)
        }
        return try f.tensor(name)
    }

    /// The file holding `name`.
    public func path(of name: String) -> String { fileOf[name]?.path ?? displayPath }

    /// Drops tensor `name`'s mapped pages from resident memory once it has been copied (`SafeTensorsFile.releasePages`).
    public func releasePages(_ name: String) { fileOf[name]?.releasePages(name) }
}

// MARK: - Writing

/// Writes safetensors files that `safetensors`/`transformers` load.
public enum SafeTensorsWriter {
    /// Writes `tensors` (name, value) to `url` in `dtype` (F32 or BF16, round-to-nearest-even), with `__metadata__` format "pt".
    /// The file is streamed tensor by tensor in bounded chunks (a 1.5B model's 6 GB are never held in memory) to a temporary
    /// file beside `url`, flushed to disk, then renamed over `url`: a crash leaves the old file or none, never half of one.
    public static func write(
        _ tensors: [(String, Tensor)], to url: URL, dtype: SafeTensorsDType, metadata: [String: String] = [:]
    ) throws {
        try write(
            layout: tensors.map { ($0.0, $0.1.shape) }, to: url, dtype: dtype, metadata: metadata,
            produce: { tensors[$0].1 })
    }

    /// Writes tensors made one at a time: `layout` names each tensor and its shape (the header needs them all first),
    /// and `produce(k)` is called once for tensor k, in order, so that only one is in memory at a time (an import
    /// dequantises each as it goes). A produced tensor of another shape than its layout's is an error.
    public static func write(
        layout: [(name: String, shape: [Int])], to url: URL, dtype: SafeTensorsDType, metadata: [String: String] = [:],
        produce: (Int) throws -> Tensor
    ) throws {
        precondition(dtype != .f16, "Verity writes F32 or BF16")
        var header = "{\"__metadata__\":{"
        let meta = ["format": "pt"].merging(metadata) { _, new in new }
        header += meta.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(meta[$0] ?? ""))" }.joined(
            separator: ",")
        header += "}"
        var offset = 0
        for (name, shape) in layout {
            let bytes = shape.reduce(1, *) * dtype.size
            header +=
                ",\(jsonStringLiteral(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (header.utf8.count) % 8 != 0 { header += " " }
        try AtomicFile.write(to: url) { out in
            var head = Data()
            var len = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &len) { head.append(contentsOf: $0) }
            head.append(contentsOf: Array(header.utf8))
            try out.write(head)
            let chunk = 1 << 20
            var buf = [UInt8](repeating: 0, count: chunk * dtype.size)
            for (k, entry) in layout.enumerated() {
                let t = try produce(k)
                guard t.shape == entry.shape else {
                    throw ModelError.writeFailed(
                        file: url.path, detail: "tensor \(entry.name) came as \(t.shape), not its header's \(entry.shape)")
                }
                var start = 0
                while start < t.count {
                    let n = min(chunk, t.count - start)
                    buf.withUnsafeMutableBytes { raw in
                        switch dtype {
                        case .f32:
                            let p = raw.bindMemory(to: UInt32.self)
                            for i in 0..<n { p[i] = t.data[start + i].bitPattern.littleEndian }
                        default:
                            let p = raw.bindMemory(to: UInt16.self)
                            for i in 0..<n { p[i] = floatToBFloat16(t.data[start + i]).littleEndian }
                        }
                    }
                    try out.write(buf, count: n * dtype.size)
                    start += n
                }
            }
        }
    }
}

// MARK: - Number conversions

/// The float32 value of IEEE half-precision bits.
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        let v = Float(mant) * 0x1p-24
        return sign == 0 ? v : -v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
}
