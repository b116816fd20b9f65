// Hostile scripts that tried to escape the run-away guards (issue 13, items 1 and 2): code that
// runs after an error (`__close` handlers, message handlers), C work the count hook never sees
// (pattern matching), and time that grows faster than the instruction count (pcall recursion).
// Each runs under two watchdogs: the state's own wall-clock limit and an XCTest wait on a
// background thread, so that a regression fails within seconds instead of hanging the run.
import Foundation
import VerityLua
import XCTest

/// The outcome of a hostile script: its error (nil when it returned) and how long it ran.
struct HostileOutcome: @unchecked Sendable {
    var error: LuaError?
    var other: Error?
    var seconds: Double
}

final class RunawayTests: XCTestCase {
    /// Tight limits so that every hostile script here is stopped well inside the watchdog.
    static let options = LuaOptions(instructionBudget: 2_000_000, memoryLimit: 32 << 20, timeLimit: 2)

    /// Runs `body` on its own thread; fails the test if it has not finished after `seconds`.
    func underWatchdog(
        _ seconds: Double = 8, file: StaticString = #filePath, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> Void
    ) -> HostileOutcome? {
        final class Box: @unchecked Sendable { var outcome: HostileOutcome? }
        let box = Box()
        let finished = expectation(description: "hostile script stopped")
        let thread = Thread {
            let start = DispatchTime.now().uptimeNanoseconds
            var outcome = HostileOutcome(error: nil, other: nil, seconds: 0)
            do { try body() } catch let e as LuaError { outcome.error = e } catch { outcome.other = error }
            outcome.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            box.outcome = outcome
            finished.fulfill()
        }
        thread.stackSize = 16 << 20
        thread.start()
        let result = XCTWaiter().wait(for: [finished], timeout: seconds)
        guard result == .completed else {
            XCTFail("the hostile script was still running after \(seconds) s: a guard is off", file: file, line: line)
            return nil
        }
        return box.outcome
    }

    /// Runs source as a chunk (a recipe at load time) and expects a run-away stop.
    func expectStopped(
        _ source: String, name: String = "hostile.lua", options: LuaOptions = RunawayTests.options,
        file: StaticString = #filePath, line: UInt = #line
    ) -> HostileOutcome? {
        let outcome = underWatchdog(file: file, line: line) {
            let state = try LuaState(options: options, services: testServices())
            _ = try state.call(try state.load(source: source, name: name))
        }
        guard let outcome else { return nil }
        guard case .budget = outcome.error else {
            XCTFail(
                "expected a run-away stop, got \(String(describing: outcome.error ?? outcome.other))", file: file,
                line: line)
            return outcome
        }
        return outcome
    }

    // MARK: - Item 1: code that runs after an error stays under the guards

    func testLoopingCloseHandlerAfterErrorIsStopped() throws {
        let outcome = expectStopped(
            """
            local x <close> = setmetatable({}, { __close = function() while true do end end })
            error("boom")
            """)
        guard let outcome, case .budget(let kind, _, let file, _) = outcome.error else { return }
        XCTAssertEqual(kind, .instructions)
        XCTAssertEqual(file, "hostile.lua")
        XCTAssertLessThan(outcome.seconds, 3)
    }

    func testAllocatingCloseHandlerAfterErrorStaysUnderTheCap() throws {
        final class Peak: @unchecked Sendable { var bytes = 0 }
        let peak = Peak()
        let options = LuaOptions(instructionBudget: 200_000_000, memoryLimit: 16 << 20, timeLimit: 3)
        let outcome = underWatchdog {
            let state = try LuaState(options: options, services: testServices())
            defer { peak.bytes = state.memoryPeak }
            _ = try state.call(
                try state.load(
                    source: """
                        local x <close> = setmetatable({}, { __close = function()
                          -- About 120 MB when nothing stops it: finite, so that a regression fails the
                          -- assertions below instead of exhausting the machine.
                          local t = {}
                          for i = 1, 200000 do t[i] = string.rep("x", 500) .. i end
                        end })
                        error("boom")
                        """, name: "hostile.lua"))
        }
        guard let outcome else { return }
        XCTAssertLessThanOrEqual(peak.bytes, 17 << 20)
        guard case .budget(let kind, _, _, _) = outcome.error else {
            return XCTFail("expected the memory cap, got \(String(describing: outcome.error ?? outcome.other))")
        }
        XCTAssertEqual(kind, .memory)
    }

    func testCloseHandlerAfterBudgetStopInsideARewardIsStopped() throws {
        // The budget runs out first; the close handler then loops while the call unwinds.
        let outcome = underWatchdog {
            let state = try LuaState(options: RunawayTests.options, services: testServices())
            let reward = try state.call(
                try state.load(
                    source: """
                        return function(sample)
                          local x <close> = setmetatable({}, { __close = function() while true do end end })
                          while true do end
                        end
                        """, name: "reward.lua"))
            guard case .function(let f) = reward.first ?? .nil else { return }
            _ = try state.call(f, [.string("response")])
        }
        guard let outcome else { return }
        guard case .budget(let kind, _, let file, _) = outcome.error else {
            return XCTFail("expected a budget stop, got \(String(describing: outcome.error ?? outcome.other))")
        }
        XCTAssertEqual(kind, .instructions)
        XCTAssertEqual(file, "reward.lua")
    }

