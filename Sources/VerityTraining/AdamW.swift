// AdamW: the optimizer of the trainers, over a ParameterStore's two blocks in one pass (torch.optim.AdamW
// semantics: decoupled weight decay p ← p·(1 − lr·wd), then the bias-corrected Adam step). Its state
// (first and second moments, step count) is two more blocks of the store's layout, so a checkpoint
// saves it as three flat arrays. Each step bumps the store's version (the sampler records the version it samples).
import Foundation
import VerityTensor

/// AdamW hyper-parameters.
public struct AdamWConfig: Sendable, Equatable {
    /// β1, β2.
    public var beta1 = 0.9, beta2 = 0.999
    /// ε added to the denominator.
    public var eps = 1e-8
    /// Decoupled weight decay.
    public var weightDecay = 0.01

    /// Hyper-parameters (torch's defaults except weight decay 0.01, verl's).
    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }
}

/// AdamW over flat float32 buffers: moments kept in float32, the update computed in Double per element.
public final class AdamW {
    /// Hyper-parameters.
    public var config: AdamWConfig
    /// First moments m (one per parameter element).
    public private(set) var firstMoment: [Float]
    /// Second moments v.
    public private(set) var secondMoment: [Float]
    /// Steps taken.
    public private(set) var step = 0

    /// An optimizer for `count` parameter elements.
    public init(count: Int, config: AdamWConfig = AdamWConfig()) {
        self.config = config
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
    }

    /// Restores saved state (for a resume).
    public init(config: AdamWConfig, firstMoment: [Float], secondMoment: [Float], step: Int) {
        precondition(firstMoment.count == secondMoment.count, "moment blocks of one size")
        self.config = config
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.step = step
    }

    /// Replaces the state with a saved one of the same size (a resume).
    public func restore(firstMoment m: [Float], secondMoment v: [Float], step: Int) {
        precondition(m.count == firstMoment.count && v.count == secondMoment.count, "optimizer state of another model")
        firstMoment = m
        secondMoment = v
        self.step = step
    }

    /// One step with learning rate `lr` on `params` given `grads` (same length as the state).
    public func update(params: UnsafeMutableBufferPointer<Float>, grads: UnsafeMutableBufferPointer<Float>, lr: Double)
    {
        precondition(params.count == firstMoment.count && grads.count == params.count, "parameter count changed")
        step += 1
        let c = config, b1 = c.beta1, b2 = c.beta2
        let bc1 = 1 - Foundation.pow(b1, Double(step)), bc2 = 1 - Foundation.pow(b2, Double(step))
        let decay = 1 - lr * c.weightDecay
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                for i in 0..<params.count {
                    let g = Double(grads[i])
                    let mi = b1 * Double(m[i]) + (1 - b1) * g
                    let vi = b2 * Double(v[i]) + (1 - b2) * g * g
                    m[i] = Float(mi)
                    v[i] = Float(vi)
                    let p = Double(params[i]) * decay
                    params[i] = Float(p - lr * (mi / bc1) / ((vi / bc2).squareRoot() + c.eps))
                }
            }
        }
    }

    /// One step on every parameter of `store` (one pass over its value and gradient blocks; bumps its version).
    public func step(_ store: ParameterStore, lr: Double) {
        store.update { values, grads in update(params: values, grads: grads, lr: lr) }
    }
}
