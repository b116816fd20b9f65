// GGUFImport: `verity import gguf FILE --out DIR` (issue 27). A GGUF file becomes a Hugging Face folder that Verity and
// transformers load: config.json and generation_config.json from the metadata (GGUFModel), model.safetensors streamed
// tensor by tensor (dequantised, llama's q/k un-permuted, written in f32 or bf16 by the safetensors writer), and
// tokenizer.json + tokenizer_config.json with the chat template (GGUFTokenizer). Everything that can be refused (the
// architecture, a tensor type, the tokenizer model or pre-tokenizer, a missing tensor) is checked before a byte is
// written; the folder is built beside DIR under a temporary name, its tokenizer and config read back, and only then
// renamed into place, so a failure leaves nothing behind.
import Foundation
import VerityJSON
import VerityTensor
import VerityTokenizer

/// Writes a GGUF model as a Hugging Face folder.
public enum GGUFImport {
    /// What was imported.
    public struct Summary: Sendable {
        public let architecture: String
        public let layers: Int
        public let parameters: Int
        /// Tensors by their type in the file (e.g. "Q4_1": 210).
        public let types: [String: Int]
        public let preTokenizer: String
        public let vocabulary: Int
        public let hasChatTemplate: Bool
        /// The file asks for a BOS token in front of every text (`tokenizer.ggml.add_bos_token`); Verity does not add
        /// one, so a prompt template must.
        public let wantsBOS: Bool
    }

    /// Imports `file` into `out` (which must not exist, or be empty). `progress(k, n, name)` is called before
    /// tensor k of n.
    @discardableResult
    public static func write(
        file: URL, to out: URL, dtype: SafeTensorsDType, progress: ((Int, Int, String) -> Void)? = nil
    ) throws -> Summary {
        let fm = FileManager.default
        if fm.fileExists(atPath: out.path), !((try? fm.contentsOfDirectory(atPath: out.path))?.isEmpty ?? false) {
            throw ModelError.writeFailed(file: out.path, detail: "the folder exists and is not empty")
        }
        let f = try GGUFFile(url: file)
        let config = try GGUFModel.config(f)
        let plan = try GGUFModel.plan(f)
        let tokenizer = try GGUFTokenizer.files(f)

        let tmp = out.deletingLastPathComponent().appendingPathComponent(".\(out.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
            try writeJSON(config, to: tmp.appendingPathComponent("config.json"))
            var generation: [String: Any] = [:]
            for key in ["bos_token_id", "eos_token_id"] { generation[key] = config[key] }
            if let pad = f.metadata["tokenizer.ggml.padding_token_id"]?.intValue { generation["pad_token_id"] = pad }
            try writeJSON(generation, to: tmp.appendingPathComponent("generation_config.json"))
            try AtomicFile.write(Data(tokenizer.tokenizerJSON.utf8), to: tmp.appendingPathComponent("tokenizer.json"))
            try AtomicFile.write(
                Data(tokenizer.tokenizerConfig.utf8), to: tmp.appendingPathComponent("tokenizer_config.json"))
            try SafeTensorsWriter.write(
                layout: plan.map { ($0.name, $0.shape) }, to: tmp.appendingPathComponent("model.safetensors"),
                dtype: dtype, metadata: ["source": "gguf: \(file.lastPathComponent)"],
                produce: { k in
                    progress?(k, plan.count, plan[k].name)
                    return try GGUFModel.tensor(f, plan[k])
                })
            // Read back what Verity will read: the tokenizer files and the config.
            _ = try Tokenizer(folder: tmp)
            _ = try ModelConfig.load(from: tmp.appendingPathComponent("config.json"))
            if fm.fileExists(atPath: out.path) { try fm.removeItem(at: out) }
            try fm.moveItem(at: tmp, to: out)
        } catch {
            try? fm.removeItem(at: tmp)
            if error is ModelError || error is GGUFError || error is TokenizerError { throw error }
            throw ModelError.writeFailed(file: out.path, detail: error.localizedDescription)
        }
        var types: [String: Int] = [:]
        for e in plan { types[e.info.type.name, default: 0] += 1 }
        return Summary(
            architecture: config["model_type"] as? String ?? "", layers: config["num_hidden_layers"] as? Int ?? 0,
            parameters: plan.reduce(0) { $0 + $1.info.count }, types: types,
            preTokenizer: f.metadata["tokenizer.ggml.pre"]?.stringValue ?? "default",
            vocabulary: f.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count ?? 0,
            hasChatTemplate: f.metadata["tokenizer.chat_template"]?.stringValue != nil,
            wantsBOS: f.metadata["tokenizer.ggml.add_bos_token"]?.boolValue ?? false)
    }

    static func writeJSON(_ object: [String: Any], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data + Data("\n".utf8), to: url)
    }
}
