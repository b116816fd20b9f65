// GGUFTokenizer: the tokenizer a GGUF file describes, written as the Hugging Face files (issue 27). llama.cpp keeps
// the vocabulary in `tokenizer.ggml.*` metadata: the tokens in id order, their types (1 normal, 2 unknown, 3 control,
// 4 user-defined, 5 unused, 6 byte), the BPE merges, bos/eos/unk/pad ids, and the name of the pre-tokenizer
// (`tokenizer.ggml.pre`), whose regex lives in llama.cpp's code. Only byte-level BPE (`tokenizer.ggml.model` =
// "gpt2") is read, with the pre-tokenizers Verity's tokenizer matches exactly; anything else is an error that names
// it, raised before a file is written. As in llama.cpp: control tokens are special added tokens, user-defined ones
// plain added tokens, the Llama-3 family ignores merges for a piece that is a whole token, and there is no
// normalizer. The chat template (`tokenizer.chat_template`) goes into tokenizer_config.json.
import Foundation
import VerityJSON
import VerityTokenizer

/// The Hugging Face tokenizer files of a GGUF file.
public enum GGUFTokenizer {
    static let qwen2Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// What a pre-tokenizer name of llama.cpp (`tokenizer.ggml.pre`) means in tokenizer.json.
    enum PreTokenizer {
        case split(regex: String, ignoreMerges: Bool)
        case gpt2
        case digitsThenGPT2
    }

    /// The `tokenizer.ggml.pre` values Verity imports (llama.cpp's llama-vocab.cpp gives each its regex).
    static let preTokenizers: [String: PreTokenizer] = [
        "qwen2": .split(regex: qwen2Split, ignoreMerges: false),
        "deepseek-r1-qwen": .split(regex: qwen2Split, ignoreMerges: false),
        "llama-bpe": .split(regex: llama3Split, ignoreMerges: true),
        "llama3": .split(regex: llama3Split, ignoreMerges: true),
        "llama-v3": .split(regex: llama3Split, ignoreMerges: true),
        "falcon3": .split(regex: llama3Split, ignoreMerges: true),
        "smaug-bpe": .split(regex: llama3Split, ignoreMerges: false),
        "dbrx": .split(regex: llama3Split, ignoreMerges: false),
        "gpt-2": .gpt2,
        "smollm": .digitsThenGPT2,
    ]

    /// The names of `preTokenizers`, for errors.
    public static var supportedPreTokenizers: [String] { preTokenizers.keys.sorted() }

