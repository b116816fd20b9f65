// Save/reload round trips: float32 (bit-exact), bfloat16 (weights equal the rounded originals and
// outputs match transformers run on the rounded weights, Reference/bf16_*), and sharded checkpoints.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

/// A fresh temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The bfloat16 value nearest to a finite float, ties to the even bfloat16, worked out here independently of the
/// library's bit trick: the two bfloat16 neighbours (truncation and one bfloat16 step away from zero) compared in Double.
func nearestBFloat16(_ x: Float) -> Float {
    let bits = x.bitPattern
    let low = Float(bitPattern: bits & 0xFFFF_0000)
    let high = Float(bitPattern: (bits & 0xFFFF_0000) &+ 0x1_0000)  // the next bfloat16 in magnitude (may be ±inf)
    if low == x { return x }
    // Past the largest bfloat16 the next step is ±2^128, which rounds to ±infinity.
    let highValue = high.isInfinite ? (x < 0 ? -0x1p128 : 0x1p128) : Double(high)
    let dl = abs(Double(x) - Double(low)), dh = abs(highValue - Double(x))
    if dl != dh { return dl < dh ? low : high }
    // A tie: the one whose last bfloat16 mantissa bit (bit 16 of the float) is zero.
    return (low.bitPattern >> 16) & 1 == 0 ? low : high
}

/// transformers' outputs for tiny-qwen2 with bfloat16-rounded weights (Reference/make_bf16_reference.py).
struct Bf16Reference: Decodable {
    struct Forward: Decodable {
        let length: Int
        let input_ids: [Int32]
        let logits_position_0: [Float]
        let logits_last_position: [Float]
        let next_token_logprobs: [Float]
    }
    struct Gradients: Decodable { let input_ids: [Int32]; let loss: Float }
    let forward: [Forward]
    let gradients: Gradients
}

final class RoundTripTests: XCTestCase {
    let fixture = Fixtures.url("tiny-qwen2")
    let reference = Bundle.module.resourceURL?.appendingPathComponent("Reference") ?? URL(fileURLWithPath: "Reference")

    func testFloat32RoundTripIsExact() throws {
        let model = try TransformerModel.load(directory: fixture)
        let dir = try temporaryDirectory(self)
        try model.save(to: dir, dtype: .f32)
        let back = try TransformerModel.load(directory: dir)
        XCTAssertEqual(back.config.hiddenSize, 64)
        for name in model.parameterNames {
            XCTAssertEqual(model.parameter(name)?.value.values, back.parameter(name)?.value.values, name)
        }
    }

    func testBFloat16RoundTripMatchesTransformersOnRoundedWeights() throws {
        let model = try TransformerModel.load(directory: fixture)
        let dir = try temporaryDirectory(self)
        try model.save(to: dir, dtype: .bf16)
        // For the manual transformers load-back check (Reference/make_bf16_reference.py --check DIR).
        if let keep = ProcessInfo.processInfo.environment["VERITY_SAVE_BF16_TO"] {
            try model.save(to: URL(fileURLWithPath: keep), dtype: .bf16)
        }
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(file.entries.values.allSatisfy { $0.dtype == "BF16" })
        XCTAssertEqual(file.metadata["format"], "pt")
        let back = try TransformerModel.load(directory: dir)
        // Weights: exactly the round-to-nearest-even bfloat16 of the originals.
        for name in model.parameterNames {
            guard let a = model.parameter(name)?.value, let b = back.parameter(name)?.value else {
                XCTFail(name); continue
            }
            XCTAssertEqual(a.values.map(nearestBFloat16), b.values, name)
        }
        // Outputs: transformers on the same rounded weights, same tolerances as float32 (no widening needed).
        let ref = try JSONDecoder().decode(
            Bf16Reference.self, from: Data(contentsOf: reference.appendingPathComponent("bf16_reference.json")))
        var worstLogit: Float = 0, worstLP: Float = 0
        for f in ref.forward {
            let r = try ModelScoring.score(model: back, ids: f.input_ids)
            worstLogit = max(worstLogit, maxAbs(r.last_logits, f.logits_last_position))
            let h = try back.hiddenStates(ids: f.input_ids, batch: 1, trainable: false)
            let first = Array(back.logits(hidden: h.value).values[0..<back.config.vocabSize])
            worstLogit = max(worstLogit, maxAbs(first, f.logits_position_0))
            worstLP = max(worstLP, maxAbs(r.token_logprobs.dropFirst().compactMap { $0 }, f.next_token_logprobs))
        }
        XCTAssertLessThanOrEqual(worstLogit, 1e-4)
        XCTAssertLessThanOrEqual(worstLP, 1e-4)
        let grads = try SafeTensorsFile(url: reference.appendingPathComponent("bf16_grads.safetensors"))
        let loss = try lossAndBackward(back, ids: ref.gradients.input_ids)
        XCTAssertEqual(loss, ref.gradients.loss, accuracy: 1e-4)
        let worstGrad = try assertGradients(back, match: grads, tol: 1e-4, label: "bf16")
        print(
            "PARITY bf16 round trip: logits max abs err \(worstLogit), logprobs \(worstLP), gradients worst max-abs-err/norm \(worstGrad), loss \(loss) vs \(ref.gradients.loss)"
        )
    }

