// The `verity` host table: verity.math.* through injected HostServices (a test double, with the
// profile argument passed through), clear errors when a service is absent, verity.tokens,
// verity.log / print, the seeded verity.random, and require's roots and caching.
import Foundation
import VerityLua
import XCTest

final class HostAPITests: XCTestCase {
    func testMathBindingPassesThroughServicesAndProfile() throws {
        let calls = CallLog()
        let state = try LuaState(services: testServices(calls: calls))
        state.graderProfile = "qwen-eval"
        let r = try state.call(
            try state.load(
                source: """
                    local ok, got = verity.math.grade("so \\\\boxed{12.8}", "12.8")
                    local bad, none = verity.math.grade("no box here", "12.8", "verity")
                    return ok, got, bad, none, verity.math.extract("x \\\\boxed{\\\\frac{1}{2}}", "math-verify"),
                           verity.math.equal("2", "2"), verity.math.equal("2", "3")
                    """, name: "m.lua"))
        XCTAssertEqual(
            r,
            [
                .boolean(true), .string("12.8"), .boolean(false), .nil, .string("\\frac{1}{2}"), .boolean(true),
                .boolean(false),
            ])
        XCTAssertEqual(
            calls.all, ["grade qwen-eval", "grade verity", "extract math-verify", "equal qwen-eval", "equal qwen-eval"])
    }

    func testMissingServicesRaiseClearErrors() throws {
        let state = try LuaState(services: HostServices(log: { _ in }))
        for (fn, what) in [
            ("verity.math.grade('a', 'b')", "a verifier"), ("verity.math.extract('a')", "a verifier"),
            ("verity.math.equal('a', 'b')", "a verifier"), ("verity.tokens('a b')", "a tokenizer"),
        ] {
            let e = expectLuaError {
                try state.call(try state.load(source: "local x = 1\nreturn " + fn, name: "s.lua"))
            }
            let name = String(fn.prefix(while: { $0 != "(" }))
            XCTAssertTrue(
                e?.description.contains("s.lua:2: \(name) is not available: this host was started without \(what)")
                    ?? false,
                "\(String(describing: e))")
        }
    }

    func testBadArgumentsAndThrowingServices() throws {
        struct UnknownProfile: Error, CustomStringConvertible {
            var description: String { "unknown grader profile \"nope\"" }
        }
        let services = HostServices(
            grade: { _, _, p in
                if p == "nope" { throw UnknownProfile() }; return GradeResult(correct: true, extracted: nil)
            },
            log: { _ in })
        let state = try LuaState(services: services)
        let e1 = expectLuaError {
            try state.call(try state.load(source: "return verity.math.grade(nil, '1')", name: "a.lua"))
        }
        XCTAssertTrue(
            e1?.description.contains("bad argument #1 to 'verity.math.grade' (response string expected, got nil)")
                ?? false, "\(String(describing: e1))")
        let e2 = expectLuaError {
            try state.call(try state.load(source: "return verity.math.grade('x', '1', 'nope')", name: "a.lua"))
        }
        XCTAssertTrue(
            e2?.description.contains("a.lua:1: verity.math.grade: unknown grader profile \"nope\"") ?? false,
            "\(String(describing: e2))")
        // Numbers are accepted where strings are expected (a label read from JSON as a number).
        XCTAssertEqual(
            try state.call(try state.load(source: "return verity.math.grade('x', 12.8)", name: "a.lua")).first,
            .boolean(true))
    }

    func testTokensAndLog() throws {
        let logs = CallLog()
        let state = try LuaState(services: testServices(logs: logs))
        XCTAssertEqual(
            try state.call(try state.load(source: "return verity.tokens('one two three')", name: "t.lua")),
            [.integer(3)])
        _ = try state.call(
            try state.load(source: "verity.log('step', 3, true, nil, {}) print('via print', 1.5)", name: "t.lua"))
        XCTAssertEqual(logs.all, ["step\t3\ttrue\tnil\t<table>", "via print\t1.5"])
    }

    func testRandomIsSeededByTheRun() throws {
        func draws(_ seed: UInt64) throws -> [LuaValue] {
            let state = try LuaState(services: testServices())
            try state.seed(seed)
            return try state.call(
                try state.load(
                    source: """
                        local out = {}
                        for i = 1, 4 do out[#out + 1] = verity.random() end
                        out[#out + 1] = verity.random(6)
                        out[#out + 1] = verity.random(-3, 3)
                        out[#out + 1] = math.random(1000)
                        return table.unpack(out)
                        """, name: "r.lua"))
        }
        let a = try draws(1), b = try draws(1), c = try draws(2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        for v in a.prefix(4) { XCTAssertTrue((0..<1).contains(v.doubleValue ?? -1), "\(v)") }
        XCTAssertTrue((1...6).contains(Int(a[4].doubleValue ?? 0)))
        XCTAssertTrue((-3...3).contains(Int(a[5].doubleValue ?? 99)))
        let state = try LuaState()
        XCTAssertTrue(
            expectLuaError { try state.call(try state.load(source: "return verity.random(5, 1)", name: "r.lua")) }?
                .description.contains("interval [5, 1] is empty") ?? false)
    }

    func testRequireRootsOrderAndCache() throws {
        let tmp = try TempFolder()
        try tmp.write("recipes/helper.lua", "counter = (counter or 0) + 1\nreturn { from = 'recipe' }")
        try tmp.write("lib/extra/mod.lua", "return { from = 'lib' }")
        try tmp.write("lib/rewards/format.lua", "return 'shadowed bundled module'")
        let state = try LuaState(
            options: LuaOptions(libraryRoots: [tmp.url.appendingPathComponent("lib").path]),
            services: testServices(),
            recipeRoot: ScriptRoot(url: tmp.url.appendingPathComponent("recipes"), display: "recipes"))
        let r = try state.call(
            try state.load(
                source: """
                    local a = require 'helper'
                    local b = require 'helper'
                    return a.from, rawequal(a, b), counter, require('extra.mod').from, require('rewards.format'), type(require('lib.chat').llama3)
                    """, name: "t.lua"))
        XCTAssertEqual(
            r,
            [
                .string("recipe"), .boolean(true), .integer(1), .string("lib"), .string("shadowed bundled module"),
                .string("function"),
            ])
        let names = state.loadedScripts.map(\.displayName)
        XCTAssertEqual(names.first, "recipes/helper.lua")
        XCTAssertTrue(names.contains("Scripts/lib/chat.lua"), "\(names)")
        let missing = expectLuaError {
            try state.call(try state.load(source: "\nlocal m = require 'nothing.here'", name: "t.lua"))
        }
        XCTAssertTrue(
            missing?.description.contains("t.lua:2: module 'nothing.here' not found in recipes/, ") ?? false,
            "\(String(describing: missing))")
    }
}
