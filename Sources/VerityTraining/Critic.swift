// Critic: PPO's value model, a transformer (initialised from the policy's folder or a given one)
// with a linear value head [1, C] on its final hidden states, trained with the clipped value loss
// (LossTerms.swift) by its own AdamW. The value of response token t is read at the position that
// predicts it (the state before the token is generated), as verl's critic does. The value-loss op is
// written with VerityTensor's public op-building API (forward and backward side by side).
import Foundation
import VerityCore
import VerityTensor
import VerityModel

/// A value model: transformer body + value head, each with its own optimizer state.
public final class ValueModel {
    /// The transformer body.
    public let body: TransformerModel
    /// The value head: `value_head.weight` [1, C] and `value_head.bias` [1] (zero-initialised).
    public let head: ParameterStore
    /// Optimizers of the body and of the head.
    public let bodyOptimizer: AdamW, headOptimizer: AdamW

    /// A critic whose body is the model in `directory`; the head starts at zero (every value 0).
    public init(directory: URL, config: AdamWConfig) throws {
        body = try TransformerModel.load(directory: directory)
        head = ParameterStore([("value_head.weight", [1, body.config.hiddenSize]), ("value_head.bias", [1])])
        head.values.fill(0)
        bodyOptimizer = AdamW(count: body.store.count, config: config)
        headOptimizer = AdamW(count: head.count, config: config)
    }

    /// Values [B·T] of every position of a batch (no gradient).
    public func values(_ batch: TokenBatch) throws -> [Float] {
        let h = try body.hiddenStates(batch, trainable: false)
        return Ops.linear(h, Variable(head.variables[0].value), Variable(head.variables[1].value)).value.values
    }

    /// Adds the gradient of Σᵢ wᵢ·½·max((v̂ᵢ − Rᵢ)², (clamp(v̂ᵢ, vᵢ ± c) − Rᵢ)²) over a micro-batch (v̂ the current values,
    /// v the rollout values, R the returns; zero weights off the response); returns (loss, clipped tokens, weighted tokens).
    @discardableResult
    public func accumulateLoss(
        _ batch: TokenBatch, rolloutValues: [Double], returns: [Double], weights: [Double],
        loss: ValueLoss
    ) throws -> (loss: Double, clipped: Double, tokens: Double) {
        let h = try body.hiddenStates(batch, trainable: true)
        let v = Ops.linear(h, head.variables[0], head.variables[1])
        var clipped = 0.0, tokens = 0.0
        for i in weights.indices where weights[i] != 0 {
            tokens += 1
            if loss.token(prediction: Double(v.value.data[i]), rolloutValue: rolloutValues[i], target: returns[i])
                .clipped
            {
                clipped += 1
            }
        }
        let l = ValueModel.valueLoss(v, rolloutValues: rolloutValues, returns: returns, weights: weights, loss: loss)
        l.backward()
        return (Double(l.value.data[0]), clipped, tokens)
    }

    /// The clipped value loss as an autograd op on values [N, 1].
    static func valueLoss(_ v: Variable, rolloutValues: [Double], returns: [Double], weights: [Double], loss: ValueLoss)
        -> Variable
    {
        let n = v.value.count
        var total = 0.0
        var grad = [Float](repeating: 0, count: n)
        for i in 0..<n where weights[i] != 0 {
            let t = loss.token(prediction: Double(v.value.data[i]), rolloutValue: rolloutValues[i], target: returns[i])
            total += weights[i] * 0.5 * t.loss
            grad[i] = Float(weights[i] * 0.5 * t.dPrediction)
        }
        return Variable(result: Tensor(shape: [1], values: [Float(total)]), parents: [v], op: "valueLoss") { dy in
            guard let dv = v.gradPointer() else { return }
            let s = dy.data[0]
            for i in 0..<n { dv[i] += s * grad[i] }
        }
    }

    /// Makes the body's and the head's gradients logically zero.
    public func zeroGrad() {
        body.zeroGrad()
        head.zeroGrad()
    }

    /// Clips the gradient of body and head together to global norm `maxNorm` (0: no clipping), then steps both optimizers;
    /// returns the norm before clipping, or nil (and no step) when it is not finite.
    public func step(lr: Double, maxNorm: Double) -> Double? {
        let a = body.store.gradientNorm(), b = head.gradientNorm()
        let norm = (a * a + b * b).squareRoot()
        guard norm.isFinite else { return nil }
        if maxNorm > 0 && maxNorm / (norm + 1e-6) < 1 {
            let f = Float(maxNorm / (norm + 1e-6))
            for store in [body.store, head] { let p = store.gradients.data; for i in 0..<store.count { p[i] *= f } }
        }
        bodyOptimizer.step(body.store, lr: lr)
        headOptimizer.step(head, lr: lr)
        return norm
    }
}
