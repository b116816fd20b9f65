// `verity inspect MODEL_DIR [--json]`: model type, dimensions, layer count, vocabulary, tying,
// on-disk dtype and parameter count of a Hugging Face model folder. Parsing and printing only;
// the work is VerityModel.ModelInspection.
import ArgumentParser
import Foundation
import VerityModel

/// `verity inspect MODEL_DIR [--json]`.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a Hugging Face model folder (config.json + safetensors).")

    @Argument(help: "The model folder.") var modelDir: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let info = try ModelInspection.inspect(directory: URL(fileURLWithPath: modelDir))
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(info), as: UTF8.self))
        } else {
            print(
                """
                model_type:        \(info.model_type)
                hidden_size:       \(info.hidden_size)
                intermediate_size: \(info.intermediate_size)
                layers:            \(info.num_hidden_layers)
                heads:             \(info.num_attention_heads) (KV \(info.num_key_value_heads), head_dim \(info.head_dim))
                vocab_size:        \(info.vocab_size)
                tied embeddings:   \(info.tie_word_embeddings)
                dtype on disk:     \(info.dtype)
                parameters:        \(info.parameters)
                """)
        }
    }
}
