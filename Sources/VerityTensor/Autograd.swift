// Autograd: reverse-mode differentiation over coarse ops. A Variable holds a value, an optional
// gradient, its parents and one closure that, given the gradient of its value, adds into its
// parents' gradients (each op in Ops.swift writes that closure beside its forward). `backward()`
// walks the graph once in reverse topological order and frees intermediate gradients and saved
// tensors as it goes. It is not a tensor library with broadcasting rules or an optimiser.
import Foundation
import VerityMeasure

// MARK: - Variable

/// A node of the autograd graph: a value, its gradient, and how to pass that gradient to its parents.
public final class Variable {
    /// The forward value.
    public let value: Tensor
    /// The accumulated gradient of the loss with respect to `value` (nil until something flows in).
    public internal(set) var grad: Tensor?
    /// Whether gradients are tracked for this node (leaves: as created; results: any parent tracked).
    public let requiresGrad: Bool
    /// The inputs this node was computed from (empty for leaves and untracked results).
    var parents: [Variable]
    /// Adds this node's gradient into its parents' gradients; nil for leaves and untracked results.
    var backwardFn: ((Tensor) -> Void)?
    /// The op that made this node ("leaf" for leaves), for the profiler.
    let op: StaticString
    /// Where this leaf's gradient lives when it belongs to a `ParameterStore` (a view of the store's gradient block);
    /// `grad` is then either nil (logically zero) or this very tensor.
    public let gradientStorage: Tensor?

    /// A leaf: a parameter (`requiresGrad: true`) or a constant input.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.parents = []
        self.backwardFn = nil
        self.op = "leaf"
        self.gradientStorage = nil
    }

    /// A tracked leaf whose gradient accumulates in `gradientStorage` (same element count as `value`), as a parameter
    /// store's views do.
    public init(_ value: Tensor, gradientStorage: Tensor) {
        precondition(
            gradientStorage.count == value.count, "gradient storage \(gradientStorage.shape) for value \(value.shape)")
        self.value = value
        self.requiresGrad = true
        self.parents = []
        self.backwardFn = nil
        self.op = "leaf"
        self.gradientStorage = gradientStorage
    }

    /// An op result; tracked only when a parent is. This is how an op is built, in any module: compute the forward
    /// value, then give the parents and a closure that, given ∂loss/∂value, adds into each tracked parent's gradient
    /// (through `gradPointer()` or `gradProductTarget()`). `op` names it for the profiler.
    public init(result value: Tensor, parents: [Variable], op: StaticString, backward: @escaping (Tensor) -> Void) {
        if OpProfiler.enabled { OpProfiler.forwardDone(op) }
        self.gradientStorage = nil
        self.op = op
        let tracked = parents.contains { $0.requiresGrad }
        self.value = value
        self.requiresGrad = tracked
        self.parents = tracked ? parents : []
        self.backwardFn = tracked ? backward : nil
    }

    /// The value's shape.
    public var shape: [Int] { value.shape }

    /// Whether this node is a leaf (no recorded parents).
    public var isLeaf: Bool { parents.isEmpty }

    /// The gradient tensor, allocated zero-filled on first use; ops accumulate into it.
    public func gradBuffer() -> Tensor {
        if let g = grad { return g }
        if let s = gradientStorage {
            s.fill(0)
            grad = s
            return s
        }
        let g = Tensor(zeros: value.shape)
        grad = g
        return g
    }

    /// The gradient pointer when this node tracks gradients, else nil (ops skip work for nil); ops add into it.
    public func gradPointer() -> UnsafeMutablePointer<Float>? {
        requiresGrad ? gradBuffer().data : nil
    }

    /// The gradient pointer for an op that writes a whole product into it: (pointer, beta) where beta is 0 when the
    /// buffer is new and uninitialised (so the product overwrites it without a zero-fill) and 1 when it accumulates.
    /// nil when this node does not track gradients.
    public func gradProductTarget() -> (UnsafeMutablePointer<Float>, Float)? {
        guard requiresGrad else { return nil }
        if let g = grad { return (g.data, 1) }
        let g = gradientStorage ?? Tensor(uninitialized: value.shape)
        grad = g
        return (g.data, 0)
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Replaces the gradient. A store-backed leaf copies `g` into its storage (so the store's block stays the gradient).
    public func setGrad(_ g: Tensor?) {
        if let g { precondition(g.count == value.count, "gradient \(g.shape) for value \(value.shape)") }
        if let s = gradientStorage, let g {
            if g !== s { s.data.update(from: g.data, count: g.count) }
            grad = s
        } else {
            grad = g
        }
    }

    // MARK: - Backward

    /// Back-propagates from this node with seed gradient `seed` (default: ones, i.e. d(self)/d(self) for a scalar loss).
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let s =
            seed
            ?? {
                let t = Tensor(uninitialized: value.shape); t.fill(1); return t
            }()
        precondition(s.count == value.count, "seed \(s.shape) for value \(value.shape)")
        gradBuffer().addInPlace(s)
        for node in topologicalOrder().reversed() {
            guard let fn = node.backwardFn else { continue }
            if let g = node.grad {
                if OpProfiler.enabled {
                    let t0 = CPUShareProbe.now()
                    fn(g)
                    OpProfiler.add("\(node.op).backward", CPUShareProbe.now() - t0)
                } else {
                    fn(g)
                }
            }
            // Free what this node held: its gradient, saved tensors and parent links.
            node.backwardFn = nil
            node.parents = []
            node.grad = nil
        }
    }

    /// Nodes reachable from self with every node after all of its parents.
    func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(Variable, Int)] = [(self, 0)]
        seen.insert(ObjectIdentifier(self))
        while let (node, i) = stack.popLast() {
            if i < node.parents.count {
                stack.append((node, i + 1))
                let p = node.parents[i]
                if p.requiresGrad && !seen.contains(ObjectIdentifier(p)) {
                    seen.insert(ObjectIdentifier(p))
                    stack.append((p, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }
}
