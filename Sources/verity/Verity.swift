// The `verity` command line: a thin layer over the libraries. Each subcommand lives in its own
// file and only parses flags, calls a library and prints; no training or numeric logic here.
import VerityBench
import ArgumentParser

@main
struct Verity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verity",
        abstract: "Reinforcement learning with verifiable reward on language models.",
        subcommands: [
            Inspect.self,
            Score.self,
            Generate.self,
            Tokenize.self,
            Detokenize.self,
            Check.self,
            GradeCommand.self,
            Losses.self,
            Train.self,
            Eval.self,
            ReportCommand.self,
            Bench.self,
        ]
    )
}

/// `verity bench WHAT`: benchmarks that print JSON figures measured against a limit taken in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (JSON with --json), each against a limit measured in the same run.",
        subcommands: [
            BenchModel.self,
            BenchSample.self,
            BenchTokenizer.self,
            BenchLua.self,
            BenchVerify.self,
            BenchTrain.self,
        ]
    )
}
