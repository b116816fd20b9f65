// Random: tensors of normal draws from a SeededGenerator (VerityCore), for initialisation and tests.
import Foundation
@_exported import VerityCore

extension Tensor {
    /// A tensor of N(mean, std²) draws from `generator` (Box–Muller pairs in float32: both outputs of each pair are used).
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout SeededGenerator)
        -> Tensor
    {
        let t = Tensor(uninitialized: shape)
        var i = 0
        while i < t.count {
            let bits = generator.next()
            let u1 = max(Float(bits >> 40) * 0x1p-24, 0x1p-25), u2 = Float((bits >> 16) & 0xFF_FFFF) * 0x1p-24
            let r = (-2 * Foundation.log(u1)).squareRoot() * std
            let a = 2 * Float.pi * u2
            t.data[i] = mean + r * Foundation.cos(a)
            if i + 1 < t.count { t.data[i + 1] = mean + r * Foundation.sin(a) }
            i += 2
        }
        return t
    }
}
