// Bad input gives one clear ModelError naming the file and the tensor or key, never a crash:
// missing or truncated safetensors, a header lying about offsets, a wrong shape or dtype, a missing
// tensor, a missing shard, malformed config.json and an unknown model_type. Files are corrupted
// copies of the tiny-qwen2 fixture written into a temporary directory.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityModel

final class BadInputTests: XCTestCase {
    let fixture = Fixtures.url("tiny-qwen2")

    /// A copy of the fixture's config.json and model.safetensors in a temporary directory.
    func copyFixture() throws -> URL {
        let dir = try temporaryDirectory(self)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    /// Rewrites model.safetensors in `dir` with its header JSON transformed by `edit` (data bytes unchanged).
    func editHeader(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: url)
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
        edit(&header)
        var text = try JSONSerialization.data(withJSONObject: header)
        while text.count % 8 != 0 { text.append(0x20) }
        var out = Data()
        var len = UInt64(text.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(text)
        out.append(bytes.subdata(in: (8 + n)..<bytes.count))
        try out.write(to: url)
    }

    /// Asserts that loading `dir` throws `expected`, and that its message names the file.
    func assertLoadFails(_ dir: URL, _ expected: ModelError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TransformerModel.load(directory: dir), file: file, line: line) { e in
            XCTAssertEqual(e as? ModelError, expected, file: file, line: line)
            XCTAssertTrue(
                "\(e)".contains(dir.lastPathComponent), "message names the file: \(e)", file: file, line: line)
        }
    }

    func path(_ dir: URL, _ f: String = "model.safetensors") -> String { dir.appendingPathComponent(f).path }

    func testMissingSafetensorsFile() throws {
        let dir = try copyFixture()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        assertLoadFails(dir, .fileMissing(file: path(dir)))
    }

    func testTruncatedFile() throws {
        let dir = try copyFixture()
        let url = dir.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 1000).write(to: url)
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) { e in
            guard case .badOffsets(let f, let tensor, let detail)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, self.path(dir))
            XCTAssertFalse(tensor.isEmpty)
            XCTAssertTrue(detail.contains("ends past the data section"), detail)
        }
        try bytes.prefix(5).write(to: url)
        assertLoadFails(dir, .truncated(file: path(dir), detail: "5 bytes, fewer than the 8-byte header length"))
        try bytes.prefix(100).write(to: url)
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) { e in
            guard case .truncated(let f, _)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, self.path(dir))
        }
    }

    func testHeaderLyingAboutOffsets() throws {
        let dir = try copyFixture()
        let name = "model.layers.0.self_attn.q_proj.bias"
        try editHeader(dir) { h in
            var e = h[name] as? [String: Any] ?? [:]
            let o = e["data_offsets"] as? [Int] ?? [0, 0]
            e["data_offsets"] = [o[0], o[1] + 4]  // claims one float more than its shape holds
            h[name] = e
        }
        assertLoadFails(
            dir,
            .badOffsets(
                file: path(dir), tensor: name,
                detail: {
                    let e = try? SafeTensorsFile(url: fixture.appendingPathComponent("model.safetensors")).entries[name]
                    let b = e?.begin ?? 0, end = (e?.end ?? 0) + 4
                    return "[\(b), \(end)] holds \(end - b) bytes but F32 [64] needs 256"
                }()))
        try editHeader(dir) { h in
            h[name] = ["dtype": "F32", "shape": [64], "data_offsets": [1_000_000_000, 1_000_000_256]]
        }
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) { e in
            guard case .badOffsets(_, let t, _)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertEqual(t, name)
        }
    }

    func testWrongShape() throws {
        let dir = try copyFixture()
        let name = "model.layers.1.mlp.up_proj.weight"
        try editHeader(dir) { h in
            var e = h[name] as? [String: Any] ?? [:]
            e["shape"] = [64, 176]  // transposed: same byte count, wrong shape
            h[name] = e
        }
        assertLoadFails(dir, .wrongShape(file: path(dir), tensor: name, expected: [176, 64], found: [64, 176]))
    }

    func testWrongDtype() throws {
        let dir = try copyFixture()
        let name = "model.norm.weight"
        try editHeader(dir) { h in
            var e = h[name] as? [String: Any] ?? [:]
            e["dtype"] = "I32"  // same element size, not a float type
            h[name] = e
        }
        assertLoadFails(dir, .unsupportedDtype(file: path(dir), tensor: name, dtype: "I32"))
    }

    func testMissingTensor() throws {
        let dir = try copyFixture()
        let name = "model.layers.1.input_layernorm.weight"
        try editHeader(dir) { h in h.removeValue(forKey: name) }
        assertLoadFails(dir, .missingTensor(file: path(dir), tensor: name))
    }

    func testMissingShard() throws {
        let dir = try copyFixture()
        let index = try JSONSerialization.data(withJSONObject: [
            "weight_map": ["model.norm.weight": "model-00002-of-00002.safetensors"]
        ])
        try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        assertLoadFails(dir, .fileMissing(file: path(dir, "model-00002-of-00002.safetensors")))
    }

    func testMalformedConfig() throws {
        let dir = try copyFixture()
        let cfg = dir.appendingPathComponent("config.json")
        try Data("{\"model_type\": \"qwen2\", ".utf8).write(to: cfg)
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) { e in
            guard case .badConfig(let f, let k, _)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, self.path(dir, "config.json"))
            XCTAssertEqual(k, "(root)")
        }
        let good = try String(contentsOf: fixture.appendingPathComponent("config.json"), encoding: .utf8)
        try good.replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": \"64\"").write(
            to: cfg, atomically: true, encoding: .utf8)
        assertLoadFails(
            dir,
            .badConfig(file: path(dir, "config.json"), key: "hidden_size", detail: "expected an integer, found \"64\""))
        try good.replacingOccurrences(of: "\"num_hidden_layers\": 2,", with: "").write(
            to: cfg, atomically: true, encoding: .utf8)
        assertLoadFails(dir, .badConfig(file: path(dir, "config.json"), key: "num_hidden_layers", detail: "missing"))
        try good.replacingOccurrences(of: "\"num_key_value_heads\": 2", with: "\"num_key_value_heads\": 3").write(
            to: cfg, atomically: true, encoding: .utf8)
        assertLoadFails(
            dir,
            .badConfig(
                file: path(dir, "config.json"), key: "num_key_value_heads",
                detail: "3 does not divide num_attention_heads 4"))
    }

    func testUnknownModelType() throws {
        let dir = try copyFixture()
        let cfg = dir.appendingPathComponent("config.json")
        let good = try String(contentsOf: fixture.appendingPathComponent("config.json"), encoding: .utf8)
        try good.replacingOccurrences(of: "\"model_type\": \"qwen2\"", with: "\"model_type\": \"gpt2\"").write(
            to: cfg, atomically: true, encoding: .utf8)
        assertLoadFails(dir, .unknownModelType(file: path(dir, "config.json"), value: "gpt2"))
        XCTAssertThrowsError(try ModelInspection.inspect(directory: dir))
    }

    func testBadTokenIds() throws {
        let model = try TransformerModel.load(directory: fixture)
        XCTAssertThrowsError(try ModelScoring.score(model: model, ids: [1, 5000])) { e in
            XCTAssertEqual(e as? ModelError, .badInput(detail: "token id 5000 outside the vocabulary 0..<1024"))
        }
        XCTAssertThrowsError(try ModelScoring.parseIDs("1,,x"))
    }
}
