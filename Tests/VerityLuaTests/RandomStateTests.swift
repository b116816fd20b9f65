// Resume groundwork for Lua's randomness: `verity.random`'s state restores the same draws, and
// seeding by (run, step) makes a fresh state (a resumed run) draw what the original drew at that step,
// for `verity.random` and for `math.random`.
import Foundation
import XCTest
@testable import VerityLua

final class RandomStateTests: XCTestCase {
    func draws(_ state: LuaState) throws -> [LuaValue] {
        let f = try state.load(
            source: "return verity.random(1, 1000000), verity.random(), math.random(1, 1000000), math.random()",
            name: "=draws")
        return try state.call(f)
    }

    func testStepSeedingAndSavedStateRepeatDraws() throws {
        let a = try LuaState()
        try a.seed(run: 42, step: 7)
        let first = try draws(a)
        let b = try LuaState()  // a resumed process
        try b.seed(run: 42, step: 7)
        XCTAssertEqual(try draws(b), first)
        try b.seed(run: 42, step: 8)
        XCTAssertNotEqual(try draws(b), first)
        // verity.random's state mid-step: save, draw, restore, draw again.
        let saved = a.randomState
        let next = try a.call(try a.load(source: "return verity.random(1, 1000000)", name: "=one"))
        a.randomState = saved
        XCTAssertEqual(try a.call(try a.load(source: "return verity.random(1, 1000000)", name: "=one")), next)
    }
}
