// Plugin contracts: rewards returning NaN, nil, strings or bad metrics; prompts returning the
// wrong shape; loss mixes naming unknown terms; schedules returning non-numbers. Each must be a
// contract error naming the plugin's file and what was expected and got.
import Foundation
import VerityLua
import XCTest

final class PluginContractTests: XCTestCase {
    var state: LuaState!
    var example: LuaTableRef!

    override func setUpWithError() throws {
        state = try LuaState(services: testServices())
        example = state.makeTable(
            .object(["problem": .string("1+1?"), "prompt": .string("1+1? Think."), "answer": .string("2")]))
    }

    func function(_ source: String, name: String = "Scripts/rewards/x.lua") throws -> LuaFunction {
        guard case .function(let f) = try state.call(try state.load(source: source, name: name)).first ?? .nil else {
            // A chunk that returns no function is a broken test input: fail, never skip.
            XCTFail("chunk did not return a function")
            throw LuaError.state(message: "chunk did not return a function")
        }
        return f
    }

    func sample(_ response: String) -> RewardSample {
        RewardSample(
            response: response, answer: "2", problem: "1+1?", prompt: "p", example: example, finishReason: "stop",
            tokens: 3)
    }

    func testRewardReturningNaN() throws {
        let reward = RewardPlugin(try function("return function(s) return 0/0 end"))
        let e = expectLuaError { try reward(sample("x"), in: state) }
        XCTAssertEqual(
            e?.description, "contract error: reward in Scripts/rewards/x.lua:1 returned NaN, expected a finite number")
    }

    /// Infinities are not finite: rewards, metrics and schedules returning ±inf are contract errors like NaN.
    func testInfinitiesAreRefused() throws {
        for (value, shown) in [("math.huge", "inf"), ("-math.huge", "-inf")] {
            let reward = RewardPlugin(try function("return function(s) return \(value) end"))
            XCTAssertEqual(
                expectLuaError { try reward(sample("x"), in: state) }?.description,
                "contract error: reward in Scripts/rewards/x.lua:1 returned \(shown), expected a finite number")
            let metric = RewardPlugin(try function("return function(s) return 1, { big = \(value) } end"))
            let e = expectLuaError { try metric(sample("x"), in: state) }
            XCTAssertTrue(
                e?.description.contains("a metric `big` = \(shown), expected a finite number") ?? false,
                "\(String(describing: e))")
            let schedule = SchedulePlugin(
                try function("return function(step, total) return \(value) end", name: "s.lua"), kind: "lr")
            XCTAssertEqual(
                expectLuaError { try schedule(step: 0, total: 10, in: state) }?.description,
                "contract error: lr in s.lua:1 returned \(shown), expected a finite number")
        }
    }

    func testRewardReturningNil() throws {
        let reward = RewardPlugin(try function("return function(s)\n  local r\nend"))
        let e = expectLuaError { try reward(sample("x"), in: state) }
        XCTAssertEqual(
            e?.description, "contract error: reward in Scripts/rewards/x.lua:1 returned nil, expected a number")
    }

    func testRewardReturningString() throws {
        let reward = RewardPlugin(try function("return function(s) return '1' end"))
        let e = expectLuaError { try reward(sample("x"), in: state) }
        XCTAssertEqual(
            e?.description,
            "contract error: reward in Scripts/rewards/x.lua:1 returned a string (\"1\"), expected a number")
    }

    func testRewardMetrics() throws {
        let reward = RewardPlugin(
            try function("return function(s) return 0.5, { length = #s.response, tokens = s.tokens } end"))
        XCTAssertEqual(
            try reward(sample("abcd"), in: state), RewardResult(reward: 0.5, metrics: ["length": 4, "tokens": 3]))
        let bad = RewardPlugin(try function("return function(s) return 1, { ok = 'yes' } end"))
        let e = expectLuaError { try bad(sample("x"), in: state) }
        XCTAssertTrue(
            e?.description.contains("a metric `ok` = a string (\"yes\"), expected a finite number") ?? false,
            "\(String(describing: e))")
    }

    func testRewardSeesSampleFields() throws {
        let reward = RewardPlugin(
            try function(
                """
                return function(s)
                  assert(s.example.answer == s.answer and s.problem == '1+1?' and s.finish_reason == 'stop' and s.prompt == 'p')
                  return s.tokens
                end
                """))
        XCTAssertEqual(try reward(sample("x"), in: state).reward, 3)
    }

