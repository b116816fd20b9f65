// The Lua overhead benchmark behind `verity bench lua`: reward calls on N synthetic responses of a
// given length (the bundled paper reward, grading through `verity.math.grade`), prompt renders,
// loss-mix calls and the pure-Lua format reward, each in microseconds per call, set against two
// limits measured in the same run: the same grading closure called straight from Swift (what the
// reward would cost with no Lua at all) and an empty Lua reward (the floor of any Lua call). The
// grader is the product's verifier (VerityVerify through `HostServices.standard()`). Not here:
// printing (the CLI) and timed assertions (none anywhere).
import VerityMeasure
import Foundation
import VerityTensor
import VerityModel
import VerityTokenizer
import VeritySampling
import VerityVerify
import VerityLua

// MARK: - Report

/// Figures of one benchmark run (microseconds per call).
public struct LuaBenchRun: Sendable {
    /// Reward plugin call through Lua, grading included.
    public var rewardMicros: Double
    /// The same grading closure called directly from Swift.
    public var directGradeMicros: Double
    /// An empty Lua reward (sample table built, function called, number checked).
    public var emptyRewardMicros: Double
    /// Pure-Lua format reward (finds the last \boxed{} in Lua).
    public var formatRewardMicros: Double
    /// Prompt plugin plus chat format.
    public var promptMicros: Double
    /// Loss-mix call.
    public var lossMixMicros: Double
    /// Share of all CPU time that other processes used during the run (0...1).
    public var otherCPUShare: Double
}

/// Medians over runs plus the runs themselves.
public struct LuaBenchReport: Sendable {
    /// Responses per step.
    public var responses: Int
    /// Characters per response.
    public var characters: Int
    /// The runs, in order.
    public var runs: [LuaBenchRun]
    /// What graded the responses.
    public var grader: String
    /// The goal for one reward call, grading included.
    public var goalMicros: Double = 20

    /// The median of one figure over the runs.
    public func median(_ f: (LuaBenchRun) -> Double) -> Double {
        VerityBench.median(runs.map(f))
    }

    /// The report as one JSON object.
    public var json: String {
        let reward = median(\.rewardMicros), direct = median(\.directGradeMicros), empty = median(\.emptyRewardMicros)
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : "null" }
        let runsJSON = runs.map {
            "{\"reward_us\": \(f($0.rewardMicros)), \"direct_grade_us\": \(f($0.directGradeMicros)), \"empty_reward_us\": \(f($0.emptyRewardMicros)), \"format_reward_us\": \(f($0.formatRewardMicros)), \"prompt_render_us\": \(f($0.promptMicros)), \"loss_mix_us\": \(f($0.lossMixMicros)), \"other_cpu_share\": \(f($0.otherCPUShare))}"
        }.joined(separator: ", ")
        return """
            {"bench": "lua", "responses": \(responses), "chars": \(characters), "repeats": \(runs.count), \
            "reward_us": \(f(reward)), "reward_goal_us": \(f(goalMicros)), "reward_ratio_to_goal": \(f(reward / goalMicros)), \
            "direct_grade_us": \(f(direct)), "reward_ratio_to_direct_grade": \(f(reward / direct)), \
            "lua_overhead_us": \(f(reward - direct)), "empty_reward_us": \(f(empty)), \
            "step_ms": \(f(reward * Double(responses) / 1000)), \
            "format_reward_us": \(f(median(\.formatRewardMicros))), "prompt_render_us": \(f(median(\.promptMicros))), \
            "loss_mix_us": \(f(median(\.lossMixMicros))), "other_cpu_share_median": \(f(median(\.otherCPUShare))), \
            "grader": \(jsonStringLiteral(grader)), \
            "runs": [\(runsJSON)]}
            """
    }
}

// MARK: - Running

/// Runs the Lua overhead benchmark.
public enum LuaBenchmark {
    /// The paper's example pi1 (data/train/pi1.jsonl), embedded so the benchmark needs no files.
    static let example: JSONValue = .object([
        "id": .string("pi1"),
        "problem": .string(
            "The pressure \\( P \\) exerted by wind on a sail varies jointly as the area \\( A \\) of the sail and the cube of the wind's velocity \\( V \\). When the velocity is \\( 8 \\) miles per hour, the pressure on a sail of \\( 2 \\) square feet is \\( 4 \\) pounds. Find the wind velocity when the pressure on \\( 4 \\) square feet of sail is \\( 32 \\) pounds."
        ),
        "prompt": .string(
            "The pressure \\( P \\) exerted by wind on a sail varies jointly as the area \\( A \\) of the sail and the cube of the wind's velocity \\( V \\). When the velocity is \\( 8 \\) miles per hour, the pressure on a sail of \\( 2 \\) square feet is \\( 4 \\) pounds. Find the wind velocity when the pressure on \\( 4 \\) square feet of sail is \\( 32 \\) pounds. Let's think step by step and output the final answer within \\boxed{}."
        ),
        "answer": .string("12.8"), "source": .string("deepscaler"), "index": .integer(124),
    ])