    func testCloseHandlersInsideScriptPcallAndMessageHandlersAreStopped() throws {
        _ = expectStopped(
            """
            pcall(function()
              local x <close> = setmetatable({}, { __close = function() while true do end end })
              error("inner")
            end)
            """)
        _ = expectStopped("return xpcall(error, function() while true do end end)")
        // A budget stop raised by the count hook reaches the script's handler with hooks off.
        _ = expectStopped("return xpcall(function() while true do end end, function() while true do end end)")
        _ = expectStopped(
            """
            return xpcall(function()
              local x <close> = setmetatable({}, { __close = function() while true do end end })
              error("inner")
            end, function(m) return m end)
            """)
    }

    func testCloseHandlersAtLoadTimeAreStopped() throws {
        let tmp = try TempFolder()
        let url = try tmp.write(
            "recipe.lua",
            """
            local x <close> = setmetatable({}, { __close = function() while true do end end })
            error("load-time failure")
            """)
        let outcome = underWatchdog {
            let state = try LuaState(options: RunawayTests.options, services: testServices())
            _ = try state.run(file: url, displayName: "recipe.lua")
        }
        guard let outcome else { return }
        guard case .budget(_, _, let file, _) = outcome.error else {
            return XCTFail("expected a budget stop, got \(String(describing: outcome.error ?? outcome.other))")
        }
        XCTAssertEqual(file, "recipe.lua")
    }

    func testGcFinalizersStayRefused() throws {
        let e = expectLuaError { try runLua("setmetatable({}, { __gc = function() while true do end end })") }
        XCTAssertTrue(e?.description.contains("__gc finalizers are not allowed") ?? false, "\(String(describing: e))")
    }

    func testStateStaysUsableAfterAStop() throws {
        final class Result: @unchecked Sendable { var after: [LuaValue] = [] }
        let result = Result()
        let outcome = underWatchdog {
            let state = try LuaState(options: RunawayTests.options, services: testServices())
            let hostile = try state.load(
                source: """
                    local x <close> = setmetatable({}, { __close = function() while true do end end })
                    error("boom")
                    """, name: "hostile.lua")
            do { _ = try state.call(hostile) } catch let e as LuaError {
                guard case .budget = e else { throw e }
            }
            result.after = try state.call(try state.load(source: "return 1 + 1", name: "ok.lua"))
        }
        XCTAssertNil(outcome?.error)
        XCTAssertEqual(result.after, [.integer(2)])
    }

    // MARK: - Item 2: C work and wall-clock time

    func testBacktrackingFindIsStopped() throws {
        let outcome = expectStopped(
            """
            local s = string.rep("a", 2000)
            return string.find(s, (".-"):rep(5) .. "b")
            """, name: "pattern.lua")
        guard let outcome, case .budget(let kind, _, let file, let line) = outcome.error else { return }
        XCTAssertEqual(kind, .instructions)
        XCTAssertEqual(file, "pattern.lua")
        XCTAssertEqual(line, 2)
        XCTAssertLessThan(outcome.seconds, 3)
        XCTAssertTrue(
            outcome.error?.description.contains("pattern.lua:2: script stopped: instruction budget") ?? false,
            "\(String(describing: outcome.error))")
    }

    func testBalancedMatchOverLongSubjectIsStopped() throws {
        for call in [
            "string.find(s, '%b()')", "s:match('%b()x')", "s:gsub('%b()x', '')",
            "for m in s:gmatch('%b()x') do end",
        ] {
            let outcome = expectStopped("local s = string.rep('(', 100000)\n\(call)", name: "balanced.lua")
            XCTAssertLessThan(outcome?.seconds ?? 0, 3, call)
        }
    }

    func testPcallRecursionIsStoppedByTheClock() throws {
        let outcome = expectStopped(
            """
            local function f() pcall(f) f() end
            f()
            """, options: LuaOptions(instructionBudget: 50_000_000, memoryLimit: 256 << 20, timeLimit: 1))
        guard let outcome else { return }
        XCTAssertLessThan(outcome.seconds, 3)
    }

    func testWallClockLimitWithoutInstructionBudget() throws {
        let outcome = expectStopped(
            "while true do end", name: "loop.lua",
            options: LuaOptions(instructionBudget: 0, memoryLimit: 32 << 20, timeLimit: 0.5))
        guard let outcome, case .budget(let kind, _, let file, _) = outcome.error else { return }
        XCTAssertEqual(kind, .time(seconds: 0.5))
        XCTAssertEqual(file, "loop.lua")
        XCTAssertTrue(
            outcome.error?.description.contains("wall-clock limit of 0.5 s per call exceeded") ?? false,
            "\(String(describing: outcome.error))")
        XCTAssertLessThan(outcome.seconds, 2)
    }

