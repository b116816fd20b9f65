// `verity import gguf FILE.gguf --out DIR [--dtype f32|bf16]`: a llama.cpp GGUF model written as a Hugging Face folder.
// Parsing and printing only; the work is VerityModel.GGUFImport.
import ArgumentParser
import Foundation
import VerityModel

/// `verity import WHAT`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Bring models from other formats in.", subcommands: [ImportGGUF.self])
}

/// `verity import gguf`.
struct ImportGGUF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf",
        abstract: "Write a GGUF model (llama, qwen2, qwen3; byte-level BPE tokenizer) as a Hugging Face folder.",
        discussion: """
            Dequantises F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K tensors, undoes \
            llama.cpp's rotary permutation of llama's q and k, and builds tokenizer.json and tokenizer_config.json (with \
            the chat template) from the tokenizer.ggml.* metadata. Nothing is written when any part is unsupported.
            """)

    @Argument(help: "The .gguf file.") var file: String
    @OptionGroup var output: ModelFolderOutput

    func run() throws {
        let start = Date()
        let showProgress = isatty(2) != 0
        var lastShown = -1
        let summary = try GGUFImport.write(
            file: URL(fileURLWithPath: file), to: output.url, dtype: output.safetensorsDType
        ) { k, n, _ in
            let percent = 100 * k / max(n, 1)
            if showProgress && percent / 10 != lastShown / 10 {
                lastShown = percent
                FileHandle.standardError.write(Data("\rwriting tensors: \(k)/\(n)".utf8))
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let types = summary.types.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(
            "imported \(file) -> \(output.out): \(summary.architecture), \(summary.layers) layers, "
                + "\(summary.parameters) parameters (\(types)) as \(output.dtype), vocabulary \(summary.vocabulary) "
                + "(pre-tokenizer \(summary.preTokenizer)\(summary.hasChatTemplate ? ", chat template" : "")) "
                + "in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        if summary.wantsBOS {
            print(
                "note: this model expects a BOS token before every text (tokenizer.ggml.add_bos_token); Verity does not add one, so put it in the prompt template"
            )
        }
    }
}
