// Random: a small seeded generator (SplitMix64) and normal draws for initialisation and tests.
// Every random draw in Verity takes one of these explicitly; there is no global generator.
import Foundation

// MARK: - Seeded generator

/// SplitMix64 (Steele, Lea, Flood 2014): a fast, seedable 64-bit generator.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The generator's state.
    public private(set) var state: UInt64

    /// A generator started from `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator restored from a saved `state` (a resume continues the same sequence).
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A standard normal draw (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300), u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// A tensor of N(mean, std²) draws from `generator` (Box–Muller pairs in float32: both outputs of each pair are used).
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout SeededGenerator) -> Tensor {
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
