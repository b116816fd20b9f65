import XCTest

@testable import VerityDistributed

final class ShardsTests: XCTestCase {
    func testEqualCostsSplitEvenlyAndContiguously() {
        XCTAssertEqual(Shards.contiguous(costs: Array(repeating: 1, count: 8), parts: 2), [0..<4, 4..<8])
        XCTAssertEqual(Shards.contiguous(costs: Array(repeating: 1, count: 9), parts: 3), [0..<3, 3..<6, 6..<9])
        XCTAssertEqual(Shards.contiguous(costs: [5, 5, 5], parts: 1), [0..<3])
    }

    func testUnequalCostsBalanceTokensNotCounts() {
        // One long group and three short ones: the long one alone is half the work.
        XCTAssertEqual(Shards.contiguous(costs: [30, 10, 10, 10], parts: 2), [0..<1, 1..<4])
        XCTAssertEqual(Shards.contiguous(costs: [10, 10, 10, 30], parts: 2), [0..<3, 3..<4])
        // The cut goes to the nearer boundary: 10 | 12 + 9 would be 10 against 21; 10 + 12 | 9 is 22 against 9.
        XCTAssertEqual(Shards.contiguous(costs: [10, 12, 9], parts: 2), [0..<1, 1..<3])
    }

    func testMorePartsThanItemsLeavesSomeEmptyAndCoversEveryItemOnce() {
        let parts = Shards.contiguous(costs: [1, 1], parts: 4)
        XCTAssertEqual(parts.count, 4)
        XCTAssertEqual(parts.map(\.count).reduce(0, +), 2)
        XCTAssertEqual(parts.first?.lowerBound, 0)
        XCTAssertEqual(parts.last?.upperBound, 2)
        for k in 1..<parts.count { XCTAssertEqual(parts[k].lowerBound, parts[k - 1].upperBound) }
        XCTAssertEqual(Shards.contiguous(costs: [], parts: 3), [0..<0, 0..<0, 0..<0])
    }
}

final class WireTests: XCTestCase {
    func testRoundTripsEveryKind() throws {
        var w = WireWriter()
        w.int(-7)
        w.int32s([1, -2, Int32.max])
        w.floats([0.5, -.infinity, .nan, 1e-30])
        w.string("héllo \\boxed{2}")
        w.string(nil)
        w.string("")
        var r = WireReader(w.bytes)
        XCTAssertEqual(try r.int(), -7)
        XCTAssertEqual(try r.int32s(), [1, -2, Int32.max])
        let f = try r.floats()
        XCTAssertEqual(f.count, 4)
        XCTAssertEqual(f[0], 0.5)
        XCTAssertEqual(f[1], -.infinity)
        XCTAssertTrue(f[2].isNaN)
        XCTAssertEqual(f[3], 1e-30)
        XCTAssertEqual(try r.string(), "héllo \\boxed{2}")
        XCTAssertNil(try r.string())
        XCTAssertEqual(try r.string(), "")
        XCTAssertTrue(r.isAtEnd)
    }

    func testATruncatedOrLyingMessageIsAnErrorNotACrash() {
        var w = WireWriter()
        w.floats([1, 2, 3])
        var short = WireReader(Array(w.bytes.dropLast(2)))
        XCTAssertThrowsError(try short.floats())
        var lying = WireWriter()
        lying.int(1 << 40)  // a count far past the end
        var r = WireReader(lying.bytes)
        XCTAssertThrowsError(try r.int32s())
        var negative = WireWriter()
        negative.int(-5)
        var n = WireReader(negative.bytes)
        XCTAssertThrowsError(try n.string())
    }
}

final class CommunicatorTests: XCTestCase {
    func testOneProcessIsRankZeroOfOneAndEveryCollectiveReturnsItsInput() throws {
        let c = LocalCommunicator()
        XCTAssertEqual(c.rank, 0)
        XCTAssertEqual(c.size, 1)
        XCTAssertTrue(c.isRoot)
        XCTAssertEqual(try c.allReduceSum([1, 2.5]), [1, 2.5])
        XCTAssertEqual(try c.allGather([UInt8(1), 2]), [[1, 2]])
        XCTAssertEqual(try c.allGather(["a": 1.0]), [["a": 1.0]])
        XCTAssertEqual(try c.broadcast("x"), "x")
    }

    func testTheLauncherIsReadFromItsEnvironment() throws {
        XCTAssertNil(Communicators.launchedSize([:]))
        XCTAssertEqual(Communicators.launchedSize(["OMPI_COMM_WORLD_SIZE": "4"]), 4)
        XCTAssertEqual(Communicators.launchedSize(["SLURM_STEP_NUM_TASKS": "2"]), 2)
        // A Slurm batch script (not a job step) is one process, whatever the allocation's task count.
        XCTAssertNil(Communicators.launchedSize(["SLURM_NTASKS": "8"]))
        XCTAssertEqual(try Communicators.timeout([:]), 1800)
        XCTAssertEqual(try Communicators.timeout(["VERITY_COMM_TIMEOUT": "0"]), 0)
        XCTAssertThrowsError(try Communicators.timeout(["VERITY_COMM_TIMEOUT": "-1"])) { e in
            XCTAssertTrue("\(e)".contains("VERITY_COMM_TIMEOUT=-1"), "\(e)")
        }
        XCTAssertThrowsError(try Communicators.timeout(["VERITY_COMM_TIMEOUT": "soon"]))
    }
}
