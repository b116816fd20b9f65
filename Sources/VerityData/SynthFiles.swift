// SynthFiles: a SynthDataset as files: `train.jsonl`, `validation.jsonl`, `test.jsonl` (one JSON object per line in
// the paper's schema plus `solution` and `category`, keys in a fixed order, so the bytes are a pure function of the
// options) and a README.md stating the seed, the counts, the categories and the command that regenerates the folder;
// every file written through AtomicFile. Also the one-line and JSON summaries the command prints. Not here: drawing
// the problems (SynthDataset.swift).
import Foundation
import VerityCore
import VerityJSON

// MARK: - Records

extension SynthProblem {
    /// The record as one JSON line (no newline): id, problem, prompt (= problem), answer, solution, source, index,
    /// category.
    public var jsonLine: String {
        let fields: [(String, String)] = [
            ("id", jsonStringLiteral(id)), ("problem", jsonStringLiteral(problem)),
            ("prompt", jsonStringLiteral(problem)), ("answer", jsonStringLiteral(answer)),
            ("solution", jsonStringLiteral(solution)), ("source", jsonStringLiteral(SynthDataset.source)),
            ("index", String(index)), ("category", jsonStringLiteral(category.rawValue)),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
}

// MARK: - Files

extension SynthDataset {
    /// The JSONL text of `split` (one record per line, each ending in a newline).
    public func jsonl(_ split: SynthSplit) -> String {
        problems(split).map { $0.jsonLine + "\n" }.joined()
    }

    /// The command that regenerates this data set into `outPath`, every option spelled out.
    public func command(outPath: String) -> String {
        let o = options
        return
            "verity data synth --out \(outPath) --seed \(o.seed) --train \(o.train) --validation \(o.validation) --test \(o.test) --categories \(o.categories.map(\.rawValue).joined(separator: ","))"
            + (o.sft > 0 ? " --sft \(o.sft) --plain-fraction \(o.plainFraction)" : "")
            + (o.sft > 0 && !o.plainByCategory.isEmpty ? " --plain-by-category \(o.plainByCategoryText)" : "")
            + (o.sft > 0 && o.carefulFraction != nil
                ? " --careful-fraction \(o.carefulFraction!) --slip-fraction \(o.slipFraction)" : "")
    }

    /// The README.md of the output folder, naming the folder `outPath` in the regeneration command.
    public func readme(outPath: String) -> String {
        let cats = options.categories
        var rows = [
            "| split | file | problems | " + cats.map { "`\($0.rawValue)`" }.joined(separator: " | ") + " |",
            "|---|---|---|" + String(repeating: "---|", count: cats.count),
        ]
        for split in SynthSplit.allCases {
            rows.append(
                "| \(split.rawValue) | `\(split.fileName)` | \(problems(split).count) | "
                    + cats.map { String(count(split, $0)) }.joined(separator: " | ") + " |")
        }
        let categoryLines = cats.map { "- `\($0.rawValue)`: \($0.summary)" }
        return """
            # Synthetic arithmetic word problems

            Written by `verity data synth` (module `VerityData`); do not edit by hand. Seed \(options.seed). \
            Regenerate, byte for byte, from the repository root with:

            ```
            \(command(outPath: outPath))
            ```

            \(rows.joined(separator: "\n"))

            Categories, assigned round-robin by index in this order:

            \(categoryLines.joined(separator: "\n"))

            Each line of a `.jsonl` file is one JSON object with the keys `id` (`demo-<split>-<index>`), `problem`, \
            `prompt` (equal to `problem`), `answer` (the content of the solution's final `\\boxed{}`: an integer, or \
            a reduced `\\frac{a}{b}`), `solution` (one line per step, the arithmetic written out as `a op b = c` with \
            `+ - * /`, the last line `The answer is \\boxed{answer}.`), `source` (`\(SynthDataset.source)`), `index` \
            (position in the split, from 0) and `category`.

            Every problem is drawn by its own generator, seeded from (seed, split, index), so a larger training pool \
            leaves the test and validation splits unchanged and begins with the smaller pool. The test split is drawn \
            first, then validation, then train, each skipping any problem text already drawn: the splits share no \
            problem text.\(sft.isEmpty ? "" : sftNote)

            """
    }

    /// The README's paragraph on sft.jsonl.
    var sftNote: String {
        "\n\n`sft.jsonl` (\(sft.count) problems) continues the training split after the pool (indices "
            + "\(options.train) on), so it shares no problem text with the splits; each record adds `response`: a "
            + "space, then the solution, whose last line states the answer without `\\boxed{}` (\"The answer is 19.\") "
            + "for \(sft.filter(isPlain).count) of them (`--plain-fraction \(options.plainFraction)`"
            + (options.plainByCategory.isEmpty ? "" : ", `--plain-by-category \(options.plainByCategoryText)`")
            + ", a coin seeded by each problem\(plainCounts))." + styleNote + " It is the corpus the demo base model is fine-tuned on "
            + "(`verity sft`)."
    }

    /// The README's sentences on the careful and hasty styles (empty for a one-style corpus).
    var styleNote: String {
        guard let careful = options.carefulFraction else { return "" }
        let c = sft.filter { style($0) == .careful }
        return " Responses come in two styles, chosen by a second coin (`--careful-fraction \(careful)`): "
            + "\(c.count) are *careful* (\"Step by step.\", every step, then \"Recheck:\" and the last step's expression "
            + "recomputed; in \(c.filter(slips).count) of them the last step slips and the recheck repairs it, "
            + "`--slip-fraction \(options.slipFraction)`) and \(sft.count - c.count) are *hasty* (\"Quick answer.\", then "
            + "the answer with no steps)."
    }

    /// Plain answers by category (`; by category: add_sub 10 of 67, ...`), when shares differ by category.
    var plainCounts: String {
        guard !options.plainByCategory.isEmpty else { return "" }
        let parts = options.categories.map { c -> String in
            let all = sft.filter { $0.category == c }
            return "\(c.rawValue) \(all.filter(isPlain).count) of \(all.count)"
        }
        return "; by category: " + parts.joined(separator: ", ")
    }

    /// Writes the three JSONL files and README.md into `directory` (created if missing), each atomically; the
    /// README's command names `outPath` (the folder as the user wrote it; its path by default). Returns the files.
    @discardableResult
    public func write(to directory: URL, outPath: String? = nil) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(
                file: directory.path, detail: "cannot create the folder: \(error.localizedDescription)")
        }
        var files: [URL] = []
        for split in SynthSplit.allCases {
            let url = directory.appendingPathComponent(split.fileName)
            try AtomicFile.write(Data(jsonl(split).utf8), to: url)
            files.append(url)
        }
        if !sft.isEmpty {
            let url = directory.appendingPathComponent("sft.jsonl")
            let text = sft.map { p -> String in
                String(p.jsonLine.dropLast()) + ", \"response\": \(jsonStringLiteral(response(p)))}\n"
            }.joined()
            try AtomicFile.write(Data(text.utf8), to: url)
            files.append(url)
        }
        let readmeURL = directory.appendingPathComponent("README.md")
        try AtomicFile.write(Data(readme(outPath: outPath ?? directory.path).utf8), to: readmeURL)
        files.append(readmeURL)
        return files
    }

