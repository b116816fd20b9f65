// Parity with transformers on the tiny-qwen2 fixture: logits, per-token log-probs, every recorded
// intermediate and every parameter gradient, for the float32 checkpoint and after a bfloat16
// save/reload by Verity. The references come from the fixture (transformers 5.24, torch 2.15).
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

// MARK: - Reference reading

/// The parts of tiny-qwen2/reference.json these tests use.
struct TinyReference: Decodable {
    struct Forward: Decodable {
        let length: Int
        let input_ids: [Int32]
        let logits_position_0: [Float]
        let logits_last_position: [Float]
        let next_token_logprobs: [Float]
        let logsumexp_last_position: Float
    }
    struct Gradients: Decodable {
        let input_ids: [Int32]
        let loss: Float
        let grad_global_l2_norm: Double
    }
    let forward: [Forward]
    let gradients: Gradients

    static func load() throws -> TinyReference {
        try JSONDecoder().decode(TinyReference.self, from: Fixtures.data("tiny-qwen2/reference.json"))
    }
}

/// Max |a − b| over two float arrays of equal length.
func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Loss = mean over t < L−1 of −log p(ids[t+1] | ids[≤t]) with gradients accumulated into the model; returns the loss.
func lossAndBackward(_ model: TransformerModel, ids: [Int32]) throws -> Float {
    model.zeroGrad()
    let n = ids.count - 1
    let h = try model.hiddenStates(ids: ids, batch: 1, trainable: true)
    // The last position has no next token: give it a dummy target and weight 0.
    let targets = Array(ids.dropFirst()) + [0]
    let (lp, _) = model.tokenLogProbs(hidden: h, targets: targets, trainable: true)
    var w = [Float](repeating: -1 / Float(n), count: n)
    w.append(0)
    let loss = Ops.weightedSum(lp, weights: w)
    loss.backward()
    return loss.value.data[0]
}

/// Asserts every parameter's gradient is within `tol` (max abs error relative to the reference's norm) of `grads`;
/// returns the worst ratio.
func assertGradients(
    _ model: TransformerModel, match grads: SafeTensorsFile, tol: Double, label: String,
    file: StaticString = #filePath, line: UInt = #line
) throws -> Double {
    var worst = 0.0
    for name in model.parameterNames {
        guard let g = model.parameter(name)?.grad else {
            XCTFail("\(label): \(name) has no gradient", file: file, line: line); continue
        }
        let r = try grads.tensor(name)
        let rel = Double(g.maxAbsDifference(r)) / max(r.l2Norm(), 1e-12)
        worst = max(worst, rel)
        XCTAssertLessThanOrEqual(
            rel, tol, "\(label): gradient of \(name), max abs error relative to its norm", file: file, line: line)
    }
    return worst
}

// MARK: - Tests

final class ParityTests: XCTestCase {
    let dir = Fixtures.url("tiny-qwen2")

    /// Checks logits (position 0 and last) and next-token log-probs of every reference input against the tolerances.
    @discardableResult
    func checkForward(_ model: TransformerModel, logitTol: Float, logprobTol: Float, label: String) throws -> (
        Float, Float
    ) {
        let ref = try TinyReference.load()
        var worstLogit: Float = 0, worstLP: Float = 0
        for f in ref.forward {
            let h = try model.hiddenStates(ids: f.input_ids, batch: 1, trainable: false)
            let logits = model.logits(hidden: h.value)
            let v = model.config.vocabSize
            let all = logits.values
            let first = Array(all[0..<v]), last = Array(all[(f.length - 1) * v..<(f.length * v)])
            worstLogit = max(worstLogit, maxAbs(first, f.logits_position_0), maxAbs(last, f.logits_last_position))
            if f.length > 1 {
                let c = model.config.hiddenSize
                let rows = Tensor(shape: [f.length - 1, c], values: Array(h.value.values[0..<((f.length - 1) * c)]))
                let (lp, _) = model.tokenLogProbs(
                    hidden: Variable(rows), targets: Array(f.input_ids.dropFirst()), trainable: false)
                worstLP = max(worstLP, maxAbs(lp.value.values, f.next_token_logprobs))
            }
        }
        XCTAssertLessThanOrEqual(worstLogit, logitTol, "\(label): logits max abs error")
        XCTAssertLessThanOrEqual(worstLP, logprobTol, "\(label): log-prob max abs error")
        print("PARITY \(label): logits max abs err \(worstLogit), logprobs max abs err \(worstLP)")
        return (worstLogit, worstLP)
    }

