// ResponseLengths: the `--lengths SPEC` of `verity bench train`. Real RLVR batches are not one shape: responses run
// from a few dozen tokens to the cap. A spec names a distribution of response lengths, and the bench forces each
// sample to a length drawn from it with the bench's seed, so Verity and a peer given the same list see the same batch.
// It does not run anything.
import Foundation
import VerityCore

/// A distribution of response lengths: `fixed:N`, `uniform:LO:HI` (inclusive), or `file:F.json` (a JSON list of
/// lengths, or a run's `samples/step-N.jsonl` whose lines carry `tokens`; drawn from with replacement).
public enum ResponseLengths: Equatable, Sendable {
    case fixed(Int)
    case uniform(Int, Int)
    case list([Int], source: String)

    /// Parses a spec; errors name the spec and what was expected.
    public static func parse(_ spec: String) throws -> ResponseLengths {
        let parts = spec.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        func count(_ s: String) throws -> Int {
            guard let v = Int(s), (1...1 << 20).contains(v) else {
                throw BenchError("--lengths \(spec): '\(s)' is not a token count from 1 to \(1 << 20)")
            }
            return v
        }
        switch parts.first {
        case "fixed" where parts.count == 2: return .fixed(try count(parts[1]))
        case "uniform" where parts.count == 3:
            let lo = try count(parts[1]), hi = try count(parts[2])
            guard lo <= hi else { throw BenchError("--lengths \(spec): the low end \(lo) is above the high end \(hi)") }
            return .uniform(lo, hi)
        case "file" where parts.count >= 2:
            let path = parts.dropFirst().joined(separator: ":")
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw BenchError("--lengths \(spec): cannot read \(path): \(error.localizedDescription)")
            }
            var lengths: [Int] = []
            if let list = try? JSONSerialization.jsonObject(with: data) as? [Any] {
                for (i, v) in list.enumerated() {
                    guard let n = v as? Int, (1...1 << 20).contains(n) else {
                        throw BenchError("\(path): entry \(i + 1) is not a token count from 1 to \(1 << 20)")
                    }
                    lengths.append(n)
                }
            } else {
                for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
                    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        let n = obj["tokens"] as? Int, (1...1 << 20).contains(n)
                    else {
                        throw BenchError(
                            "\(path):\(i + 1): expected a JSON list of lengths or samples lines with \"tokens\"")
                    }
                    lengths.append(n)
                }
            }
            guard !lengths.isEmpty else { throw BenchError("\(path): no lengths") }
            return .list(lengths, source: path)
        default:
            throw BenchError("--lengths \(spec): expected fixed:N, uniform:LO:HI or file:F.json")
        }
    }

    /// The spec as written on the command line.
    public var spec: String {
        switch self {
        case .fixed(let n): return "fixed:\(n)"
        case .uniform(let lo, let hi): return "uniform:\(lo):\(hi)"
        case .list(_, let source): return "file:\(source)"
        }
    }

    /// The longest length the spec can give.
    public var maximum: Int {
        switch self {
        case .fixed(let n): return n
        case .uniform(_, let hi): return hi
        case .list(let l, _): return l.max() ?? 1
        }
    }

    /// `count` lengths drawn with `seed` (the same list for the same spec and seed).
    public func draw(count: Int, seed: UInt64) -> [Int] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            switch self {
            case .fixed(let n): return n
            case .uniform(let lo, let hi): return lo + Int(g.next() % UInt64(hi - lo + 1))
            case .list(let l, _): return l[Int(g.next() % UInt64(l.count))]
            }
        }
    }
}

/// A benchmark's bad setting, with a message that names it.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
