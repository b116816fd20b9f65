// Hostile checkpoint files (issue 13, items 3 and 5): sizes that would trap on Int conversion or
// overflow, allocations sized by a lying config, offsets that are fractional, overlapping or
// duplicated, and config values that would turn every logit into NaN. Each must end in a
// ModelError naming the file and the key or tensor, quickly, without a trap.
import Foundation
import XCTest
import VerityFixtures
@testable import VerityModel

final class HostileFileTests: XCTestCase {
    let fixture = Fixtures.url("tiny-qwen2")

    func copyFixture() throws -> URL {
        let dir = try temporaryDirectory(self)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    /// The fixture's header text and data section.
    func fixtureParts() throws -> (header: String, data: Data) {
        let bytes = try Data(contentsOf: fixture.appendingPathComponent("model.safetensors"))
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        return (
            String(decoding: bytes.subdata(in: 8..<(8 + n)), as: UTF8.self), bytes.subdata(in: (8 + n)..<bytes.count)
        )
    }

    /// Writes a safetensors file from a raw header text and data.
    func writeRaw(_ url: URL, header: String, data: Data, length: UInt64? = nil) throws {
        var out = Data()
        var len = (length ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(data)
        try out.write(to: url)
    }

    /// The header as a dictionary, edited, written back.
    func editHeader(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let (header, data) = try fixtureParts()
        var h = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any])
        edit(&h)
        let text = String(
            decoding: try JSONSerialization.data(withJSONObject: h, options: [.sortedKeys]), as: UTF8.self)
        try writeRaw(dir.appendingPathComponent("model.safetensors"), header: text, data: data)
    }

