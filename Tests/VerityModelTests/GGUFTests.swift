// The GGUF reader (issue 27, first part): the header, every metadata value type, tensor infos, and dequantisation of
// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K bit for bit equal to the `gguf` Python package's own
// (Tests/Fixtures/gguf/make_fixture.py wrote the file and the reference); malformed files fail with an error naming
// the file and what is wrong, at every truncation point.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityModel

final class GGUFTests: XCTestCase {
    let url = Fixtures.url("gguf").appendingPathComponent("blocks.gguf")

    func testMetadataOfEveryType() throws {
        let f = try GGUFFile(url: url)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.metadata["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(f.metadata["test.u8"], .uint(200))
        XCTAssertEqual(f.metadata["test.i8"], .int(-5))
        XCTAssertEqual(f.metadata["test.u16"], .uint(60000))
        XCTAssertEqual(f.metadata["test.i16"], .int(-30000))
        XCTAssertEqual(f.metadata["test.u32"], .uint(4_000_000_000))
        XCTAssertEqual(f.metadata["test.i32"], .int(-2_000_000_000))
        XCTAssertEqual(f.metadata["test.f32"], .float(0.5))
        XCTAssertEqual(f.metadata["test.bool"], .bool(true))
        XCTAssertEqual(f.metadata["test.string"], .string("héllo"))
        XCTAssertEqual(f.metadata["test.array"]?.arrayValue?.compactMap(\.intValue), [1, 2, 3])
        XCTAssertEqual(f.metadata["test.strings"], .array([.string("a"), .string("bc")]))
        XCTAssertEqual(f.metadata["test.u64"], .uint(UInt64(1) << 63 + 5))
        XCTAssertEqual(f.metadata["test.i64"], .int(-(Int64(1) << 62)))
        XCTAssertEqual(f.metadata["test.f64"], .float(1.25))
    }

    func testDequantisationEqualsTheGGUFPackageBitForBit() throws {
        let f = try GGUFFile(url: url)
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.url("gguf").appendingPathComponent("blocks.json"))) as? [String: Any]
        let reference = try XCTUnwrap(json)
        XCTAssertEqual(f.tensors.count, 13)
        for t in f.tensors {
            let r = try XCTUnwrap(reference[t.name] as? [String: Any], t.name)
            XCTAssertEqual(t.type.name, r["type"] as? String)
            XCTAssertEqual(t.shape, r["shape"] as? [Int], t.name)
            XCTAssertEqual(t.bytes, r["bytes"] as? Int, "\(t.name): bytes in the file")
            let want = try XCTUnwrap(r["bits"] as? [Int]).map { UInt32($0) }
            let got = try f.dequantize(t).map(\.bitPattern)
            XCTAssertEqual(got, want, "\(t.name) (\(t.type.name))")
        }
    }

    func write(_ bytes: [UInt8]) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("verity-gguf-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: u)
        return u
    }

    func assertFails(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let u = try write(bytes)
        defer { try? FileManager.default.removeItem(at: u) }
        XCTAssertThrowsError(try GGUFFile(url: u), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(u.path), "names the file: \(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains(fragment), "\(e)", file: file, line: line)
        }
    }

    func testMalformedFilesFailCleanly() throws {
        let good = [UInt8](try Data(contentsOf: url))
        var bad = good
        bad[0] = UInt8(ascii: "X")
        try assertFails(bad, "not a GGUF file")
        bad = good
        bad[4] = 1
        try assertFails(bad, "version 1")
        // A tensor count of 2^63.
        bad = good
        for i in 8..<16 { bad[i] = 0 }
        bad[15] = 0x80
        try assertFails(bad, "tensor count")
        // The first key's length past the end of the file.
        bad = good
        for i in 24..<32 { bad[i] = 0xFF }
        bad[31] = 0x0F
        try assertFails(bad, "past the end")
        // Every truncation of the header and of the data is an error, never a crash.
        let f = try GGUFFile(url: url)
        let dataStart = f.tensors.map(\.offset).min() ?? good.count
        let dataEnd = f.tensors.map { $0.offset + $0.bytes }.max() ?? good.count  // padding may follow
        for cut in Array(0..<dataStart) + [dataEnd - 1] {
            let u = try write(Array(good[..<cut]))
            defer { try? FileManager.default.removeItem(at: u) }
            XCTAssertThrowsError(try GGUFFile(url: u), "cut at \(cut)")
        }
        // A tensor's offset past the end: the last tensor info's offset is the 8 bytes before the data's alignment pad.
        bad = good
        let last = try XCTUnwrap(f.tensors.last)
        let needle = withUnsafeBytes(of: UInt64(last.offset - dataStart).littleEndian) { Array($0) }
        let at = try XCTUnwrap(
            (0..<dataStart - 8).last { i in Array(bad[i..<i + 8]) == needle }, "the last tensor's offset field")
        for (k, b) in withUnsafeBytes(of: UInt64(1 << 20).littleEndian, { Array($0) }).enumerated() { bad[at + k] = b }
        try assertFails(bad, "past the end of the file")
    }

    func testAnUnsupportedTypeIsNamed() throws {
        let f = try GGUFFile(url: url)
        let t = try f.info("t.q8_0")
        let k = GGUFTensorInfo(name: "x", dims: [256], type: .iq4_xs, offset: t.offset, bytes: 136)
        XCTAssertThrowsError(try f.dequantize(k)) { e in XCTAssertTrue("\(e)".contains("IQ4_XS"), "\(e)") }
    }
}