    /// float32 → bfloat16 bits, pinned: round to nearest, ties to even, carry into the exponent, overflow to infinity,
    /// subnormals, signs. Written through SafeTensorsWriter and read back as raw bytes, and through floatToBFloat16.
    func testBFloat16BitsArePinned() throws {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80), (0x3F80_7FFF, 0x3F80), (0x3F80_8000, 0x3F80), (0x3F80_8001, 0x3F81),
            (0x3F81_8000, 0x3F82), (0x3F81_7FFF, 0x3F81), (0xBF80_8000, 0xBF80), (0xBF81_8000, 0xBF82),
            (0x3DCC_CCCD, 0x3DCD), (0x4049_0FDB, 0x4049), (0x3FFF_FFFF, 0x4000), (0x7F7F_7FFF, 0x7F7F),
            (0x7F7F_FFFF, 0x7F80), (0x7F80_0000, 0x7F80), (0xFF80_0000, 0xFF80), (0x0000_8000, 0x0000),
            (0x0001_8000, 0x0002), (0x8000_0000, 0x8000), (0x0000_0001, 0x0000), (0x007F_FFFF, 0x0080),
        ]
        for (f, b) in cases {
            XCTAssertEqual(floatToBFloat16(Float(bitPattern: f)), b, String(f, radix: 16))
            XCTAssertEqual(roundToBFloat16(Float(bitPattern: f)).bitPattern, UInt32(b) << 16, String(f, radix: 16))
            XCTAssertEqual(
                nearestBFloat16(Float(bitPattern: f)).bitPattern, UInt32(b) << 16,
                "test's own rounding, \(String(f, radix: 16))")
        }
        XCTAssertTrue(roundToBFloat16(.nan).isNaN)
        let dir = try temporaryDirectory(self)
        let url = dir.appendingPathComponent("b.safetensors")
        try SafeTensorsWriter.write(
            [("t", Tensor(shape: [cases.count], values: cases.map { Float(bitPattern: $0.0) }))], to: url, dtype: .bf16)
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        let payload = Array(data.dropFirst(8 + headerLength))
        XCTAssertEqual(payload.count, 2 * cases.count)
        for (i, (f, b)) in cases.enumerated() {
            XCTAssertEqual(
                UInt16(payload[2 * i]) | UInt16(payload[2 * i + 1]) << 8, b, "written bits of \(String(f, radix: 16))")
        }
    }

    func testShardedCheckpointLoads() throws {
        let model = try TransformerModel.load(directory: fixture)
        let dir = try temporaryDirectory(self)
        try FileManager.default.copyItem(
            at: fixture.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let names = model.parameterNames
        let half = names.count / 2
        var map: [String: String] = [:]
        for (i, part) in [Array(names[..<half]), Array(names[half...])].enumerated() {
            let file = "model-0000\(i + 1)-of-00002.safetensors"
            try SafeTensorsWriter.write(
                part.compactMap { n in model.parameter(n).map { (n, $0.value) } },
                to: dir.appendingPathComponent(file), dtype: i == 0 ? .bf16 : .f32)
            for n in part { map[n] = file }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map])
        try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let back = try TransformerModel.load(directory: dir)
        for (i, n) in names.enumerated() {
            let expect = model.parameter(n)?.value.values ?? []
            XCTAssertEqual(back.parameter(n)?.value.values, i < half ? expect.map(nearestBFloat16) : expect, n)
        }
        let info = try ModelInspection.inspect(directory: dir)
        XCTAssertEqual(info.dtype, "BF16,F32")
        XCTAssertEqual(info.files.count, 2)
    }

    func testFloat16IsRead() throws {
        // Hand-written F16 tensor: 1.0, -2.5, 65504 (max half), 2^-24 (smallest subnormal).
        let dir = try temporaryDirectory(self)
        let header = #"{"t":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#
        var bytes = Data()
        var len = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        for h: UInt16 in [0x3C00, 0xC100, 0x7BFF, 0x0001] {
            var le = h.littleEndian; withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
        }
        let url = dir.appendingPathComponent("h.safetensors")
        try bytes.write(to: url)
        XCTAssertEqual(try SafeTensorsFile(url: url).tensor("t").values, [1, -2.5, 65504, 0x1p-24])
    }
}
