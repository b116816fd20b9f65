// `verity model init --config config.json --tokenizer DIR --out DIR [--seed S] [--std 0.02]`: a randomly
// initialised model folder (Hugging Face layout) from a config, with a tokenizer's files and a
// generation_config.json, as the first step of building a model from scratch (the embedded demo
// model is built this way). Parsing and printing only; the initialisation is TransformerModel.random.
import ArgumentParser
import Foundation
import VerityCore
import VerityJSON
import VerityModel
import VerityTokenizer

/// `verity model ...`.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Make model folders.", subcommands: [ModelInit.self])
}

/// `verity model init`.
struct ModelInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "A randomly initialised model folder from a config.json and a tokenizer folder.")

    @Option(help: "config.json of the model (Hugging Face keys; model_type qwen2, llama or qwen3).") var config: String
    @Option(help: "A folder with tokenizer.json (and tokenizer_config.json); its files are copied.") var tokenizer:
        String
    @Option(help: "The folder to write (must not exist or be empty).") var out: String
    @Option(help: "Seed of the initialisation.") var seed: UInt64 = 1
    @Option(help: "Standard deviation of the weight matrices (biases 0, norm gains 1).") var std: Float = 0.02

    func validate() throws {
        guard std > 0, std.isFinite, std <= 1 else {
            throw ValidationError("--std \(std): expected a number in (0, 1]")
        }
    }

    func run() throws {
        let fm = FileManager.default
        let c = try ModelConfig.load(from: URL(fileURLWithPath: config))
        let tokDir = URL(fileURLWithPath: tokenizer)
        let tok = try Tokenizer(folder: tokDir)
        guard tok.vocabularySize <= c.vocabSize else {
            throw ValidationError(
                "\(config): vocab_size \(c.vocabSize) is smaller than the tokenizer's \(tok.vocabularySize) tokens (\(tokenizer))"
            )
        }
        if let tokenizerEOS = tok.eosTokenID, !c.eosTokenIds.isEmpty, !c.eosTokenIds.contains(tokenizerEOS) {
            throw ValidationError(
                "\(config): eos_token_id \(c.eosTokenIds) does not name the tokenizer's end-of-text token \(tokenizerEOS) (\(tokenizer)); sampling would stop on an ordinary token"
            )
        }
        let dir = URL(fileURLWithPath: out)
        if let items = try? fm.contentsOfDirectory(atPath: dir.path), !items.isEmpty {
            throw ValidationError("--out \(out): the folder exists and is not empty")
        }
        // Built in a temporary folder beside the target, then renamed into place.
        let tmp = dir.deletingLastPathComponent().appendingPathComponent(".\(dir.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        var gen = SeededGenerator(seed: seed)
        let model = TransformerModel.random(config: c, std: std, generator: &gen)
        try model.save(to: tmp, dtype: .f32)
        for f in ["tokenizer.json", "tokenizer_config.json"]
        where fm.fileExists(atPath: tokDir.appendingPathComponent(f).path) {
            try fm.copyItem(at: tokDir.appendingPathComponent(f), to: tmp.appendingPathComponent(f))
        }
        let eos = c.eosTokenIds.isEmpty ? (tok.eosTokenID.map { [$0] } ?? []) : c.eosTokenIds
        let generation =
            "{\n  \"eos_token_id\": [" + eos.map(String.init).joined(separator: ", ")
            + "],\n  \"do_sample\": false\n}\n"
        try AtomicFile.write(Data(generation.utf8), to: tmp.appendingPathComponent("generation_config.json"))
        if fm.fileExists(atPath: dir.path) { try fm.removeItem(at: dir) }
        try fm.moveItem(at: tmp, to: dir)
        print(
            "\(out): \(c.modelType), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize), "
                + "\(model.parameterCount) parameters (seed \(seed), std \(std))")
    }
}
