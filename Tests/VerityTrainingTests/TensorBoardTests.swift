// TensorBoard event files written by hand: the CRC-32C check value, and the file read back by
// TensorBoard's own loader (records and CRCs checked, Event protos parsed) when tensorboard is
// installed (skipped cleanly when not).
import Foundation
import XCTest
@testable import VerityTraining

final class TensorBoardTests: XCTestCase {
    func testCRC32CCheckValue() {
        // The CRC-32C of "123456789" (the standard check value of the Castagnoli polynomial).
        XCTAssertEqual(TensorBoardWriter.crc32c(Array("123456789".utf8)), 0xE306_9283)
    }

    func testTensorBoardReadsTheScalarsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try TensorBoardWriter(directory: dir)
        try w.write(step: 1, scalars: ["reward_mean": 0.25, "lr": 1e-6, "nan": .nan])
        try w.write(step: 2, scalars: ["reward_mean": 0.5, "eval/math500/accuracy": 0.75])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/read_tensorboard.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, w.url.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("python3 is not installed") }
        p.waitUntilExit()
        if p.terminationStatus == 3 || p.terminationStatus == 127 {
            throw XCTSkip("the tensorboard package is not installed")
        }
        XCTAssertEqual(p.terminationStatus, 0)
        struct Read: Decodable { let file_version: String?; let scalars: [String: [[Double]]] }
        let read = try JSONDecoder().decode(Read.self, from: out.fileHandleForReading.readDataToEndOfFile())
        XCTAssertEqual(read.file_version, "brain.Event:2")
        XCTAssertEqual(read.scalars["reward_mean"]?.map { $0[0] }, [1, 2])
        XCTAssertEqual(read.scalars["reward_mean"]?.map { $0[1] }, [0.25, 0.5])
        XCTAssertEqual(Float(read.scalars["lr"]?.first?[1] ?? 0), Float(1e-6))
        XCTAssertEqual(read.scalars["eval/math500/accuracy"]?.first, [2, 0.75])
        XCTAssertNil(read.scalars["nan"])
    }
}
