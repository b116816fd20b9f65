// SeededGenerator: SplitMix64, the one seeded generator of the package (initialisation, sampling
// rows, shuffles, the verifier's randomised comparisons, seeding Lua's generators). Every random draw
// in Verity takes one explicitly; there is no global generator.
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

    /// SplitMix64's first output for seed `x`: a 64-bit mix used to derive independent seeds from several numbers.
    public static func mix(_ x: UInt64) -> UInt64 {
        var g = SeededGenerator(seed: x)
        return g.next()
    }

    /// A uniform float in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A standard normal draw (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300), u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}
