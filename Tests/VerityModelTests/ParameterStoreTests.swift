// The parameter store under the model: one value block and one gradient block with per-tensor views,
// gradients landing in the block (checked against transformers' global norm), a version that steps
// bump, one-pass clipping and a bucketed all-reduce that visits every gradient exactly once; and
// variable-length rows: a left-padded batch scores each row as it scores alone, and gradient
// accumulation over micro-batches gives the one-batch update within float32 rounding.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
@testable import VerityModel

/// Counts what a data-parallel reducer is handed, and halves it (as a mean over two identical workers would not).
final class RecordingReducer: GradientReducer {
    var buckets: [(UnsafeMutablePointer<Float>, Int)] = []
    func allReduce(_ bucket: UnsafeMutableBufferPointer<Float>) {
        guard let base = bucket.baseAddress else { return }
        buckets.append((base, bucket.count))
        for i in 0..<bucket.count { bucket[i] *= 0.5 }
    }
}

final class ParameterStoreTests: XCTestCase {
    let dir = Fixtures.url("tiny-qwen2")

    func testViewsTileOneBlockInCheckpointOrder() throws {
        let model = try TransformerModel.load(directory: dir)
        let s = model.store
        XCTAssertEqual(s.names, model.config.parameterShapes.map(\.0))
        var expected = 0
        for (i, v) in s.variables.enumerated() {
            XCTAssertEqual(s.offsets[i], expected, s.names[i])
            XCTAssertEqual(v.value.data, s.values.data + expected, "\(s.names[i]) value is a view of the block")
            XCTAssertEqual(
                v.gradientStorage?.data, s.gradients.data + expected, "\(s.names[i]) gradient is a view of the block")
            expected += v.value.count
        }
        XCTAssertEqual(expected, s.count)
        XCTAssertEqual(s.count, model.config.parameterCount)
        // The loaded values are the checkpoint's, tensor by tensor.
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        for name in s.names { XCTAssertEqual(s.value(name)?.values, try file.tensor(name).values, name) }
    }

    func testGradientBlockHoldsTheWholeGradient() throws {
        let model = try TransformerModel.load(directory: dir)
        let ref = try TinyReference.load()
        _ = try lossAndBackward(model, ids: ref.gradients.input_ids)
        // One pass over the block gives transformers' global norm of all parameter gradients.
        XCTAssertEqual(
            model.store.gradientNorm(), ref.gradients.grad_global_l2_norm,
            accuracy: 1e-4 * ref.gradients.grad_global_l2_norm)
        // zeroGrad is logical: a second identical backward gives the same block, not twice it.
        let first = model.store.gradients.values
        _ = try lossAndBackward(model, ids: ref.gradients.input_ids)
        XCTAssertEqual(model.store.gradients.values, first)
        // Without zeroGrad, gradients accumulate in the block.
        let h = try model.hiddenStates(ids: ref.gradients.input_ids, batch: 1, trainable: true)
        let n = ref.gradients.input_ids.count - 1
        let (loss, _, _) = model.tokenLoss(
            hidden: h, targets: Array(ref.gradients.input_ids.dropFirst()) + [0], trainable: true
        ) { i, lp, _ in
            i < n ? (-lp / Float(n), -1 / Float(n), 0) : (0, 0, 0)
        }
        loss.backward()
        let twice = model.store.gradients.values
        let worst = zip(twice, first).reduce(Float(0)) { max($0, abs($1.0 - 2 * $1.1)) }
        XCTAssertLessThan(worst, 1e-4 * Float(ref.gradients.grad_global_l2_norm))
    }

    func testUntouchedGradientsReadAsZero() throws {
        let store = ParameterStore([("a", [2, 3]), ("b", [4])])
        store.values.fill(1)
        store.gradients.fill(.nan)  // garbage from an earlier life of the memory
        store.zeroGrad()
        let a = store.variables[0]
        let y = Ops.sum(Ops.scale(a, 3))
        y.backward()
        store.finalizeGradients()
        XCTAssertEqual(store.gradients.values, [3, 3, 3, 3, 3, 3, 0, 0, 0, 0])
        XCTAssertEqual(store.gradientNorm(), (54.0).squareRoot(), accuracy: 1e-9)
    }

