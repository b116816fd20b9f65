// The `verity` command line: a thin layer over the libraries. Each subcommand lives in its own
// file and only parses flags, calls a library and prints; no training or numeric logic here.
import VerityBench
import VerityDistributed
import ArgumentParser
import Foundation

@main
struct Verity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verity",
        abstract: "Reinforcement learning with verifiable reward on language models.",
        subcommands: [
            Inspect.self,
            ModelCommand.self,
            Score.self,
            Merge.self,
            ImportCommand.self,
            Generate.self,
            Tokenize.self,
            Detokenize.self,
            TokenizerCommand.self,
            Check.self,
            GradeCommand.self,
            Losses.self,
            Train.self,
            SFTCommand.self,
            Select.self,
            Eval.self,
            ReportCommand.self,
            Bench.self,
            DataCommand.self,
        ]
    )

    /// Parses and runs like ArgumentParser's own `main`, except that an error a subcommand throws
    /// from `run()` (a ValidationError on a flag's value, a bad file) is reported with that
    /// subcommand's usage rather than the root's "verity <subcommand>".
    static func main() async {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        // Only `verity train` is data-parallel. Any other command started as several MPI ranks would run whole in
        // each (and write the same files): refuse before it starts.
        if (Communicators.launchedSize() ?? 1) > 1 && !(command is Train) && !(command is SFTCommand) {
            FileHandle.standardError.write(
                Data(
                    "Error: verity \(type(of: command)._commandName) runs in one process; under mpirun or srun only `verity train` is data-parallel (start it with -np 1)\n"
                        .utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            guard error is ValidationError else { exit(withError: error) }
            let leaf = type(of: command)._commandName
            let name = (commandPath(to: type(of: command)) ?? [leaf]).joined(separator: " ")
            var usage = type(of: command).usageString()
            if usage.hasPrefix(leaf) { usage.removeFirst(leaf.count) }
            let message =
                "Error: \((error as? ValidationError)?.message ?? "\(error)")\nUsage: verity \(name)\(usage.hasPrefix(" ") || usage.isEmpty ? "" : " ")\(usage)\n  See 'verity \(name) --help' for more information.\n"
            FileHandle.standardError.write(Data(message.utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}

/// The subcommand names from `root` down to `target` ("bench", "train"), or nil when it is not below `root`.
func commandPath(to target: ParsableCommand.Type, under root: ParsableCommand.Type = Verity.self) -> [String]? {
    for sub in root.configuration.subcommands {
        if ObjectIdentifier(sub) == ObjectIdentifier(target) { return [sub._commandName] }
        if let rest = commandPath(to: target, under: sub) { return [sub._commandName] + rest }
    }
    return nil
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
            BenchEval.self,
        ]
    )
}
