// `verity tokenizer train`: a thin wrapper over VerityTokenizer's BPETrainer. It parses flags, reads
// the JSONL fields, trains, writes tokenizer.json + tokenizer_config.json, reloads them to measure
// bytes per token on the training text, and prints a summary. All logic lives in the library.
import ArgumentParser
import Foundation
import VerityJSON
import VerityTokenizer

/// `verity tokenizer ...`: tokenizer tools (training; `tokenize` and `detokenize` stay top-level).
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer tools.",
        subcommands: [TokenizerTrain.self])
}

/// `verity tokenizer train --data F.jsonl[,G.jsonl] [--fields a,b] --vocab-size N --out DIR [--special T ...]`.
struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE tokenizer and write it as a Hugging Face tokenizer.json.",
        discussion: """
            Texts are pre-tokenized as Qwen2 does (NFC, its split pattern, one digit per token); merges \
            start from the 256 byte symbols. --vocab-size counts the byte symbols, the merges and the \
            special tokens. The first special token is eos and pad in tokenizer_config.json.
            """)

    @Option(help: "JSON Lines files, comma-separated.")
    var data: String

    @Option(help: "String fields of each line to train on, comma-separated (none: each line is a JSON string).")
    var fields: String?

    @Option(help: "Total vocabulary size: 256 byte symbols + merges + special tokens.")
    var vocabSize: Int

    @Option(help: "Folder to write tokenizer.json and tokenizer_config.json into (created when missing).")
    var out: String

    @Option(
        name: .customLong("special"),
        help: "A special token (repeatable; default <|endoftext|> <|im_start|> <|im_end|>).")
    var specials: [String] = []

    @Option(help: "Pairs seen fewer times than this are never merged.")
    var minFrequency = 2

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        let count = (specials.isEmpty ? BPETrainer.defaultSpecialTokens : specials).count
        let minimum = BPETrainer.minimumVocabularySize(specialTokens: count)
        guard vocabSize >= minimum else {
            throw ValidationError(
                "--vocab-size \(vocabSize) is below the minimum \(minimum) (256 byte symbols + \(count) special tokens)"
            )
        }
        guard minFrequency >= 1 else { throw ValidationError("--min-frequency \(minFrequency) must be at least 1") }
        guard !files.isEmpty else { throw ValidationError("--data names no file") }
        if let fields, fieldList.contains("") {
            throw ValidationError("--fields \(fields.debugDescription) holds an empty field name")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isFolder), !isFolder.boolValue {
            throw ValidationError("--out \(out) exists and is not a folder")
        }
    }

    private var files: [String] {
        data.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private var fieldList: [String] {
        guard let fields else { return [] }
        return fields.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    func run() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        var trainer = try BPETrainer(
            vocabularySize: vocabSize, specialTokens: specials.isEmpty ? BPETrainer.defaultSpecialTokens : specials,
            minFrequency: minFrequency)
        var texts: [String] = []
        for file in files {
            texts.append(contentsOf: try BPETrainer.texts(jsonl: URL(fileURLWithPath: file), fields: fieldList))
        }
        trainer.add(contentsOf: texts)
        let trained = try trainer.train()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let folder = URL(fileURLWithPath: out)
        let written = try trained.write(to: folder)
        let tokens = try VerityTokenizer.Tokenizer(folder: folder).tokenCount(of: texts)
        let bytesPerToken = tokens > 0 ? Double(trainer.byteCount) / Double(tokens) : 0
        if json {
            let specialList = trained.specialTokens.map(jsonStringLiteral).joined(separator: ",")
            let fileList = written.map { jsonStringLiteral($0.path) }.joined(separator: ",")
            print(
                "{\"vocab_size\":\(trained.vocabularySize),\"requested_vocab_size\":\(vocabSize),"
                    + "\"merges\":\(trained.merges.count),\"special_tokens\":[\(specialList)],"
                    + "\"texts\":\(trainer.textCount),\"bytes\":\(trainer.byteCount),\"tokens\":\(tokens),"
                    + "\"bytes_per_token\":\(bytesPerToken),\"train_seconds\":\(seconds),\"files\":[\(fileList)]}")
            return
        }
        print(
            "trained on \(trainer.textCount) texts (\(trainer.byteCount) bytes) from \(files.count) file(s) in "
                + String(format: "%.2f s", seconds))
        print(
            "vocabulary \(trained.vocabularySize) (256 byte symbols + \(trained.vocabulary.count - 256) merged tokens"
                + " + \(trained.specialTokens.count) special tokens), \(trained.merges.count) merges")
        if trained.vocabularySize < vocabSize {
            print(
                "note: stopped below --vocab-size \(vocabSize): no pair left is seen at least \(minFrequency) times"
                    + " (--min-frequency)")
        }
        print("compression \(String(format: "%.3f", bytesPerToken)) bytes per token (\(tokens) tokens)")
        for url in written { print("wrote \(url.path)") }
    }
}