    func expectModelError(_ dir: URL, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(
            try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")), file: file, line: line
        ) { e in
            guard e is ModelError else { return XCTFail("not a ModelError: \(e)", file: file, line: line) }
            let text = "\(e)"
            XCTAssertTrue(text.contains("model.safetensors"), text, file: file, line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(f) not in: \(text)", file: file, line: line) }
        }
    }

    // MARK: - Item 3: traps

    func testHeaderLengthOf2To63OrMoreIsAnError() throws {
        let dir = try temporaryDirectory(self)
        for length: UInt64 in [1 << 63, UInt64.max, (1 << 63) + 8] {
            try writeRaw(
                dir.appendingPathComponent("model.safetensors"), header: "{}", data: Data(count: 64), length: length)
            expectModelError(dir, ["header length \(length) is not plausible"])
        }
    }

    func testShapeWhoseProductOverflowsIsAnError() throws {
        let dir = try copyFixture()
        try editHeader(dir) { h in
            var e = h["model.norm.weight"] as? [String: Any] ?? [:]
            e["shape"] = [1 << 40, 1 << 40, 1 << 40]
            h["model.norm.weight"] = e
        }
        expectModelError(dir, ["model.norm.weight", "needs more bytes than any file can hold"])
    }

    func testHugeNumbersInShapeOrOffsetsAreAnError() throws {
        let dir = try copyFixture()
        try editHeader(dir) { h in
            var e = h["model.norm.weight"] as? [String: Any] ?? [:]
            e["shape"] = [1e300]
            h["model.norm.weight"] = e
        }
        expectModelError(dir, ["model.norm.weight", "not a whole number in range"])
    }

    func testConfigSizesBeyondLimitsFailFastNamingTheKey() throws {
        let base = try Data(contentsOf: fixture.appendingPathComponent("config.json"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: base) as? [String: Any])
        for (key, value) in [
            ("num_hidden_layers", 1_000_000_000_000), ("num_hidden_layers", 1_000_000),
            ("vocab_size", 1 << 40), ("hidden_size", 1 << 40), ("intermediate_size", 1 << 50),
            ("max_position_embeddings", 1 << 50), ("num_attention_heads", 1 << 30),
        ] {
            var o = object
            o[key] = value
            let data = try JSONSerialization.data(withJSONObject: o)
            let start = Date()
            XCTAssertThrowsError(try ModelConfig.decode(data, file: "hostile/config.json")) { e in
                XCTAssertTrue("\(e)".contains("hostile/config.json: key '\(key)'"), "\(e)")
                XCTAssertTrue("\(e)".contains("beyond the supported limit"), "\(e)")
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        }
    }

    func testModelLoadWithHugeLayerCountFailsFast() throws {
        let dir = try copyFixture()
        let url = dir.appendingPathComponent("config.json")
        var o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        o["num_hidden_layers"] = 1_000_000_000_000
        try JSONSerialization.data(withJSONObject: o).write(to: url)
        let start = Date()
        XCTAssertThrowsError(try TransformerModel.load(directory: dir)) { e in
            XCTAssertTrue("\(e)".contains("num_hidden_layers"), "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    // MARK: - Item 5: garbage that used to be accepted

    func testFractionalOffsetsAreAnError() throws {
        let dir = try copyFixture()
        try editHeader(dir) { h in
            var e = h["model.norm.weight"] as? [String: Any] ?? [:]
            let o = e["data_offsets"] as? [Int] ?? [0, 0]
            e["data_offsets"] = [Double(o[0]) + 0.5, Double(o[1]) + 0.5]
            h["model.norm.weight"] = e
        }
        expectModelError(dir, ["model.norm.weight", "not a whole number"])
    }

    func testOverlappingOffsetsAreAnError() throws {
        let dir = try copyFixture()
        try editHeader(dir) { h in
            // Two tensors of the same shape made to share one byte range.
            let a = h["model.layers.0.input_layernorm.weight"] as? [String: Any] ?? [:]
            h["model.layers.0.post_attention_layernorm.weight"] = a
        }
        expectModelError(dir, ["overlaps tensor"])
    }

    func testDuplicateTensorKeysAreAnError() throws {
        let (header, data) = try fixtureParts()
        let h = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any])
        let entry = try XCTUnwrap(h["model.norm.weight"])
        let entryText = String(
            decoding: try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]), as: UTF8.self)
        var text = header.trimmingCharacters(in: .whitespaces)
        text.removeLast()  // the closing brace
        text += ",\"model.norm.weight\":\(entryText)}"
        let dir = try temporaryDirectory(self)
        try writeRaw(dir.appendingPathComponent("model.safetensors"), header: text, data: data)
        expectModelError(dir, ["tensor 'model.norm.weight' appears twice"])
        XCTAssertNil(firstDuplicateTopLevelKey(Data(header.utf8)))
        XCTAssertEqual(
            firstDuplicateTopLevelKey(Data(#"{"a\"b": {"x": [1, "a\"b"]}, "c": 1, "a\u0022b": 2}"#.utf8)), "a\"b")
    }

    func testNonPositiveEpsilonAndRopeBaseAreConfigErrors() throws {
        let base = try Data(contentsOf: fixture.appendingPathComponent("config.json"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: base) as? [String: Any])
        for (key, value) in [
            ("rms_norm_eps", -1.0), ("rms_norm_eps", 0.0), ("rope_theta", 0.0), ("rope_theta", -10000.0),
        ] {
            var o = object
            o[key] = value
            let data = try JSONSerialization.data(withJSONObject: o)
            XCTAssertThrowsError(try ModelConfig.decode(data, file: "c/config.json")) { e in
                XCTAssertTrue("\(e)".contains("c/config.json: key '\(key)': must be a positive finite number"), "\(e)")
            }
        }
    }
}

// MARK: - Item 5: silent NaN, long sequences, dropped ids, unused tensors

final class GarbageInputTests: XCTestCase {
    let fixture = Fixtures.url("tiny-qwen2")

    func testEmptyIdItemIsAnError() {
        for text in ["1,,2", "1,2,", ",1"] {
            XCTAssertThrowsError(try ModelScoring.parseIDs(text), text) { e in
                XCTAssertTrue("\(e)".contains("is empty"), "\(e)")
            }
        }
        XCTAssertEqual(try ModelScoring.parseIDs(" 1, 2 ,3"), [1, 2, 3])
        XCTAssertThrowsError(try ModelScoring.parseIDs("1,200000", vocabularySize: 1024)) { e in
            XCTAssertTrue("\(e)".contains("token id 200000 is outside the vocabulary 0..<1024"), "\(e)")
        }
    }

    func testNaNWeightsMakeScoreFailInsteadOfPrintingNaN() throws {
        let dir = try temporaryDirectory(self)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        // Overwrite the final norm's weights with NaN (the data section is float32).
        let url = dir.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: url)
        let file = try SafeTensorsFile(url: url)
        let entry = try XCTUnwrap(file.entries["model.norm.weight"])
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let nan = Float.nan.bitPattern.littleEndian
        for offset in stride(from: 8 + n + entry.begin, to: 8 + n + entry.end, by: 4) {
            withUnsafeBytes(of: nan) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
        }
        try bytes.write(to: url)
        let model = try TransformerModel.load(directory: dir)
        XCTAssertThrowsError(try ModelScoring.score(model: model, ids: [12, 7, 99])) { e in
            XCTAssertTrue("\(e)".contains("non-finite"), "\(e)")
        }
    }

    func testSequenceLongerThanMaxPositionsIsAnError() throws {
        let config = try ModelConfig.load(from: fixture.appendingPathComponent("config.json"))
        XCTAssertNoThrow(try config.checkSequenceLength(512, what: "--ids"))
        XCTAssertThrowsError(try config.checkSequenceLength(513, what: "--ids")) { e in
            XCTAssertTrue(
                "\(e)".contains("--ids: 513 tokens is longer than the model's max_position_embeddings of 512"), "\(e)")
        }
    }

    func testUnusedTensorsAreListed() throws {
        let config = try ModelConfig.load(from: fixture.appendingPathComponent("config.json"))
        XCTAssertEqual(config.unusedTensors(in: try SafeTensorsCheckpoint(directory: fixture)), [])
        var fewer = config
        fewer.numHiddenLayers = 1
        let unused = fewer.unusedTensors(in: try SafeTensorsCheckpoint(directory: fixture))
        XCTAssertTrue(unused.contains("model.layers.1.mlp.up_proj.weight"), "\(unused)")
        XCTAssertFalse(unused.contains { $0.hasPrefix("model.layers.0.") })
    }
}

// MARK: - Item 9: messages name the place, not Foundation's error domain

final class FileMessageTests: XCTestCase {
    func testMalformedConfigNamesLineAndColumn() {
        let data = Data("{\n  \"model_type\": \"qwen2\",\n  \"hidden_size\": x\n}".utf8)
        XCTAssertThrowsError(try ModelConfig.decode(data, file: "m/config.json")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("m/config.json: key '(root)': not valid JSON: line 3, column 18"), text)
            XCTAssertFalse(text.contains("correct format"), text)
        }
    }

    func testUnreadableFilesSayWhy() throws {
        let dir = try temporaryDirectory(self)
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("model.safetensors"), withIntermediateDirectories: true)
        XCTAssertEqual(
            JSONDiagnostics.readProblem(
                CocoaError(.fileReadUnknown), path: dir.appendingPathComponent("model.safetensors").path),
            "is a directory, not a file")
        XCTAssertEqual(
            JSONDiagnostics.readProblem(CocoaError(.fileReadUnknown), path: dir.appendingPathComponent("nope").path),
            "no such file")
        XCTAssertNil(JSONDiagnostics.syntaxError(in: Data("{\"a\": [1, 2]}".utf8)))
        XCTAssertEqual(JSONDiagnostics.location(ofByte: 5, in: Data("ab\ncdef".utf8)).line, 2)
    }
}
