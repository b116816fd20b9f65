// Request sizes and engine options that used to trap on overflow or abort on allocation (issue
// 13, item 4): a token limit of Int.max, n of 10^9 or a prompts × n product that overflows, a
// thousand threads, a zero batch or memory budget. Each is a SamplingError naming the
// parameter, raised before the engine allocates anything for the request.
import Foundation
import XCTest
import VerityFixtures
@testable import VeritySampling

final class HostileParameterTests: XCTestCase {
    func expectBadParameter(
        _ name: String, options: EngineOptions = EngineOptions(), _ request: GenerationRequest,
        line: UInt = #line
    ) throws {
        let engine = try RolloutEngine.load(directory: Fixtures.url("tiny-qwen2"), options: options)
        XCTAssertThrowsError(try engine.generate(request), line: line) { e in
            guard case SamplingError.badParameter(let n, _, _)? = e as? SamplingError else {
                return XCTFail("\(e)", line: line)
            }
            XCTAssertEqual(n, name, line: line)
        }
    }

    func testHugeTokenLimitIsRefused() throws {
        try expectBadParameter("max_tokens", GenerationRequest(prompts: [[1, 2, 3]], maxNewTokens: Int.max))
        try expectBadParameter("max_tokens", GenerationRequest(prompts: [[1, 2, 3]], maxNewTokens: 0))
    }

    func testHugeSampleCountIsRefusedBeforeAllocating() throws {
        try expectBadParameter("n", GenerationRequest(prompts: [[1, 2, 3]], samplesPerPrompt: 1_000_000_000))
        try expectBadParameter("n", GenerationRequest(prompts: [[1, 2, 3]], samplesPerPrompt: Int.max))
        // Each factor within its limit, the product not.
        try expectBadParameter(
            "n", GenerationRequest(prompts: Array(repeating: [1, 2, 3], count: 4096), samplesPerPrompt: 4096))
    }

    func testThreadCountBatchAndBudgetAreChecked() throws {
        var o = EngineOptions()
        o.threads = 1000
        XCTAssertThrowsError(try o.validate())
        // Just past the limit through generate: should the check go, this runs (and fails the
        // assertion) instead of starting a thousand BLAS threads that spin at exit.
        o.threads = GenerationLimits.maxThreads + 1
        try expectBadParameter("threads", options: o, GenerationRequest(prompts: [[1, 2, 3]], maxNewTokens: 2))
        o = EngineOptions()
        o.maxBatch = 0
        try expectBadParameter("max_batch", options: o, GenerationRequest(prompts: [[1, 2, 3]], maxNewTokens: 2))
        o = EngineOptions()
        o.memoryBudgetBytes = 0
        try expectBadParameter("kv_budget", options: o, GenerationRequest(prompts: [[1, 2, 3]], maxNewTokens: 2))
    }

    func testOrdinaryRequestStillRunsAndKeepsOrder() throws {
        let engine = try RolloutEngine.load(directory: Fixtures.url("tiny-qwen2"), options: EngineOptions())
        let r = try engine.generate(
            GenerationRequest(prompts: [[1, 2, 3], [4, 5]], samplesPerPrompt: 3, maxNewTokens: 3))
        XCTAssertEqual(
            r.samples.map { "\($0.promptIndex).\($0.sampleIndex)" }, ["0.0", "0.1", "0.2", "1.0", "1.1", "1.2"])
    }
}
