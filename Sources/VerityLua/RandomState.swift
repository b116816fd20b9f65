// RandomState: what a resume needs of a Lua state's randomness. `verity.random`'s generator state
// can be read and restored exactly. Lua's own `math.random` keeps its state inside the math library,
// out of reach of the C API, so the trainer reseeds both generators at the start of every step from
// (run seed, step) with `seed(run:step:)`: a run resumed at a step boundary then draws exactly what
// the uninterrupted run drew, with nothing to save.
import Foundation
import VerityCore

/// `verity.random`'s generator state (xoshiro256**'s four words).
public struct LuaRandomState: Codable, Sendable, Equatable {
    /// The four state words.
    public var words: [UInt64]
}

extension LuaState {
    /// `verity.random`'s generator state now.
    public var randomState: LuaRandomState {
        get { LuaRandomState(words: [random.s.0, random.s.1, random.s.2, random.s.3]) }
        set {
            precondition(newValue.words.count == 4, "xoshiro256** has four state words")
            random.s = (newValue.words[0], newValue.words[1], newValue.words[2], newValue.words[3])
        }
    }

    /// Seeds `verity.random` and `math.random` for step `step` of a run seeded `run` (a SplitMix64 mix of the two), so that
    /// every step's draws depend only on (run, step).
    public func seed(run: UInt64, step: Int) throws {
        try seed(SeededGenerator.mix(SeededGenerator.mix(run) ^ UInt64(truncatingIfNeeded: step)))
    }
}
