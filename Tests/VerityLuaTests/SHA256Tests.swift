// SHA256 (VerityCore), the digest in scripts.sha256: FIPS 180-4's examples, and coreutils' sha256sum on
// inputs whose lengths straddle the padding boundaries (55/56/63/64 bytes and their multiples).
import Foundation
import VerityCore
import XCTest

/// coreutils' `sha256sum` of the file at `url`: the reference digest for the tests.
func sha256sum(_ url: URL) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum", url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
    return String(decoding: output.prefix(64), as: UTF8.self)
}

final class SHA256Tests: XCTestCase {
    func testFIPS180Examples() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        XCTAssertEqual(SHA256.digest(Array("abc".utf8)).count, 32)
    }

    func testAgreesWithSha256sumAcrossPaddingBoundaries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-sha256-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var state: UInt64 = 12345
        for length in [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4099] {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            let file = dir.appendingPathComponent("\(length).bin")
            try Data(bytes).write(to: file)
            XCTAssertEqual(SHA256.hex(bytes), try sha256sum(file), "length \(length)")
        }
    }
}
