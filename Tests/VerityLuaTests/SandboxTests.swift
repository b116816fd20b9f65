// Break-out tests: each tries to leave the sandbox or run away, and must be refused with a clear
// message naming the file and line (issue 4, item 11), plus the pcall loop that would otherwise
// swallow a budget stop.
import Foundation
@testable import VerityLua
import XCTest

final class SandboxTests: XCTestCase {
    func testOsExecuteIsRefused() throws {
        let e = expectLuaError { try runLua("local x = 1\nreturn os.execute('echo escaped')", name: "evil.lua") }
        guard case .runtime(let file, let line, let message, _) = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, "evil.lua")
        XCTAssertEqual(line, 2)
        XCTAssertTrue(message.contains("os.execute is not available: the os library is closed in the sandbox"), message)
    }

    func testIoOpenIsRefused() throws {
        let e = expectLuaError { try runLua("return io.open('/etc/passwd'):read('a')", name: "evil.lua") }
        XCTAssertTrue(
            e?.description.contains("evil.lua:1: io.open is not available") ?? false, "\(String(describing: e))")
    }

    func testDofileLoadfileAndDebugAreRefused() throws {
        for (code, needle) in [
            ("dofile('/etc/passwd')", "dofile is not available"),
            ("loadfile('/etc/passwd')", "loadfile is not available"),
            ("debug.getregistry()", "debug.getregistry is not available"),
            ("package.loadlib('libc.so.6', 'system')", "package.loadlib is not available"),
            ("string.dump(print)", "string.dump is not available"),
        ] {
            let e = expectLuaError { try runLua(code) }
            XCTAssertTrue(e?.description.contains(needle) ?? false, "\(code): \(String(describing: e))")
        }
    }

    func testAllowIOOpensIoAndOs() throws {
        let r = try runLua("return type(io.open), type(os.time)", options: LuaOptions(allowIO: true))
        XCTAssertEqual(r, [.string("function"), .string("function")])
    }

    /// The C gate alone: `verity_open_sandbox` must not open io and os unless asked, whatever the prelude does
    /// above it (the prelude replaces the globals, so only the C API sees what C opened).
    func testTheCLayerOpensIoAndOsOnlyWhenAllowed() throws {
        let closed = try LuaState(services: testServices()).openedLibraries
        XCTAssertTrue(closed.isSuperset(of: ["_G", "string", "table", "math", "utf8"]), "\(closed)")
        XCTAssertFalse(closed.contains("io"), "\(closed)")
        XCTAssertFalse(closed.contains("os"), "\(closed)")
        XCTAssertFalse(closed.contains("debug"), "\(closed)")
        XCTAssertFalse(closed.contains("package"), "\(closed)")
        let open = try LuaState(options: LuaOptions(allowIO: true), services: testServices()).openedLibraries
        XCTAssertTrue(open.isSuperset(of: ["io", "os"]), "\(open)")
    }

    func testRequireOutsideRootsIsRefused() throws {
        let tmp = try TempFolder()
        try tmp.write("secret.lua", "return 'secret'")
        try tmp.write("recipes/x.lua", "local s = require('../secret')\nreturn s")
        let state = try LuaState(
            services: testServices(),
            recipeRoot: ScriptRoot(url: tmp.url.appendingPathComponent("recipes"), display: "recipes"))
        let e = expectLuaError {
            try state.run(file: tmp.url.appendingPathComponent("recipes/x.lua"), displayName: "recipes/x.lua")
        }
        let text = e?.description ?? ""
        XCTAssertTrue(text.contains("recipes/x.lua:1: require '../secret' refused"), text)
        let abs = expectLuaError {
            try state.call(try state.load(source: "return require('/etc/passwd')", name: "t.lua"))
        }
        XCTAssertTrue(abs?.description.contains("refused") ?? false)
    }

    func testRequireThroughSymlinkOutOfRootIsRefused() throws {
        let tmp = try TempFolder()
        try tmp.write("outside/evil.lua", "return 'escaped'")
        try FileManager.default.createDirectory(
            at: tmp.url.appendingPathComponent("recipes"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: tmp.url.appendingPathComponent("recipes/evil.lua"),
            withDestinationURL: tmp.url.appendingPathComponent("outside/evil.lua"))
        let state = try LuaState(
            services: testServices(),
            recipeRoot: ScriptRoot(url: tmp.url.appendingPathComponent("recipes"), display: "recipes"))
        let e = expectLuaError { try state.call(try state.load(source: "return require('evil')", name: "t.lua")) }
        XCTAssertTrue(e?.description.contains("leads outside its root") ?? false, "\(String(describing: e))")
    }

    func testBytecodeIsRefused() throws {
        // A binary chunk starts with ESC "Lua"; text mode must refuse it whatever mode is asked for.
        let r = try runLua(
            """
            local f, err = load("\\27LuaT\\0\\25\\147\\r\\n\\26\\n", "bin", "b")
            return f, err
            """)
        XCTAssertEqual(r.first, .nil)
        guard case .string(let message) = r.last ?? .nil else { return XCTFail("\(r)") }
        XCTAssertTrue(message.contains("attempt to load a binary chunk (mode is 't')"), message)
        let state = try LuaState()
        let e = expectLuaError { try state.load(source: "\u{1B}Lua\u{54}\0", name: "bin.lua") }
        XCTAssertTrue(e?.description.contains("attempt to load a binary chunk") ?? false, "\(String(describing: e))")
    }

    func testTextLoadStillWorks() throws {
        XCTAssertEqual(try runLua("return load('return 1 + 2')()"), [.integer(3)])
    }

    func testStringRepCannotExhaustMemory() throws {
        let options = LuaOptions(memoryLimit: 32 << 20)
        let e = expectLuaError {
            try runLua("local a = 1\nreturn #string.rep('x', 1 << 30)", options: options, name: "mem.lua")
        }
        guard case .budget(let kind, let limit, let file, let line) = e else {
            return XCTFail("\(String(describing: e))")
        }
        XCTAssertEqual(kind, .memory)
        XCTAssertEqual(limit, 32 << 20)
        XCTAssertEqual(file, "mem.lua")
        XCTAssertEqual(line, 2)
        XCTAssertTrue(e?.description.contains("memory cap of 32 MiB exceeded") ?? false)
    }

    func testGrowingTableHitsMemoryCapAndStateStaysUsable() throws {
        let (e, after) = try underWatchdog { () -> (LuaError?, [LuaValue]) in
            let state = try LuaState(options: LuaOptions(memoryLimit: 16 << 20))
            let hog = try state.load(source: "local t = {}\nfor i = 1, 1e9 do t[i] = 'row ' .. i end", name: "hog.lua")
            var caught: LuaError?
            do { _ = try state.call(hog) } catch let error as LuaError { caught = error }
            return (caught, try state.call(try state.load(source: "return 40 + 2", name: "ok.lua")))
        }
        guard case .budget(.memory, _, _, _) = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(after, [.integer(42)])
    }

    func testEndlessLoopHitsInstructionBudget() throws {
        let e = expectLuaError {
            try runLua(
                "local n = 0\nwhile true do n = n + 1 end", options: LuaOptions(instructionBudget: 1_000_000),
                name: "loop.lua")
        }
        guard case .budget(let kind, let limit, let file, let line) = e else {
            return XCTFail("\(String(describing: e))")
        }
        XCTAssertEqual(kind, .instructions)
        XCTAssertEqual(limit, 1_000_000)
        XCTAssertEqual(file, "loop.lua")
        XCTAssertEqual(line, 2)
        XCTAssertTrue(e?.description.contains("instruction budget of 1000000 instructions per call exceeded") ?? false)
    }

    func testPcallCannotSwallowBudgetStop() throws {
        let source = "while true do pcall(function() while true do end end) end"
        let e = expectLuaError { try runLua(source, options: LuaOptions(instructionBudget: 200_000)) }
        guard case .budget(.instructions, _, _, _) = e else { return XCTFail("\(String(describing: e))") }
        let x = expectLuaError {
            try runLua(
                "while true do xpcall(function() while true do end end, function(m) return m end) end",
                options: LuaOptions(instructionBudget: 200_000))
        }
        guard case .budget(.instructions, _, _, _) = x else { return XCTFail("\(String(describing: x))") }
        let m = expectLuaError {
            try runLua("while true do pcall(string.rep, 'x', 1 << 30) end", options: LuaOptions(memoryLimit: 8 << 20))
        }
        guard case .budget(.memory, _, _, _) = m else { return XCTFail("\(String(describing: m))") }
    }

    func testBudgetIsPerCall() throws {
        let results = try underWatchdog { () -> [[LuaValue]] in
            let state = try LuaState(options: LuaOptions(instructionBudget: 100_000))
            let f = try state.load(source: "local s = 0 for i = 1, 5000 do s = s + i end return s", name: "sum.lua")
            return try (0..<50).map { _ in try state.call(f) }
        }
        XCTAssertEqual(results, Array(repeating: [.integer(12_502_500)], count: 50))
    }

    /// The budget stops a loop within its limit, not eventually: an empty numeric `for` runs one VM instruction
    /// (FORLOOP) per iteration, so n iterations cost n instructions plus a handful. Twice the budget must stop;
    /// half the budget must finish. (A budget counted 1,000 times too slowly passes the other tests.)
    func testBudgetStopsTwiceItsLimitAndAllowsHalf() throws {
        for budget in [200_000, 1_000_000] {
            let over = expectLuaError {
                try runLua(
                    "for i = 1, \(2 * budget) do end\nreturn 'finished'", options: LuaOptions(instructionBudget: budget)
                )
            }
            guard case .budget(.instructions, let limit, _, _) = over else {
                XCTFail("\(budget): \(String(describing: over))"); continue
            }
            XCTAssertEqual(limit, budget)
            XCTAssertEqual(
                try runLua(
                    "for i = 1, \(budget / 2) do end\nreturn 'finished'", options: LuaOptions(instructionBudget: budget)
                ),
                [.string("finished")], "half of \(budget)")
        }
        // The same holds for each call of one state (the count restarts per outermost call).
        let (first, second, third) = try underWatchdog { () -> ([LuaValue], [LuaValue], LuaError?) in
            let state = try LuaState(options: LuaOptions(instructionBudget: 300_000))
            let half = try state.load(source: "for i = 1, 150000 do end return 1", name: "half.lua")
            let twice = try state.load(source: "for i = 1, 600000 do end return 2", name: "twice.lua")
            let a = try state.call(half), b = try state.call(half)
            var stop: LuaError?
            do { _ = try state.call(twice) } catch let e as LuaError { stop = e }
            return (a, b, stop)
        }
        XCTAssertEqual(first, [.integer(1)])
        XCTAssertEqual(second, [.integer(1)])
        guard case .budget(.instructions, 300_000, "twice.lua", _) = third else {
            return XCTFail("\(String(describing: third))")
        }
    }

    func testDeepRecursionIsStopped() throws {
        let e = expectLuaError {
            try runLua("local function f(n) return 1 + f(n + 1) end\nreturn f(1)", name: "deep.lua")
        }
        guard case .runtime(let file, let line, let message, let traceback) = e else {
            return XCTFail("\(String(describing: e))")
        }
        XCTAssertEqual(file, "deep.lua")
        XCTAssertEqual(line, 1)
        XCTAssertTrue(message.contains("stack overflow"), message)
        XCTAssertTrue(traceback.contains("deep.lua:1"), traceback)
    }

    func testRuntimeErrorHasTraceback() throws {
        let e = expectLuaError {
            try runLua(
                "local function inner() error('boom') end\nlocal function outer() inner() end\nouter()", name: "tb.lua")
        }
        guard case .runtime(let file, let line, let message, let traceback) = e else {
            return XCTFail("\(String(describing: e))")
        }
        XCTAssertEqual(file, "tb.lua")
        XCTAssertEqual(line, 1)
        XCTAssertEqual(message, "tb.lua:1: boom")
        XCTAssertTrue(traceback.contains("tb.lua:2: in"), traceback)
        XCTAssertTrue(traceback.contains("tb.lua:3: in"), traceback)
    }

    func testRecipeSyntaxErrorNamesLine7() throws {
        let tmp = try TempFolder()
        let lines = [
            "-- a recipe", "local x = 1", "", "return {", "  model = 'm',", "  steps = 10,",
            "  prompt = function(e) return e.prompt end end,", "}",
        ]
        try tmp.write("recipes/bad.lua", lines.joined(separator: "\n"))
        let e = expectLuaError {
            try RecipeLoader.load(path: "recipes/bad.lua", services: testServices(), currentDirectory: tmp.url)
        }
        guard case .syntax(let file, let line, let message) = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, "recipes/bad.lua")
        XCTAssertEqual(line, 7)
        XCTAssertTrue(message.hasPrefix("recipes/bad.lua:7:"), message)
    }

    func testSyntaxErrorInRequiredModuleIsASyntaxError() throws {
        let tmp = try TempFolder()
        try tmp.write("lib/broken.lua", "return {\n  a = 1\n  b = 2\n}")
        let state = try LuaState(options: LuaOptions(libraryRoots: [tmp.url.appendingPathComponent("lib").path]))
        let e = expectLuaError { try state.call(try state.load(source: "return require 'broken'", name: "r.lua")) }
        guard case .syntax(let file, let line, _) = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertTrue(file.hasSuffix("lib/broken.lua"), file)
        XCTAssertEqual(line, 3)
    }
}

final class FinalizerTests: XCTestCase {
    func testGcFinalizersAreRefused() throws {
        // Lua runs __gc with hooks off, so a looping finalizer would escape the budget; refuse it.
        for mt in ["{ __gc = function() while true do end end }", "{ __gc = true }"] {
            let e = expectLuaError {
                try runLua(
                    "local t = {}\nsetmetatable(t, \(mt))", options: LuaOptions(instructionBudget: 100_000),
                    name: "gc.lua")
            }
            XCTAssertTrue(
                e?.description.contains("gc.lua:2: setmetatable: __gc finalizers are not allowed in the sandbox")
                    ?? false,
                "\(String(describing: e))")
        }
        XCTAssertEqual(
            try runLua("return getmetatable(setmetatable({}, { __index = { x = 7 } })).__index.x"), [.integer(7)])
    }
}