    func testClippingVersionAndBucketedAllReduce() throws {
        let store = ParameterStore([("a", [3]), ("b", [2, 2]), ("c", [5])])
        store.values.fill(0)
        for (i, v) in store.variables.enumerated() {
            v.setGrad(Tensor(shape: v.shape, values: (0..<v.value.count).map { Float($0 + i) }))
        }
        // torch.nn.utils.clip_grad_norm_: factor maxNorm / (norm + 1e-6) when below 1, computed here independently.
        let g = store.gradients.values.map(Double.init)
        let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(store.clipGradients(maxNorm: 1), norm, accuracy: 1e-9)
        for (x, y) in zip(store.gradients.values, g) {
            XCTAssertEqual(Double(x), y * 1 / (norm + 1e-6), accuracy: 1e-6)
        }
        XCTAssertEqual(store.clipGradients(maxNorm: 100), 1, accuracy: 1e-5)  // under the bound: untouched
        // The all-reduce is handed the block in buckets that tile it exactly once.
        let reducer = RecordingReducer()
        let before = store.gradients.values
        try store.allReduceGradients(reducer, bucketFloats: 5)
        XCTAssertEqual(reducer.buckets.map(\.1), [5, 5, 2])
        XCTAssertEqual(reducer.buckets.map(\.0), [0, 5, 10].map { store.gradients.data + $0 })
        XCTAssertEqual(store.gradients.values, before.map { $0 * 0.5 })
        // An update is one pass over both blocks and bumps the version.
        XCTAssertEqual(store.version, 0)
        store.update { values, grads in for i in 0..<values.count { values[i] -= grads[i] } }
        XCTAssertEqual(store.version, 1)
        XCTAssertEqual(store.values.values, before.map { -$0 * 0.5 })
    }

    // MARK: Variable-length rows

    func testLeftPaddedRowsScoreAsTheyDoAlone() throws {
        let model = try TransformerModel.load(directory: dir)
        let ref = try TinyReference.load()
        let seqs: [[Int32]] = [
            Array(ref.gradients.input_ids.prefix(9)), Array(ref.gradients.input_ids.suffix(20)), [5, 6, 7],
        ]
        let batch = try TokenBatch(sequences: seqs, padID: 1021)
        XCTAssertEqual(batch.length, 20)
        XCTAssertEqual(batch.keyStart, [11, 0, 17])
        let h = try model.hiddenStates(batch, trainable: false)
        let (lp, _) = model.tokenLogProbs(hidden: h, targets: batch.nextTokenTargets, trainable: false)
        var worst: Float = 0
        for (r, s) in seqs.enumerated() {
            let alone = try model.hiddenStates(ids: s, batch: 1, trainable: false)
            let (lpAlone, _) = model.tokenLogProbs(hidden: alone, targets: Array(s.dropFirst()) + [0], trainable: false)
            for t in 0..<(s.count - 1) {
                worst = max(worst, abs(lp.value.data[batch.flatIndex(row: r, token: t)] - lpAlone.value.data[t]))
            }
        }
        XCTAssertLessThan(worst, 1e-5)
        // Without the key starts the padded rows would read their pads: the test above can fail.
        let unmasked = try model.hiddenStates(ids: batch.ids, batch: 3, positions: batch.positions, trainable: false)
        let (lpBad, _) = model.tokenLogProbs(hidden: unmasked, targets: batch.nextTokenTargets, trainable: false)
        XCTAssertGreaterThan(
            abs(lpBad.value.data[batch.flatIndex(row: 0, token: 3)] - lp.value.data[batch.flatIndex(row: 0, token: 3)]),
            1e-3)
    }

    /// Σ over real next-token positions of −log p / (all such positions in the whole batch), backpropagated into the store.
    func accumulate(_ model: TransformerModel, _ b: TokenBatch, totalTokens: Int) throws {
        let h = try model.hiddenStates(b, trainable: true)
        var weight = [Float](repeating: 0, count: b.rows * b.length)
        for (r, s) in b.sequences.enumerated() where s.count > 1 {
            for t in 0..<(s.count - 1) { weight[b.flatIndex(row: r, token: t)] = 1 }
        }
        let scale = 1 / Float(totalTokens)
        let (loss, _, _) = model.tokenLoss(hidden: h, targets: b.nextTokenTargets, trainable: true) { i, lp, _ in
            (-lp * weight[i] * scale, -weight[i] * scale, 0)
        }
        loss.backward()
    }

    func testMicroBatchAccumulationEqualsOneBatch() throws {
        let model = try TransformerModel.load(directory: dir)
        let ids = try TinyReference.load().gradients.input_ids
        let seqs: [[Int32]] = [Array(ids.prefix(12)), Array(ids.suffix(25)), Array(ids[4..<10]), Array(ids.prefix(30))]
        let whole = try TokenBatch(sequences: seqs)
        let total = seqs.reduce(0) { $0 + $1.count - 1 }
        model.zeroGrad()
        try accumulate(model, whole, totalTokens: total)
        let one = model.store.gradients.values
        for rows in [1, 3] {
            model.zeroGrad()
            for mb in try whole.micro(rowsPerBatch: rows) { try accumulate(model, mb, totalTokens: total) }
            model.store.finalizeGradients()
            let acc = model.store.gradients.values
            let norm = one.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            let worst = zip(acc, one).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThan(worst / norm, 1e-5, "micro-batches of \(rows) rows")
            XCTAssertGreaterThan(norm, 0)
        }
    }
}
