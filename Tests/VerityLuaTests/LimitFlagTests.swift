// Limits that would switch a sandbox guard off by accident (issue 13, item 8): a negative
// budget, a negative memory cap or one that wraps to 0 bytes, a non-finite time limit. Each is
// refused with a message naming the flag; 0 stays the explicit "unlimited".
import Foundation
import VerityLua
import XCTest

final class LimitFlagTests: XCTestCase {
    func refusal(_ body: () throws -> Any) -> String {
        guard let e = expectLuaError(body), case .state(let message) = e else { return "" }
        return message
    }

    func testNegativeInstructionBudgetIsRefused() {
        let m = refusal { try LuaOptions.fromFlags(instructions: -5, memoryMB: 256, seconds: 5) }
        XCTAssertTrue(m.contains("--lua-instructions -5"), m)
    }

    func testNegativeOrWrappingMemoryCapIsRefused() {
        let m = refusal { try LuaOptions.fromFlags(instructions: 1000, memoryMB: -1, seconds: 5) }
        XCTAssertTrue(m.contains("--lua-memory-mb -1"), m)
        // 2^44 MiB is 2^64 bytes: shifted into bytes it would wrap to 0, "no cap".
        let wraps = 1 << 44
        let w = refusal { try LuaOptions.fromFlags(instructions: 1000, memoryMB: wraps, seconds: 5) }
        XCTAssertTrue(w.contains("--lua-memory-mb \(wraps)"), w)
        XCTAssertTrue(
            refusal { try LuaOptions.fromFlags(instructions: 1000, memoryMB: Int.max, seconds: 5) }
                .contains("--lua-memory-mb"))
    }

    func testBadTimeLimitIsRefused() {
        for bad in [-1.0, .nan, .infinity] {
            let m = refusal { try LuaOptions.fromFlags(instructions: 1000, memoryMB: 256, seconds: bad) }
            XCTAssertTrue(m.contains("--lua-seconds"), "\(bad): \(m)")
        }
    }

    func testZeroMeansUnlimitedAndValuesPassThrough() throws {
        let o = try LuaOptions.fromFlags(instructions: 0, memoryMB: 0, seconds: 0)
        XCTAssertEqual(o.instructionBudget, 0)
        XCTAssertEqual(o.memoryLimit, 0)
        XCTAssertEqual(o.timeLimit, 0)
        let p = try LuaOptions.fromFlags(instructions: 7, memoryMB: 3, seconds: 1.5)
        XCTAssertEqual(p.memoryLimit, 3 << 20)
        XCTAssertEqual(p.timeLimit, 1.5)
    }

    func testStateRefusesNegativeLimitsInsteadOfDroppingTheGuard() {
        for options in [
            LuaOptions(instructionBudget: -5), LuaOptions(memoryLimit: -1), LuaOptions(timeLimit: -.infinity),
        ] {
            let e = expectLuaError { try LuaState(options: options) }
            guard case .state = e else { return XCTFail("\(String(describing: e))") }
        }
    }
}
