// A differentiable op written outside VerityTensor with its public op-building API (as a PPO value
// head or a LoRA adapter would be), checked by VerityTensor's public central-difference check, and
// used on a model's hidden states: a low-rank adapter y = x + s·(x·Aᵀ)·Bᵀ with its own backward.
import Foundation
import XCTest
import VerityFixtures
import VerityTensor
import VerityModel

/// y = x + scale · (x·Aᵀ)·Bᵀ for x [N, C], A [R, C], B [C, R], forward and backward side by side.
func lowRankAdapter(_ x: Variable, _ a: Variable, _ b: Variable, scale: Float) -> Variable {
    let n = x.value.rows, c = x.value.lastDim, r = a.shape[0]
    let xa = Tensor(uninitialized: [n, r])
    BLAS.gemm(transB: true, m: n, n: r, k: c, a: x.value.data, lda: c, b: a.value.data, ldb: c, c: xa.data, ldc: r)
    let y = x.value.copy()
    BLAS.gemm(
        transB: true, m: n, n: c, k: r, alpha: scale, a: xa.data, lda: r, b: b.value.data, ldb: r, beta: 1, c: y.data,
        ldc: c)
    return Variable(result: y, parents: [x, a, b], op: "lowRankAdapter") { dy in
        // dB = s·dyᵀ·(xA ᵀ), d(xA) = s·dy·B, dA = d(xA)ᵀ·x, dx = dy + d(xA)·A.
        if let (db, beta) = b.gradProductTarget() {
            BLAS.gemm(
                transA: true, m: c, n: r, k: n, alpha: scale, a: dy.data, lda: c, b: xa.data, ldb: r, beta: beta, c: db,
                ldc: r)
        }
        let dxa = Tensor(uninitialized: [n, r])
        BLAS.gemm(m: n, n: r, k: c, alpha: scale, a: dy.data, lda: c, b: b.value.data, ldb: r, c: dxa.data, ldc: r)
        if let (da, beta) = a.gradProductTarget() {
            BLAS.gemm(
                transA: true, m: r, n: c, k: n, a: dxa.data, lda: r, b: x.value.data, ldb: c, beta: beta, c: da, ldc: c)
        }
        if let dx = x.gradPointer() {
            Kernels.axpy(1, dy.data, into: dx, count: dy.count)
            BLAS.gemm(m: n, n: c, k: r, a: dxa.data, lda: r, b: a.value.data, ldb: c, beta: 1, c: dx, ldc: c)
        }
    }
}

final class ExternalOpTests: XCTestCase {
    func tensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor.normal(shape, generator: &g)
    }

    func testAdapterGradientsPassTheCentralDifferenceCheck() {
        let results = GradientCheck.run(inputs: [
            tensor([5, 8], seed: 1), tensor([3, 8], seed: 2), tensor([8, 3], seed: 3),
        ]) {
            lowRankAdapter($0[0], $0[1], $0[2], scale: 0.7)
        }
        XCTAssertEqual(results.count, 3)
        for r in results {
            XCTAssertTrue(r.hasGradient)
            XCTAssertLessThan(r.worstRelativeError, 2e-2, "input \(r.input)")
        }
    }

    func testTheCheckCatchesAWrongBackward() {
        // The same forward with dA dropped by half: the check must report it.
        let results = GradientCheck.run(inputs: [tensor([4, 6], seed: 4), tensor([2, 6], seed: 5)]) { v in
            let x = v[0], a = v[1]
            let y = Tensor(uninitialized: [4, 2])
            BLAS.gemm(
                transB: true, m: 4, n: 2, k: 6, a: x.value.data, lda: 6, b: a.value.data, ldb: 6, c: y.data, ldc: 2)
            return Variable(result: y, parents: [x, a], op: "badLinear") { dy in
                if let (da, beta) = a.gradProductTarget() {
                    BLAS.gemm(
                        transA: true, m: 2, n: 6, k: 4, alpha: 0.5, a: dy.data, lda: 2, b: x.value.data, ldb: 6,
                        beta: beta, c: da, ldc: 6)
                }
            }
        }
        XCTAssertEqual(results.map(\.hasGradient), [false, true])
        XCTAssertGreaterThan(results[1].worstRelativeError, 0.1)
    }

    func testAdapterTrainsOnAModelsHiddenStates() throws {
        let model = try TransformerModel.load(directory: Fixtures.url("tiny-qwen2"))
        let c = model.config.hiddenSize
        let a = Variable(tensor([4, c], seed: 6), requiresGrad: true),
            b = Variable(Tensor(zeros: [c, 4]), requiresGrad: true)
        let ids: [Int32] = [5, 6, 7, 8, 9]
        let h = try model.hiddenStates(ids: ids, batch: 1, trainable: true)
        let (loss, _, _) = model.tokenLoss(
            hidden: lowRankAdapter(h, a, b, scale: 1), targets: [6, 7, 8, 9, 0], trainable: true
        ) { i, lp, _ in
            i < 4 ? (-lp, -1, 0) : (0, 0, 0)
        }
        loss.backward()
        // B starts at zero, so only B gets a gradient through the adapter path (as LoRA's B does), and the model's own
        // parameters still get theirs.
        XCTAssertGreaterThan(b.grad?.l2Norm() ?? 0, 0)
        XCTAssertEqual(a.grad?.l2Norm() ?? 0, 0)
        XCTAssertGreaterThan(model.store.gradientNorm(), 0)
    }
}