    func testPlainFindIsLinear() throws {
        // A naive plain search would take 10^11 comparisons here.
        let r = underWatchdog {
            _ = try runLua(
                """
                local s = string.rep("a", 1000000)
                return string.find(s, string.rep("a", 100000) .. "b", 1, true)
                """, options: RunawayTests.options)
        }
        XCTAssertNil(r?.error)
    }

    // MARK: - The metered matcher keeps Lua's pattern semantics

    func testPatternFunctionsMatchLuaSemantics() throws {
        // Expected values from Lua 5.4's own string library.
        let cases: [(String, LuaValue)] = [
            ("return string.find('hello world', 'o w')", .integer(5)),
            ("return select(2, string.find('hello world', 'l+'))", .integer(4)),
            ("return string.find('a.b', '.', 1, true)", .integer(2)),
            ("return string.find('a.b', '.')", .integer(1)),
            ("return string.find('a.b', '%.')", .integer(2)),
            ("return string.find('abc', 'b', -1)", .nil),
            ("return string.match('  trim me  ', '^%s*(.-)%s*$')", .string("trim me")),
            ("return string.match('key = value', '(%w+)%s*=%s*(%w+)')", .string("key")),
            ("return select(2, string.match('key = value', '(%w+)%s*=%s*(%w+)'))", .string("value")),
            ("return string.match('f(a(b)c)d', '%b()')", .string("(a(b)c)")),
            ("return string.match('THE (quick) fox', '%f[%a]%a+', 5)", .string("quick")),
            ("return string.match('hello', '()ll()')", .integer(3)),
            ("return string.match('abcabc', '(abc)%1')", .string("abc")),
            ("return string.match('x = [[a]]', '%[%[(.-)%]%]')", .string("a")),
            ("return string.match('a]b', '[]]')", .string("]")),
            ("return string.match('a-b', '[%-]')", .string("-")),
            ("return string.match('\\\\boxed{12}', '\\\\boxed{(.-)}')", .string("12")),
            ("return (string.gsub('hello world', 'o', '0'))", .string("hell0 w0rld")),
            ("return select(2, string.gsub('hello world', 'o', '0', 1))", .integer(1)),
            ("return (string.gsub('abc', '%w', '%0%0'))", .string("aabbcc")),
            ("return (string.gsub('hello world', '(%w+)', '<%1>'))", .string("<hello> <world>")),
            ("return (string.gsub('abc', '', '-'))", .string("-a-b-c-")),
            ("return (string.gsub('$name is $age', '%$(%w+)', {name = 'Ann', age = 7}))", .string("Ann is 7")),
            ("return (string.gsub('a b', '%w', function(c) return c:upper() end))", .string("A B")),
            ("return (string.gsub('a b', '%w', function(c) return nil end))", .string("a b")),
            ("return (string.gsub('aaa', '^a', 'b'))", .string("baa")),
            (
                "local t = {} for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1] = k .. v end return table.concat(t, ';')",
                .string("a1;b2")
            ),
            ("local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + 1 end return n", .integer(3)),
            ("local t = {} for w in ('abc'):gmatch('.', 2) do t[#t+1] = w end return table.concat(t)", .string("bc")),
            (
                "local t = {} for w in ('abc'):gmatch('x*') do t[#t+1] = '[' .. w .. ']' end return table.concat(t)",
                .string("[][][][]")
            ),
            ("return pcall(string.find, 'a', '%')", .boolean(false)),
            ("return select(2, pcall(string.find, 'a', '[a'))", .string("malformed pattern (missing ']')")),
            ("return select(2, pcall(string.gsub, 'a', 'a', '%2'))", .string("invalid capture index %2")),
            ("return select(2, pcall(string.match, 'a', '(a'))", .string("unfinished capture")),
            ("return select(2, pcall(string.match, 'x', '%f'))", .string("missing '[' after '%f' in pattern")),
            // Found by Scripts/fuzz.sh (pattern target): %z / %Z, Lua 5.4's deprecated NUL class.
            ("return string.find('\\153\\153', '%Z()')", .integer(1)),
            ("return string.find('a\\0b', '%z')", .integer(2)),
            ("return string.find('\\0\\0x', '[%Z]')", .integer(3)),
            ("return select(2, pcall(string.match, ('a'):rep(300), ('a?'):rep(300)))", .string("pattern too complex")),
        ]
        for (source, expected) in cases {
            let r = try runLua(source)
            if case .string(let want) = expected, case .string(let got) = r.first ?? .nil, source.contains("pcall") {
                XCTAssertTrue(got.contains(want), "\(source): \(got)")
            } else {
                XCTAssertEqual(r.first, expected, source)
            }
        }
        let many = String(repeating: "(", count: 40) + "a" + String(repeating: ")", count: 40)
        let e = try runLua("return pcall(string.match, 'a', '\(many)')")
        XCTAssertEqual(e.first, .boolean(false))
        guard case .string(let message) = e.last ?? .nil else { return XCTFail("\(e)") }
        XCTAssertTrue(message.contains("too many captures"), message)
    }
}
