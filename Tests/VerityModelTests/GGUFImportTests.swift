// `verity import gguf` (issue 27) against transformers: Tests/Fixtures/gguf/make_import.py wrote tiny-quant.gguf (a
// 2-layer qwen2 model whose tensors are in all 13 types Verity reads) and tok-*.gguf (one vocabulary under each
// pre-tokenizer Verity imports), and recorded what transformers makes of them (gguf_file=): the model's log-probs and
// the tokenizer's ids on a mixed text set. The imported folder must give the same, and a file Verity cannot import
// must fail naming what it cannot read, with nothing written.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
import VerityTokenizer
@testable import VerityModel

final class GGUFImportTests: XCTestCase {
    struct Reference: Decodable {
        let ids: [Int32]
        let logprobs: [Double]
        let texts: [String]
        let encode: [String: [[Int]]]
        let smollm_pieces: [[String]]
    }

    let gguf = Fixtures.url("gguf")
    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: gguf.appendingPathComponent("import_reference.json")))
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func logProbs(_ m: TransformerModel, _ ids: [Int32]) throws -> [Float] {
        let h = try m.hiddenStates(ids: Array(ids.dropLast()), batch: 1, trainable: false)
        return m.tokenLogProbs(hidden: h, targets: Array(ids.dropFirst()), trainable: false).logprobs.value.values
    }

    func testImportedModelInEveryTypeScoresAsTransformers() throws {
        let ref = try reference()
        let out = try temporaryFolder().appendingPathComponent("tiny")
        let summary = try GGUFImport.write(
            file: gguf.appendingPathComponent("tiny-quant.gguf"), to: out, dtype: .f32)
        XCTAssertEqual(Set(summary.types.keys), Set(GGMLType.supported.map(\.name)), "the fixture holds every type")
        XCTAssertEqual(summary.architecture, "qwen2")
        XCTAssertEqual(summary.preTokenizer, "qwen2")
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        XCTAssertEqual(
            names,
            ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
        let lp = try logProbs(try TransformerModel.load(directory: out), ref.ids)
        XCTAssertEqual(lp.count, ref.logprobs.count)
        let worst = zip(lp, ref.logprobs).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4, "max |Δ log-prob| against transformers")
        print("GGUF import, 13 tensor types: max |Δ log-prob| vs transformers \(worst)")

        // bf16: the same model rounded once; it loads, and scores close.
        let half = try temporaryFolder().appendingPathComponent("tiny-bf16")
        try GGUFImport.write(file: gguf.appendingPathComponent("tiny-quant.gguf"), to: half, dtype: .bf16)
        let st = try SafeTensorsFile(url: half.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(st.entries.values.allSatisfy { $0.dtype == "BF16" })
        let lpHalf = try logProbs(try TransformerModel.load(directory: half), ref.ids)
        XCTAssertLessThanOrEqual(zip(lpHalf, ref.logprobs).map { abs(Double($0) - $1) }.max() ?? .infinity, 0.05)

        // The tokenizer files: the chat template and special tokens from the metadata.
        let tok = try Tokenizer(folder: out)
        let cfg = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("tokenizer_config.json")))
                as? [String: Any])
        let tiny = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Fixtures.url("tiny-qwen2").appendingPathComponent("tokenizer_config.json")))
                as? [String: Any])
        XCTAssertEqual(cfg["chat_template"] as? String, tiny["chat_template"] as? String)
        XCTAssertEqual(cfg["eos_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(tok.encode("<|im_start|>"), [1022])
    }

    func testTokenizerOfEveryPreTokenizerGivesTransformersIDs() throws {
        let ref = try reference()
        let folder = try temporaryFolder()
        for pre in ["qwen2", "llama-bpe", "gpt-2", "smollm"] {
            let f = try GGUFFile(url: gguf.appendingPathComponent("tok-\(pre).gguf"))
            let files = try GGUFTokenizer.files(f)
            let dir = folder.appendingPathComponent(pre)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(files.tokenizerJSON.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
            try Data(files.tokenizerConfig.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
            let tok = try Tokenizer(folder: dir)
            let expected: SplitPattern = ["qwen2": .qwen2, "llama-bpe": .llama3, "gpt-2": .gpt2, "smollm": .gpt2Digits][pre]!
            XCTAssertEqual(tok.splitPattern, expected, pre)
            let want = try XCTUnwrap(ref.encode[pre])
            XCTAssertEqual(want.count, ref.texts.count)
            for (k, text) in ref.texts.enumerated() {
                XCTAssertEqual(tok.encode(text).map { Int($0) }, want[k], "\(pre) case \(k): \(text.debugDescription)")
            }
        }
        // SmolLM2's pre-tokenizer (Digits, then the GPT-2 regex) cuts where `tokenizers` does.
        for (k, text) in ref.texts.enumerated() {
            let pieces = SplitPattern.gpt2Digits.split(text).map { ByteLevel.token(ofBytes: $0.utf8) }
            XCTAssertEqual(pieces, ref.smollm_pieces[k], "smollm pieces, case \(k): \(text.debugDescription)")
        }
    }

    /// `file`'s bytes with the first occurrence of `from` replaced by `to` (same length), written to a temporary file.
    func patched(_ file: String, _ from: [UInt8], _ to: [UInt8], in folder: URL) throws -> URL {
        precondition(from.count == to.count)
        var bytes = [UInt8](try Data(contentsOf: gguf.appendingPathComponent(file)))
        let at = try XCTUnwrap(
            (0...(bytes.count - from.count)).first { i in bytes[i] == from[0] && Array(bytes[i..<i + from.count]) == from },
            "\(file) holds the bytes to patch")
        bytes.replaceSubrange(at..<at + from.count, with: to)
        let url = folder.appendingPathComponent("patched-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        return url
    }

    func stringValue(_ key: String, _ value: String) -> [UInt8] {
        var b = withUnsafeBytes(of: UInt64(key.utf8.count).littleEndian) { Array($0) } + Array(key.utf8)
        b += withUnsafeBytes(of: UInt32(8).littleEndian) { Array($0) }
        b += withUnsafeBytes(of: UInt64(value.utf8.count).littleEndian) { Array($0) } + Array(value.utf8)
        return b
    }

    func testWhatCannotBeImportedIsNamedAndNothingIsWritten() throws {
        let src = try temporaryFolder(), dst = try temporaryFolder()
        let embd = Array("token_embd.weight".utf8)
        let embdInfo = withUnsafeBytes(of: UInt64(embd.count).littleEndian) { Array($0) } + embd
        let dims = withUnsafeBytes(of: UInt32(2).littleEndian) { Array($0) }
            + withUnsafeBytes(of: UInt64(256).littleEndian) { Array($0) }
            + withUnsafeBytes(of: UInt64(1024).littleEndian) { Array($0) }
        let q8_0 = withUnsafeBytes(of: UInt32(8).littleEndian) { Array($0) }
        let q8_1 = withUnsafeBytes(of: UInt32(9).littleEndian) { Array($0) }
        let cases: [(URL, String)] = [
            (try patched("tiny-quant.gguf", stringValue("general.architecture", "qwen2"),
                stringValue("general.architecture", "gemma"), in: src), "architecture \"gemma\" is not supported"),
            (try patched("tiny-quant.gguf", stringValue("tokenizer.ggml.pre", "qwen2"),
                stringValue("tokenizer.ggml.pre", "bloom"), in: src), "tokenizer.ggml.pre \"bloom\" is not supported"),
            (try patched("tiny-quant.gguf", stringValue("tokenizer.ggml.model", "gpt2"),
                stringValue("tokenizer.ggml.model", "bert"), in: src), "tokenizer.ggml.model \"bert\" is not supported"),
            (try patched("tiny-quant.gguf", embdInfo + dims + q8_0, embdInfo + dims + q8_1, in: src),
                "token_embd.weight: type Q8_1 is not supported"),
            (try patched("tiny-quant.gguf", Array("blk.1.ffn_up.weight".utf8), Array("blk.1.ffn_xx.weight".utf8), in: src),
                "no tensor for model.layers.1.mlp.up_proj.weight"),
        ]
        let ropeFreqs = src.appendingPathComponent("rope-freqs.gguf")
        try FileManager.default.copyItem(at: gguf.appendingPathComponent("rope-freqs.gguf"), to: ropeFreqs)
        for (file, fragment) in cases + [(ropeFreqs, "rope_freqs.weight: per-frequency rope factors")] {
            let out = dst.appendingPathComponent("model")
            XCTAssertThrowsError(try GGUFImport.write(file: file, to: out, dtype: .f32)) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)")
                XCTAssertTrue("\(e)".contains(file.path), "names the file: \(e)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dst.path), [], fragment)
        }
        // A folder that holds something is not overwritten.
        let full = dst.appendingPathComponent("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: full.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(
            try GGUFImport.write(file: gguf.appendingPathComponent("tiny-quant.gguf"), to: full, dtype: .f32)
        ) { e in XCTAssertTrue("\(e)".contains("not empty"), "\(e)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: full.path), ["notes.txt"])
    }
}