    /// Synthetic responses: seeded filler text of `characters` bytes, half ending with the right box.
    static func responses(count: Int, characters: Int, seed: UInt64) -> [String] {
        var rng = SeededGenerator(seed: seed)
        let words = [
            "the", "pressure", "is", "proportional", "to", "area", "and", "velocity", "cubed", "so", "we", "get",
            "$k = \\frac{1}{256}$", "then", "$V^3 = 2048$", "hence", "step", "by", "solving", "for",
        ]
        return (0..<count).map { n in
            let tail =
                n % 2 == 0 ? " The final answer is $\\boxed{12.8}$." : " So the answer is $\\boxed{8\\sqrt[3]{4}}$."
            var s = ""
            s.reserveCapacity(characters + 16)
            while s.utf8.count < characters - tail.utf8.count {
                s += words[Int(rng.next() % UInt64(words.count))] + " "
            }
            let filler = String(s.utf8.prefix(characters - tail.utf8.count)) ?? s
            return filler + tail
        }
    }

    /// Runs `repeats` measurements; each calls every path once per response (N calls), in batches.
    /// Rewards grade with the product's verifier (`HostServices.standard()`) under `profile`.
    public static func run(
        responses count: Int = 1024, characters: Int = 3000, repeats: Int = 3,
        profile: String = "paper"
    ) throws -> LuaBenchReport {
        var services = HostServices.standard()
        services.log = { _ in }
        guard let grade = services.grade else { throw LuaError.state(message: "no verifier in the standard services") }
        let state = try LuaState(options: LuaOptions(), services: services)
        state.graderProfile = profile
        let reward = RewardPlugin(try loadValue(state, "return require 'rewards.boxed_equal'"))
        let format = RewardPlugin(try loadValue(state, "return require 'rewards.format'"))
        let empty = RewardPlugin(try loadValue(state, "return function(sample) return 0.0 end"))
        let prompt = PromptPlugin(try loadValue(state, "return require 'prompts.paper'"))
        let chat = ChatFormatPlugin(try loadValue(state, "return require('lib.chat').qwen25_math"))
        let loss = LossMixPlugin(try loadValue(state, "return require 'losses.paper'"))
        let table = state.makeTable(example)
        let texts = responses(count: count, characters: characters, seed: 7)
        let samples = texts.map {
            RewardSample(
                response: $0, answer: "12.8", problem: "", prompt: "", example: table, finishReason: "stop", tokens: 700
            )
        }
        let terms = Dictionary(uniqueKeysWithValues: knownLossTerms.map { ($0, 0.5) })
        var runs: [LuaBenchRun] = []
        var sink = 0.0
        // Warm-up pass (page in code, let the allocator settle).
        for s in samples.prefix(64) { sink += try reward(s, in: state).reward }
        // Each run walks the N responses in batches of 64 and times every path on the same batch
        // back to back, so that a burst of load from other processes hits all paths alike; a
        // figure is the median over batches of the per-call time.
        let batch = 64
        for _ in 0..<max(1, repeats) {
            let probe = CPUShareProbe()
            var times = [[Double]](repeating: [], count: 6)
            var start = 0
            while start < count {
                let range = start..<min(count, start + batch)
                times[0].append(try timePerCall(range) { i in sink += try reward(samples[i], in: state).reward })
                times[1].append(
                    try timePerCall(range) { i in sink += try grade(texts[i], "12.8", profile).correct ? 1 : 0 })
                times[2].append(try timePerCall(range) { i in sink += try empty(samples[i], in: state).reward })
                times[3].append(try timePerCall(range) { i in sink += try format(samples[i], in: state).reward })
                times[4].append(
                    try timePerCall(range) { _ in
                        sink += Double(
                            try RecipeLoader.renderPrompt(prompt, chatFormat: chat, example: table, state: state).utf8
                                .count)
                    })
                times[5].append(
                    try timePerCall(range) { i in sink += try loss(step: i, terms: terms, in: state)["pg"] ?? 0 })
                start += batch
            }
            let m = times.map { VerityBench.median($0) }
            runs.append(
                LuaBenchRun(
                    rewardMicros: m[0], directGradeMicros: m[1], emptyRewardMicros: m[2],
                    formatRewardMicros: m[3], promptMicros: m[4], lossMixMicros: m[5],
                    otherCPUShare: probe.otherProcessesShare() ?? 0))
        }
        if sink.isNaN { throw LuaError.state(message: "benchmark produced NaN") }
        return LuaBenchReport(
            responses: count, characters: characters, runs: runs, grader: "verity.math.grade, profile \(profile)")
    }

    static func loadValue(_ state: LuaState, _ source: String) throws -> LuaFunction {
        let chunk = try state.load(source: source, name: "=[bench]")
        guard case .function(let f) = try state.call(chunk).first ?? .nil else {
            throw LuaError.state(message: "benchmark chunk did not return a function: \(source)")
        }
        return f
    }

    static func timePerCall(_ range: Range<Int>, _ body: (Int) throws -> Void) throws -> Double {
        let t0 = CPUShareProbe.now()
        for i in range { try body(i) }
        return (CPUShareProbe.now() - t0) * 1e6 / Double(range.count)
    }

}