    func testForwardMatchesTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        try checkForward(model, logitTol: 1e-4, logprobTol: 1e-4, label: "float32")
    }

    func testActivationsMatchTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        let acts = try SafeTensorsFile(url: dir.appendingPathComponent("activations.safetensors"))
        let idsText = acts.metadata["input_ids"] ?? ""
        let ids = idsText.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
            .compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        XCTAssertEqual(ids.count, 7)
        var got: [String: Tensor] = [:]
        let h = try model.hiddenStates(ids: ids, batch: 1, trainable: false) { name, t in got[name] = t.copy() }
        got["logits"] = model.logits(hidden: h.value)
        var worst: Float = 0
        for name in acts.entries.keys.sorted() {
            guard let mine = got[name] else { XCTFail("no intermediate named \(name)"); continue }
            let ref = try acts.tensor(name)
            XCTAssertEqual(mine.count, ref.count, name)
            let err = mine.maxAbsDifference(ref)
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, 1e-4, "activation \(name)")
        }
        print("PARITY activations: max abs err \(worst) over \(acts.entries.count) tensors")
    }

    func checkGradients(_ model: TransformerModel, grads: SafeTensorsFile, tol: Double, lossTol: Float, label: String)
        throws
    {
        let ref = try TinyReference.load()
        let loss = try lossAndBackward(model, ids: ref.gradients.input_ids)
        XCTAssertEqual(loss, ref.gradients.loss, accuracy: lossTol, "\(label): loss")
        let worst = try assertGradients(model, match: grads, tol: tol, label: label)
        print("PARITY \(label) gradients: loss \(loss) vs \(ref.gradients.loss); worst max-abs-err/norm \(worst)")
    }

    func testGradientsMatchTransformers() throws {
        let model = try TransformerModel.load(directory: dir)
        let grads = try SafeTensorsFile(url: dir.appendingPathComponent("grads.safetensors"))
        try checkGradients(model, grads: grads, tol: 1e-4, lossTol: 1e-4, label: "float32")
    }

    func testFusedHeadLossGradientsMatchTransformers() throws {
        // The trainers' path: the same mean NLL through the fused head+loss, no logits recomputed in backward.
        let model = try TransformerModel.load(directory: dir)
        let grads = try SafeTensorsFile(url: dir.appendingPathComponent("grads.safetensors"))
        let ref = try TinyReference.load()
        let ids = ref.gradients.input_ids
        let n = ids.count - 1
        model.zeroGrad()
        let h = try model.hiddenStates(ids: ids, batch: 1, trainable: true)
        let (loss, _, _) = model.tokenLoss(hidden: h, targets: Array(ids.dropFirst()) + [0], trainable: true) {
            i, lp, _ in
            i < n ? (-lp / Float(n), -1 / Float(n), 0) : (0, 0, 0)
        }
        loss.backward()
        XCTAssertEqual(loss.value.data[0], ref.gradients.loss, accuracy: 1e-4)
        let worst = try assertGradients(model, match: grads, tol: 1e-4, label: "fused")
        print(
            "PARITY fused head+loss gradients: loss \(loss.value.data[0]) vs \(ref.gradients.loss); worst max-abs-err/norm \(worst)"
        )
    }
}

// MARK: - Building blocks for cached decoding

final class IncrementalDecodeTests: XCTestCase {
    /// Prefill 32 tokens keeping each layer's k/v, then decode 1 token at position 32 against that cache with the same
    /// `layer` code: its hidden state equals the full 33-token forward's last row.
    func testDecodeWithCacheMatchesFullForward() throws {
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let ids = try TinyReference.load().gradients.input_ids  // 33 tokens
        let c = model.config, kd = c.numKeyValueHeads * c.headDim, n = ids.count - 1
        let full = try model.hiddenStates(ids: ids, batch: 1, trainable: false)
        var cacheK = [[Float]](repeating: [], count: c.numHiddenLayers), cacheV = cacheK
        // Prefill: the model's own forward, keeping each layer's k/v.
        let shape = AttentionShape(
            batch: 1, queries: n, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads, headDim: c.headDim)
        let prefill = try model.executor(ids: Array(ids.prefix(n)), positions: Array(0..<n), trainable: false) {
            l, q, k, v in
            cacheK[l] = k.value.values
            cacheV[l] = v.value.values
            return Ops.attention(q, k, v, shape: shape)
        }
        _ = model.run(prefill)
        // Decode one token at position n into a cache of capacity n + 4.
        let cap = n + 4
        let shape1 = AttentionShape(
            batch: 1, queries: 1, keys: n + 1, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads,
            headDim: c.headDim, queryOffset: n, kvRowsPerBatch: cap)
        let decode = try model.executor(ids: [ids[n]], positions: [n], trainable: false) { l, q, k, v in
            let kc = Tensor(zeros: [cap, kd]), vc = Tensor(zeros: [cap, kd])
            for i in 0..<(n * kd) { kc.data[i] = cacheK[l][i]; vc.data[i] = cacheV[l][i] }
            for i in 0..<kd { kc.data[n * kd + i] = k.value.data[i]; vc.data[n * kd + i] = v.value.data[i] }
            return Ops.attention(q, Variable(kc), Variable(vc), shape: shape1)
        }
        let last = model.run(decode).value.values
        let ref = Array(full.value.values[(n * c.hiddenSize)...])
        XCTAssertLessThan(maxAbs(last, ref), 1e-5)
    }
}
