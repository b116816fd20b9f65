// `verity data synth`: write the seeded synthetic math task family (train, validation and test JSONL plus a
// README) into a folder. Flag parsing and printing only; the problems, splits and files are VerityData's.
import ArgumentParser
import Foundation
import VerityData

/// `verity data WHAT`: data sets Verity makes itself.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Data sets Verity makes itself.",
        subcommands: [DataSynth.self]
    )
}

/// `verity data synth --out DIR [--seed S] [--train N] [--validation N] [--test N] [--categories a,b] [--json]`.
struct DataSynth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract:
            "Write seeded synthetic arithmetic word problems with worked solutions (train/validation/test JSONL).",
        discussion: """
            The output is a pure function of the seed, the counts and the categories; the splits share no problem \
            text, and more training problems leave the test and validation splits unchanged. Categories: \
            \(SynthCategory.knownList).
            """
    )

    @Option(help: "The output folder (created if missing).") var out: String
    @Option(help: "The seed every problem's generator is derived from.") var seed: UInt64 = 1
    @Option(help: "Training problems (0 to \(SynthOptions.maxCount)).") var train = SynthOptions.defaultTrain
    @Option(help: "Validation problems (0 to \(SynthOptions.maxCount)).") var validation = SynthOptions
        .defaultValidation
    @Option(help: "Test problems (1 to \(SynthOptions.maxCount)).") var test = SynthOptions.defaultTest
    @Option(help: "Comma-separated categories, assigned round-robin in this order.") var categories =
        SynthCategory.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Extra training problems after the pool, written to sft.jsonl with a `response` field (0: none).")
    var sft = 0
    @Option(
        name: .customLong("plain-fraction"),
        help: "Share of sft.jsonl responses that end \"The answer is N.\" instead of \\boxed{N}.")
    var plainFraction = 0.5
    @Option(
        name: .customLong("plain-by-category"),
        help: "Per-category shares that replace --plain-fraction, e.g. mul_div=0.85,fractions=0.85.")
    var plainByCategory: String?
    @Option(
        name: .customLong("careful-fraction"),
        help: """
            Two response styles in sft.jsonl: this share "Step by step." (every step, then a "Recheck:" of the last), \
            the rest "Quick answer." (no steps). Omitted: one style.
            """)
    var carefulFraction: Double?
    @Option(
        name: .customLong("slip-fraction"),
        help: "With --careful-fraction: the share of careful responses whose last step slips and the recheck repairs.")
    var slipFraction = 0.25
    @Flag(help: "Print the summary as JSON.") var json = false

    /// The options the flags ask for (typed errors naming the flag).
    func options() throws -> SynthOptions {
        var options = SynthOptions(
            seed: seed, train: train, validation: validation, test: test,
            categories: try SynthCategory.parseList(categories))
        options.sft = sft
        options.plainFraction = plainFraction
        options.carefulFraction = carefulFraction
        options.slipFraction = slipFraction
        if let text = plainByCategory { options.plainByCategory = try SynthOptions.parsePlainByCategory(text) }
        try options.validate()
        return options
    }

    /// Checks the flags while parsing, so that an error prints this subcommand's usage.
    func validate() throws {
        do { _ = try options() } catch let error as SynthError { throw ValidationError(error.description) }
    }

    func run() throws {
        let dataset = try SynthDataset.generate(try options())
        try dataset.write(to: URL(fileURLWithPath: out), outPath: out)
        print(json ? dataset.summaryJSON(outPath: out) : dataset.summaryLine(outPath: out))
    }
}
