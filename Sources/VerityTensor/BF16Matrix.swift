// BF16Matrix: a frozen weight matrix held in bfloat16 (half the bytes of float32) and widened,
// exactly, to float32 when an op computes with it: the frozen base under LoRA and a bfloat16
// reference model (`reference = { dtype = "bf16" }`). Every product still runs in float32 (BLAS or
// the sampler's kernels); only the stored values are rounded, once, to nearest even. The widened copy
// lives as long as the op that asked for it (one layer's projection), never for the whole model.
import Foundation
import VerityCore

/// A read-only matrix [rows, columns] stored as bfloat16.
public final class BF16Matrix: @unchecked Sendable {
    /// [rows, columns].
    public let shape: [Int]
    /// rows · columns.
    public let count: Int
    /// The bfloat16 bits, row-major.
    public let bits: UnsafeMutablePointer<UInt16>

    /// `values` [shape] rounded to bfloat16 (round to nearest even, as torch's `.to(bfloat16)`).
    public init(_ values: UnsafePointer<Float>, shape: [Int]) {
        precondition(shape.count == 2 && shape.allSatisfy { $0 > 0 }, "BF16Matrix needs a 2-D shape, got \(shape)")
        self.shape = shape
        count = shape[0] * shape[1]
        bits = .allocate(capacity: count)
        for i in 0..<count { bits[i] = floatToBFloat16(values[i]) }
    }

    deinit { bits.deallocate() }

    /// Bytes held.
    public var bytes: Int { count * 2 }

    /// Writes the float32 values (exact widening) into `out` [count].
    public func widen(into out: UnsafeMutablePointer<Float>) {
        let b = bits
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(b[i]) << 16) }
    }

    /// The float32 values in a fresh tensor (a scratch for one product).
    public func widened() -> Tensor {
        let t = Tensor(uninitialized: shape)
        widen(into: t.data)
        return t
    }
}