    func testRewardRuntimeErrorNamesLine() throws {
        let reward = RewardPlugin(try function("return function(s)\n  return s.missing.field\nend"))
        let e = expectLuaError { try reward(sample("x"), in: state) }
        guard case .runtime(let file, let line, _, _) = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, "Scripts/rewards/x.lua")
        XCTAssertEqual(line, 2)
    }

    func testPromptShapes() throws {
        let text = PromptPlugin(try function("return function(e) return e.prompt end", name: "p.lua"))
        XCTAssertEqual(try text(example, in: state), .text("1+1? Think."))
        let chat = PromptPlugin(
            try function("return function(e) return {{role='user', content=e.problem}} end", name: "p.lua"))
        XCTAssertEqual(try chat(example, in: state), .messages([ChatMessage(role: "user", content: "1+1?")]))
        let bad = PromptPlugin(try function("return function(e) return {{role='user'}} end", name: "p.lua"))
        let e = expectLuaError { try bad(example, in: state) }
        XCTAssertEqual(
            e?.description, "contract error: prompt in p.lua:1 returned message 1 with content = nil, expected a string"
        )
        let num = PromptPlugin(try function("return function(e) return 42 end", name: "p.lua"))
        XCTAssertTrue(
            expectLuaError { try num(example, in: state) }?.description.contains(
                "returned the number 42, expected a string or a list") ?? false)
    }

    func testLossMix() throws {
        let adaptive = LossMixPlugin(
            try function(
                "return function(step, t) return { pg = 1, kl = t.kl > 0.1 and 0.01 or 0.001, entropy = -0.001 * step } end",
                name: "l.lua"))
        XCTAssertEqual(try adaptive(step: 2, terms: ["kl": 0.5], in: state), ["pg": 1, "kl": 0.01, "entropy": -0.002])
        let typo = LossMixPlugin(
            try function("return function() return { pg = 1, entropopy = 0.1 } end", name: "l.lua"))
        let e = expectLuaError { try typo(step: 0, terms: [:], in: state) }
        XCTAssertTrue(e?.description.contains("an unknown term `entropopy`") ?? false)
        XCTAssertTrue(e?.description.contains("did you mean `entropy`?") ?? false, "\(String(describing: e))")
    }

    func testBundledLossMixes() throws {
        let paper = LossMixPlugin(try function("return require 'losses.paper'"))
        XCTAssertEqual(try paper(step: 0, terms: [:], in: state), ["pg": 1, "entropy": -0.001, "kl": 0.001])
        let pg = LossMixPlugin(try function("return require 'losses.pg_only'"))
        XCTAssertEqual(try pg(step: 0, terms: [:], in: state), ["pg": 1])
        let ent = LossMixPlugin(try function("return require 'losses.entropy_only'"))
        XCTAssertEqual(try ent(step: 0, terms: [:], in: state), ["entropy": -0.001])
    }

    func testSchedules() throws {
        let bad = SchedulePlugin(
            try function("return function(step, total) return 'fast' end", name: "s.lua"), kind: "schedules.lr")
        XCTAssertEqual(
            expectLuaError { try bad(step: 0, total: 10, in: state) }?.description,
            "contract error: schedules.lr in s.lua:1 returned a string (\"fast\"), expected a finite number")
        let constant = SchedulePlugin(try function("return require('schedules.constant')(1e-6)"), kind: "lr")
        XCTAssertEqual(try constant(step: 5, total: 10, in: state), 1e-6)
        let warm = SchedulePlugin(
            try function("return require('schedules.warmup_linear'){ peak = 2.0, warmup = 4 }"), kind: "lr")
        XCTAssertEqual(try warm(step: 1, total: 100, in: state), 0.5)
        XCTAssertEqual(try warm(step: 50, total: 100, in: state), 2.0)
        // Hugging Face get_cosine_schedule_with_warmup, restated: 0.5 * (1 + cos(pi * progress)) after warm-up.
        let cosine = SchedulePlugin(
            try function("return require('schedules.cosine'){ peak = 1.0, warmup = 10, min_ratio = 0.1 }"), kind: "lr")
        for step in [0, 5, 10, 37, 55, 100, 110] {
            let expected: Double
            if step < 10 {
                expected = Double(step) / 10
            } else {
                let progress = Double(step - 10) / 90
                expected = 0.1 + 0.9 * max(0, 0.5 * (1 + cos(Double.pi * progress)))
            }
            XCTAssertEqual(try cosine(step: step, total: 100, in: state), expected, accuracy: 1e-12, "step \(step)")
        }
    }
}
