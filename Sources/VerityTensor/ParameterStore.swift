// ParameterStore: every parameter of a model in one contiguous float32 block, and every gradient in
// a second block of the same layout (llm.c's layout), with one tracked `Variable` per tensor viewing
// its slice of each. An optimizer step, global-norm clipping, a checkpoint write and a data-parallel
// all-reduce are then each one pass over one buffer (or a few buckets of it). The store counts its
// versions: whoever changes the values (an optimizer step, a checkpoint load) bumps the version, so
// a copy made from the values (the sampler's packed weights) can tell that it is stale. It is not an
// optimizer and knows nothing of model architectures; names and shapes come from the caller.
import Foundation

// MARK: - Store

/// Parameters and their gradients, each in one contiguous block, with per-tensor views in a fixed order.
public final class ParameterStore {
    /// Parameter names in store order (checkpoint order).
    public let names: [String]
    /// Each parameter's shape, in store order.
    public let shapes: [[Int]]
    /// Each parameter's first element in the blocks, in store order.
    public let offsets: [Int]
    /// The number of floats in each block.
    public let count: Int
    /// All parameter values [count], tensor after tensor.
    public let values: Tensor
    /// All gradients [count], in the same layout as `values`.
    public let gradients: Tensor
    /// One tracked leaf per parameter: its value and gradient storage are views of the two blocks.
    public let variables: [Variable]
    /// Store index of each name.
    public let index: [String: Int]
    /// Bumped by every change to the values (optimizer step, load); copies of the values record the version they saw.
    public private(set) var version: UInt64 = 0

    /// A store for `parameters` (name, shape) in the given order; names must be unique. The value block is uninitialised
    /// (the caller fills every tensor: a loader, a random init); the gradient block is logically zero and its memory is
    /// not touched until a backward writes it, so a model that only samples costs no gradient memory.
    public init(_ parameters: [(String, [Int])]) {
        var offs: [Int] = [], total = 0, idx: [String: Int] = [:]
        for (i, (name, shape)) in parameters.enumerated() {
            precondition(idx[name] == nil, "parameter \(name) listed twice")
            precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(name) \(shape)")
            idx[name] = i
            offs.append(total)
            total += shape.reduce(1, *)
        }
        names = parameters.map(\.0)
        shapes = parameters.map(\.1)
        offsets = offs
        count = total
        index = idx
        values = Tensor(uninitialized: [total])
        gradients = Tensor(uninitialized: [total])
        let v = values, g = gradients
        variables = zip(parameters, offs).map { p, o in
            Variable(
                Tensor(shape: p.1, borrowing: v.data + o, owner: v),
                gradientStorage: Tensor(shape: p.1, borrowing: g.data + o, owner: g))
        }
    }

    /// The tracked leaf of parameter `name`, if the store has it.
    public func variable(_ name: String) -> Variable? { index[name].map { variables[$0] } }

    /// The value tensor (a view) of parameter `name`, if the store has it.
    public func value(_ name: String) -> Tensor? { variable(name)?.value }

    /// (name, value view) pairs in store order, as a checkpoint writer takes them.
    public var namedValues: [(String, Tensor)] { zip(names, variables).map { ($0, $1.value) } }

    // MARK: Versions

    /// Records that the values changed (an optimizer step, a load, a hand edit): stale copies can tell.
    public func bumpVersion() { version &+= 1 }

    /// Runs `body` over the value and gradient blocks (one pass for an optimizer), then bumps the version.
    public func update(
        _ body: (_ values: UnsafeMutableBufferPointer<Float>, _ gradients: UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        finalizeGradients()
        body(values.buffer, gradients.buffer)
        bumpVersion()
    }

    // MARK: Gradients

    /// Makes every gradient logically zero (no pass over memory: the first op to write a gradient overwrites its view).
    public func zeroGrad() { for v in variables { v.zeroGrad() } }

    /// Zero-fills the views no op has written since `zeroGrad()`, so the gradient block holds the whole gradient.
    public func finalizeGradients() { for v in variables where v.grad == nil { _ = v.gradBuffer() } }

    /// The global L2 norm of the gradient block (one pass; summed in Double).
    public func gradientNorm() -> Double {
        finalizeGradients()
        var s = 0.0
        let p = gradients.data
        for i in 0..<count { let x = Double(p[i]); s += x * x }
        return s.squareRoot()
    }

    /// Scales the gradient block so its global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_: the factor is
    /// maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Double) -> Double {
        let norm = gradientNorm()
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 {
            let f = Float(factor), p = gradients.data
            for i in 0..<count { p[i] *= f }
        }
        return norm
    }

    /// Combines the gradient block across data-parallel workers with `reducer`, in buckets of at most `bucketFloats`.
    public func allReduceGradients(_ reducer: GradientReducer, bucketFloats: Int = 1 << 24) throws {
        finalizeGradients()
        var start = 0
        while start < count {
            let n = min(bucketFloats, count - start)
            try reducer.allReduce(UnsafeMutableBufferPointer(start: gradients.data + start, count: n))
            start += n
        }
    }

    // MARK: Values

    /// Copies `source`'s values into this store (same names, shapes and order), then bumps the version.
    public func copyValues(from source: ParameterStore) {
        precondition(source.names == names && source.shapes == shapes, "stores of different layouts")
        values.data.update(from: source.values.data, count: count)
        bumpVersion()
    }
}

// MARK: - Gradient hooks

/// Combines gradients across data-parallel workers before the optimiser step (identity on one worker). The trainer's
/// workers each hold the gradient of their share of one global loss (weighted by the whole batch's token counts), so
/// its reducer sums; a reducer over per-worker mean losses would average.
public protocol GradientReducer: AnyObject {
    /// Replaces each element of `bucket` (a slice of the gradient block) by its combination over all workers, in place.
    func allReduce(_ bucket: UnsafeMutableBufferPointer<Float>) throws
}

/// The single-process reducer: leaves gradients unchanged.
public final class LocalGradientReducer: GradientReducer {
    /// A reducer for one worker.
    public init() {}
    /// Does nothing: one worker's gradient is already the whole.
    public func allReduce(_ bucket: UnsafeMutableBufferPointer<Float>) throws {}
}
