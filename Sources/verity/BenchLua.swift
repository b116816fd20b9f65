// `verity bench lua [--json]`: the Lua overhead benchmark (reward calls on 1,024 responses of
// 3,000 characters, prompt renders, loss-mix calls), in microseconds per call against limits
// measured in the same run. Flag parsing and printing only; the work is `LuaBenchmark` in VerityBench.
import VerityBench
import ArgumentParser
import Foundation
import VerityLua

/// `verity bench lua`: Lua call overhead per reward, prompt and loss mix.
struct BenchLua: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lua",
        abstract: "Lua overhead: reward calls (grading included), prompt renders, loss-mix calls.")

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Responses per step.")
    var responses = 1024

    @Option(help: "Characters per response.")
    var chars = 3000

    @Option(help: "Grader profile of the reward (paper, qwen-eval, math-verify, verity).")
    var profile = "paper"

    @Option(help: "Repeats (medians are reported).")
    var repeats = 3

    func run() throws {
        let report: LuaBenchReport
        do {
            report = try LuaBenchmark.run(responses: responses, characters: chars, repeats: repeats, profile: profile)
        } catch let error as LuaError {
            FileHandle.standardError.write(Data("verity bench lua: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            print(report.json)
            return
        }
        let reward = report.median(\.rewardMicros), direct = report.median(\.directGradeMicros)
        print(
            String(
                format:
                    "reward call (grading included): %.2f us  (goal %.0f us: ratio %.3f; %.2f ms per %d-response step)",
                reward, report.goalMicros, reward / report.goalMicros, reward * Double(report.responses) / 1000,
                report.responses))
        print(
            String(
                format:
                    "  same grading called from Swift: %.2f us (Lua adds %.2f us, ratio %.2f); empty Lua reward %.2f us",
                direct, reward - direct, reward / direct, report.median(\.emptyRewardMicros)))
        print(String(format: "format reward (pure Lua): %.2f us", report.median(\.formatRewardMicros)))
        print(String(format: "prompt render (prompt + chat format): %.2f us", report.median(\.promptMicros)))
        print(String(format: "loss-mix call: %.2f us", report.median(\.lossMixMicros)))
        print(
            String(
                format: "other processes used %.1f%% of the CPU during the runs (median)",
                100 * report.median(\.otherCPUShare)))
    }
}