    /// The files, as text: tokenizer.json and tokenizer_config.json. Checks everything first (a file Verity cannot
    /// read fails here, before anything is written).
    public static func files(_ f: GGUFFile) throws -> (tokenizerJSON: String, tokenizerConfig: String) {
        let md = f.metadata
        guard let model = md["tokenizer.ggml.model"]?.stringValue else {
            throw GGUFError(f.path, "no tokenizer.ggml.model: the file carries no tokenizer")
        }
        guard model == "gpt2" else {
            throw GGUFError(
                f.path,
                "tokenizer.ggml.model \"\(model)\" is not supported: Verity reads byte-level BPE (\"gpt2\"), not SentencePiece (\"llama\") or others"
            )
        }
        let preName = md["tokenizer.ggml.pre"]?.stringValue ?? "default"
        guard let pre = preTokenizers[preName] else {
            throw GGUFError(
                f.path,
                "tokenizer.ggml.pre \"\(preName)\" is not supported (\(supportedPreTokenizers.joined(separator: ", ")) are)")
        }
        guard let tokenValues = md["tokenizer.ggml.tokens"]?.arrayValue, !tokenValues.isEmpty else {
            throw GGUFError(f.path, "tokenizer.ggml.tokens is missing or empty")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for (id, v) in tokenValues.enumerated() {
            guard let s = v.stringValue else { throw GGUFError(f.path, "tokenizer.ggml.tokens[\(id)] is not a string") }
            tokens.append(s)
        }
        var types = [Int](repeating: 1, count: tokens.count)
        if let tv = md["tokenizer.ggml.token_type"]?.arrayValue {
            guard tv.count == tokens.count else {
                throw GGUFError(
                    f.path, "tokenizer.ggml.token_type has \(tv.count) entries for \(tokens.count) tokens")
            }
            for (id, v) in tv.enumerated() {
                guard let t = v.intValue else {
                    throw GGUFError(f.path, "tokenizer.ggml.token_type[\(id)] is not an integer")
                }
                types[id] = t
            }
        }
        guard let mergeValues = md["tokenizer.ggml.merges"]?.arrayValue else {
            throw GGUFError(f.path, "tokenizer.ggml.merges is missing (byte-level BPE needs its merges)")
        }
        var merges: [String] = []
        merges.reserveCapacity(mergeValues.count)
        for (k, v) in mergeValues.enumerated() {
            guard let s = v.stringValue, s.split(separator: " ", omittingEmptySubsequences: false).count == 2 else {
                throw GGUFError(f.path, "tokenizer.ggml.merges[\(k)] is not two tokens separated by one space")
            }
            merges.append(s)
        }
        func specialID(_ key: String) throws -> Int? {
            guard let v = md["tokenizer.ggml.\(key)"] else { return nil }
            guard let id = v.intValue, id >= 0, id < tokens.count else {
                throw GGUFError(f.path, "tokenizer.ggml.\(key) = \(v) is not a token id (0..<\(tokens.count))")
            }
            return id
        }
        let bos = try specialID("bos_token_id"), eos = try specialID("eos_token_id")
        let unk = try specialID("unknown_token_id"), pad = try specialID("padding_token_id")

        // Tokens spelled outside the byte-level alphabet are respelled from their UTF-8 bytes (as transformers does);
        // a control token so spelled stays a plain vocabulary entry.
        var vocab = "{"
        var seen: [String: Int] = [:]
        var added: [String] = []
        for (id, raw) in tokens.enumerated() {
            let spelled = ByteLevel.bytes(ofToken: raw) != nil ? raw : ByteLevel.token(ofBytes: raw.utf8)
            if let other = seen[spelled] {
                throw GGUFError(f.path, "tokenizer.ggml.tokens: \(raw.debugDescription) appears at ids \(other) and \(id)")
            }
            seen[spelled] = id
            vocab += (id == 0 ? "" : ",") + "\(jsonStringLiteral(spelled)):\(id)"
            let special = types[id] == 3
            if (special && spelled == raw) || types[id] == 4 {
                added.append(
                    "{\"id\":\(id),\"content\":\(jsonStringLiteral(raw)),\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":\(special)}"
                )
            }
        }
        vocab += "}"
        let byteLevel = { (regex: Bool) in
            "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":\(regex)}"
        }
        let preJSON: String
        var ignoreMerges = false
        switch pre {
        case .split(let regex, let ignore):
            ignoreMerges = ignore
            preJSON =
                "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\(jsonStringLiteral(regex))},\"behavior\":\"Isolated\",\"invert\":false},\(byteLevel(false))]}"
        case .gpt2:
            preJSON = byteLevel(true)
        case .digitsThenGPT2:
            preJSON =
                "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},\(byteLevel(true))]}"
        }
        let mergesJSON = "[" + merges.map(jsonStringLiteral).joined(separator: ",") + "]"
        let tokenizerJSON = """
            {"version":"1.0","truncation":null,"padding":null,"added_tokens":[\(added.joined(separator: ","))],\
            "normalizer":null,"pre_tokenizer":\(preJSON),"post_processor":\(byteLevel(false)),"decoder":\(byteLevel(false)),\
            "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,\
            "fuse_unk":false,"byte_fallback":false,"ignore_merges":\(ignoreMerges),"vocab":\(vocab),"merges":\(mergesJSON)}}

            """

        var config: [String] = []
        func name(_ id: Int?) -> String { id.map { jsonStringLiteral(tokens[$0]) } ?? "null" }
        config.append("\"add_bos_token\": \(md["tokenizer.ggml.add_bos_token"]?.boolValue ?? false)")
        config.append("\"add_eos_token\": \(md["tokenizer.ggml.add_eos_token"]?.boolValue ?? false)")
        config.append("\"bos_token\": \(name(bos))")
        config.append("\"eos_token\": \(name(eos))")
        config.append("\"pad_token\": \(name(pad))")
        config.append("\"unk_token\": \(name(unk))")
        if let template = md["tokenizer.chat_template"]?.stringValue {
            config.append("\"chat_template\": \(jsonStringLiteral(template))")
        }
        config.append("\"clean_up_tokenization_spaces\": false")
        config.append("\"model_max_length\": \(contextLength(f) ?? 1_000_000)")
        config.append("\"tokenizer_class\": \"PreTrainedTokenizerFast\"")
        let tokenizerConfig = "{\n  " + config.joined(separator: ",\n  ") + "\n}\n"
        return (tokenizerJSON, tokenizerConfig)
    }

    static func contextLength(_ f: GGUFFile) -> Int? {
        guard let arch = f.metadata["general.architecture"]?.stringValue else { return nil }
        return f.metadata["\(arch).context_length"]?.intValue
    }
}
