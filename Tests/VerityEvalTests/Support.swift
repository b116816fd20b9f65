// Shared helpers of the VerityEval tests: the repository's data/eval catalog, the tiny fixture model,
// temporary folders, and a plan/evaluator with the small settings that keep a run to a fraction of a
// second (a few items, a few new tokens). Not a test itself.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityEval

/// Paths and builders the tests share.
enum Support {
    /// The repository root (three folders above this file).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// data/eval/.
    static let catalog = BenchmarkCatalog(directory: repo.appendingPathComponent("data/eval"))
    /// The tiny random Qwen2 checkpoint.
    static var tinyModel: URL { Fixtures.url("tiny-qwen2") }

    /// A fresh temporary folder, removed when the test ends.
    static func tempFolder(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Small settings: `benchmarks`, `limit` items, `maxTokens` new tokens (the protocol's samples and temperature kept).
    static func settings(_ benchmarks: [String], limit: Int = 2, maxTokens: Int = 8) -> EvalSettings {
        var s = EvalSettings()
        s.benchmarks = benchmarks
        s.limit = limit
        s.maxTokens = maxTokens
        return s
    }

    /// Options with 2 threads and no output.
    static func options(rowsPerCall: Int = 256) -> EvalOptions {
        var o = EvalOptions()
        o.threads = 2
        o.rowsPerCall = rowsPerCall
        return o
    }

    /// The lines of a text file.
    static func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}
