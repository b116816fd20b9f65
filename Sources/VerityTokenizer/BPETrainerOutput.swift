// The files a trained BPE vocabulary becomes: a Hugging Face `tokenizer.json` with the Qwen2.5
// pipeline (NFC normalizer, Split on the Qwen2 pattern + ByteLevel pre-tokenizer, ByteLevel
// post-processor and decoder, a BPE model without byte fallback, merges as "left right" strings,
// the special tokens as added tokens after the BPE vocabulary), and a `tokenizer_config.json` naming
// the first special token as eos and pad. Both are written by hand in a fixed layout, so the same
// training run gives byte-identical files, and both go through VerityCore's AtomicFile. This file
// does not train (BPETrainer.swift) and does not load (Loading.swift reads what it writes).
import Foundation
import VerityCore
import VerityJSON

// MARK: - Result

/// A learned byte-level BPE vocabulary: ids 0..<256 are the byte symbols, then one id per new merge
/// result, then the special tokens.
public struct TrainedBPE: Sendable {
    /// The byte-level token strings of the BPE vocabulary, by id.
    public let vocabulary: [String]
    /// The merges in rank order, as (left, right) byte-level token strings.
    public let merges: [(left: String, right: String)]
    /// The special tokens; token `k` has id `vocabulary.count + k`.
    public let specialTokens: [String]

    /// Every id: the BPE vocabulary and the special tokens.
    public var vocabularySize: Int { vocabulary.count + specialTokens.count }
    /// The id of special token `k`.
    public func specialTokenID(_ k: Int) -> Int { vocabulary.count + k }
    /// The end-of-sequence and padding token of the written config: the first special token, if any.
    public var eosToken: String? { specialTokens.first }

    /// Creates a result from its parts.
    public init(vocabulary: [String], merges: [(left: String, right: String)], specialTokens: [String]) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.specialTokens = specialTokens
    }
}

// MARK: - tokenizer.json

extension TrainedBPE {
    /// The `tokenizer.json` text (Hugging Face `tokenizers` layout, Qwen2.5's pipeline).
    public func tokenizerJSON() -> String {
        let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}"#
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
        out += "  \"added_tokens\": ["
        for (k, token) in specialTokens.enumerated() {
            out += k == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(specialTokenID(k)), \"content\": \(jsonStringLiteral(token)), "
            out += #""single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}"#
        }
        out += specialTokens.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"normalizer\": {\"type\": \"NFC\"},\n"
        out += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
        out += "{\"type\": \"Split\", \"pattern\": {\"Regex\": \(jsonStringLiteral(SplitPattern.qwen2Regex))}, "
        out += "\"behavior\": \"Isolated\", \"invert\": false}, \(byteLevel)]},\n"
        out += "  \"post_processor\": \(byteLevel),\n"
        out += "  \"decoder\": \(byteLevel),\n"
        out += "  \"model\": {\n"
        out += "    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        out += "    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n"
        out += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n"
        out += "    \"vocab\": {"
        for (id, token) in vocabulary.enumerated() {
            out += id == 0 ? "\n" : ",\n"
            out += "      \(jsonStringLiteral(token)): \(id)"
        }
        out += "\n    },\n    \"merges\": ["
        for (k, merge) in merges.enumerated() {
            out += k == 0 ? "\n" : ",\n"
            out += "      " + jsonStringLiteral(merge.left + " " + merge.right)
        }
        out += merges.isEmpty ? "]\n" : "\n    ]\n"
        out += "  }\n}\n"
        return out
    }

    /// The `tokenizer_config.json` text: the special tokens as `added_tokens_decoder`, eos and pad
    /// the first special token, no bos, no chat template.
    public func tokenizerConfigJSON() -> String {
        let eos = eosToken.map(jsonStringLiteral) ?? "null"
        var out = "{\n  \"add_bos_token\": false,\n  \"add_prefix_space\": false,\n"
        out += "  \"added_tokens_decoder\": {"
        for (k, token) in specialTokens.enumerated() {
            out += k == 0 ? "\n" : ",\n"
            out += "    \"\(specialTokenID(k))\": {\"content\": \(jsonStringLiteral(token)), "
            out += #""lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}"#
        }
        out += specialTokens.isEmpty ? "},\n" : "\n  },\n"
        out += "  \"bos_token\": null,\n  \"clean_up_tokenization_spaces\": false,\n"
        out += "  \"eos_token\": \(eos),\n  \"errors\": \"replace\",\n  \"pad_token\": \(eos),\n"
        out += "  \"split_special_tokens\": false,\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n"
        out += "  \"unk_token\": null\n}\n"
        return out
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `folder` (created when missing),
    /// each atomically; returns the two files.
    @discardableResult
    public func write(to folder: URL) throws -> [URL] {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), !isFolder.boolValue {
            throw FileWriteError(file: folder.path, detail: "exists and is not a folder")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(file: folder.path, detail: "cannot create the folder: \(error.localizedDescription)")
        }
        let json = folder.appendingPathComponent("tokenizer.json")
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try AtomicFile.write(Data(tokenizerJSON().utf8), to: json)
        try AtomicFile.write(Data(tokenizerConfigJSON().utf8), to: config)
        return [json, config]
    }
}

// MARK: - Measuring

extension Tokenizer {
    /// The number of tokens `texts` encode to (special-token text parsed), for bytes-per-token figures.
    public func tokenCount<S: Sequence>(of texts: S) -> Int where S.Element == String {
        var total = 0
        for text in texts { total += encodeInt32(text).count }
        return total
    }
}
