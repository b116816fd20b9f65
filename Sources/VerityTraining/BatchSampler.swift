// BatchSampler: which training examples each step uses. The example list is repeated to
// `repeat_to` (1-shot: one example × 128), then walked in epochs; each epoch is a permutation drawn
// from a generator seeded by (run seed, epoch), so the order depends on nothing but the seed, and
// the position (epoch, offset) is all a resume needs. A batch wider than what is left of an epoch
// continues into the next one. It does not read files or render prompts.
import Foundation
import VerityCore

/// Draws batches of example indices.
public struct BatchSampler: Sendable, Equatable, Codable {
    /// Indices into the example list, repeated to the recipe's `repeat_to`.
    public let pool: [Int]
    /// Shuffle each epoch (false: the pool's order every epoch).
    public let shuffle: Bool
    /// The run seed.
    public let seed: UInt64
    /// The epoch being walked.
    public private(set) var epoch = 0
    /// How many of this epoch's indices have been drawn.
    public private(set) var offset = 0

    /// A sampler over `count` examples repeated to at least `repeatTo` (0: once), shuffled by `seed`.
    public init(count: Int, repeatTo: Int, shuffle: Bool, seed: UInt64) {
        precondition(count > 0, "no examples")
        let copies = repeatTo > count ? (repeatTo + count - 1) / count : 1
        pool = Array((0..<(copies * count)).map { $0 % count }.prefix(max(repeatTo, count)))
        self.shuffle = shuffle
        self.seed = seed
    }

    /// Epoch `e`'s order of the pool.
    public func order(epoch e: Int) -> [Int] {
        guard shuffle else { return pool }
        var g = SeededGenerator(seed: SeededGenerator.mix(seed ^ SeededGenerator.mix(UInt64(e))))
        var out = pool
        // Fisher–Yates with the run's own generator (not the standard library's, whose algorithm may change).
        if out.count > 1 {
            for i in stride(from: out.count - 1, to: 0, by: -1) {
                let j = Int(g.next() % UInt64(i + 1))
                out.swapAt(i, j)
            }
        }
        return out
    }

    /// The next `size` example indices (continuing into the next epoch as needed).
    public mutating func next(_ size: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(size)
        while out.count < size {
            let ord = order(epoch: epoch)
            let take = min(size - out.count, ord.count - offset)
            out.append(contentsOf: ord[offset..<(offset + take)])
            offset += take
            if offset == ord.count { epoch += 1; offset = 0 }
        }
        return out
    }
}