    // MARK: Summaries

    /// One line: counts per split, then per category train/validation/test.
    public func summaryLine(outPath: String) -> String {
        let splits = SynthSplit.allCases.reversed().map { "\($0.rawValue) \(problems($0).count)" }
        let cats = options.categories.map { c in
            "\(c.rawValue) " + SynthSplit.allCases.reversed().map { String(count($0, c)) }.joined(separator: "/")
        }
        return
            "\(outPath): \(splits.joined(separator: ", ")) (seed \(options.seed); per category train/validation/test: \(cats.joined(separator: ", ")))"
    }

    /// The summary as one JSON object: out, seed, and per split its count and counts per category.
    public func summaryJSON(outPath: String) -> String {
        var splits: [String: JSONValue] = [:]
        for split in SynthSplit.allCases {
            var perCategory: [String: JSONValue] = [:]
            for c in options.categories { perCategory[c.rawValue] = .integer(Int64(count(split, c))) }
            splits[split.rawValue] = .object([
                "count": .integer(Int64(problems(split).count)), "categories": .object(perCategory),
                "file": .string(split.fileName),
            ])
        }
        let value = JSONValue.object([
            "out": .string(outPath),
            "seed": Int64(exactly: options.seed).map { .integer($0) } ?? .string(String(options.seed)),
            "splits": .object(splits),
            "categories": .array(options.categories.map { .string($0.rawValue) }),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
