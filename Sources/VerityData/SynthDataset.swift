// SynthDataset: the seeded synthetic math task family behind `verity data synth`. The whole output is a pure
// function of (seed, counts, categories): problem i of a split is drawn by its own generator, seeded from (seed,
// split, i, attempt), with category i mod (number of categories), so adding training problems changes neither the
// test nor the validation split, and the first N training problems of a longer pool are the N of a shorter one.
// Test is drawn first, then validation, then train; a candidate whose problem text was already drawn (in any split)
// is redrawn with the next attempt number, so the splits share no problem text. Not here: the problem templates
// (Templates.swift) and the files (SynthFiles.swift).
import Foundation
import VerityCore

// MARK: - Errors

/// A synthetic-data request that cannot be met: a bad option, or a category with too few distinct problems.
public enum SynthError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// Option `field` (as on the command line, without dashes) has a bad value.
    case invalid(field: String, detail: String)
    /// `attempts` draws in a row for `split` index `index` (`category`) repeated problems already drawn.
    case exhausted(split: String, index: Int, category: String, attempts: Int)

    /// `--field: detail`, or the exhausted category and what to do.
    public var description: String {
        switch self {
        case .invalid(let field, let detail): return "--\(field): \(detail)"
        case .exhausted(let split, let index, let category, let attempts):
            return
                "\(split) problem \(index) (\(category)): \(attempts) draws in a row repeated problems already drawn; ask for fewer problems"
        }
    }
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

// MARK: - Splits and options

/// The three splits, in the order they are drawn.
public enum SynthSplit: String, CaseIterable, Sendable {
    /// The held-out test split (drawn first).
    case test
    /// The validation split (drawn second).
    case validation
    /// The training pool (drawn last).
    case train

    /// The number mixed into every seed of the split (fixed forever: changing it changes the data).
    var tag: UInt64 {
        switch self {
        case .test: return 0x7E57
        case .validation: return 0x5A11D
        case .train: return 0x7A1
        }
    }

    /// The JSONL file of the split.
    public var fileName: String { "\(rawValue).jsonl" }
}

/// What to generate: the seed, the number of problems per split and the categories.
public struct SynthOptions: Sendable, Equatable {
    /// Default training pool size.
    public static let defaultTrain = 5000
    /// Default validation split size.
    public static let defaultValidation = 300
    /// Default test split size.
    public static let defaultTest = 500
    /// Largest count accepted for any split.
    public static let maxCount = 100_000

    /// The seed every problem's generator is derived from.
    public var seed: UInt64
    /// Training problems (0 allowed).
    public var train: Int
    /// Validation problems (0 allowed).
    public var validation: Int
    /// Test problems (at least 1).
    public var test: Int
    /// Categories, assigned round-robin by index in this order.
    public var categories: [SynthCategory]
    /// Extra training-split problems after the pool (indices train..<train+sft), written to sft.jsonl with a
    /// `response` field for supervised training of a base model (0: no file).
    public var sft = 0
    /// The share of sft.jsonl responses whose last line states the answer without `\boxed{}` ("The answer is 19.").
    public var plainFraction = 0.5
    /// Per-category shares that replace `plainFraction` for the categories listed (a corpus whose answer style
    /// depends on the kind of problem, as a base model's pre-training sources do).
    public var plainByCategory: [SynthCategory: Double] = [:]
    /// When set, sft.jsonl responses come in two styles chosen by the first line: this share is *careful* ("Step by
    /// step." then every step, then a "Recheck:" of the last step) and the rest *hasty* ("Quick answer." then the
    /// answer at once, with no steps). Nil: every response is the worked solution alone, as before.
    public var carefulFraction: Double?
    /// The share of careful responses whose last step slips (a wrong value) and whose "Recheck:" line catches and
    /// repairs it ("Recheck: 100 - 69 = 31, not 32.").
    public var slipFraction = 0.25

    /// The plain-answer share of sft.jsonl responses in `category`.
    public func plainFraction(for category: SynthCategory) -> Double {
        plainByCategory[category] ?? plainFraction
    }

    /// The `--plain-by-category` text of `plainByCategory` (`mul_div=0.85,fractions=0.85`), in category order.
    public var plainByCategoryText: String {
        SynthCategory.allCases.compactMap { c in plainByCategory[c].map { "\(c.rawValue)=\($0)" } }
            .joined(separator: ",")
    }

    /// Parses `--plain-by-category` text: comma-separated `category=share` pairs; unknown, repeated or malformed
    /// entries are errors naming the entry.
    public static func parsePlainByCategory(_ text: String) throws -> [SynthCategory: Double] {
        var out: [SynthCategory: Double] = [:]
        let field = "plain-by-category"
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard parts.count == 2, let share = Double(parts[1]) else {
                throw SynthError.invalid(field: field, detail: "'\(entry)' is not category=share")
            }
            guard let c = SynthCategory(rawValue: parts[0]) else {
                throw SynthError.invalid(
                    field: field, detail: "unknown category '\(parts[0])' (known: \(SynthCategory.knownList))")
            }
            guard out[c] == nil else {
                throw SynthError.invalid(field: field, detail: "category '\(parts[0])' is listed twice")
            }
            out[c] = share
        }
        return out
    }

    /// Options with the defaults of `verity data synth` (seed 1, 5000 / 300 / 500, every category).
    public init(
        seed: UInt64 = 1, train: Int = defaultTrain, validation: Int = defaultValidation, test: Int = defaultTest,
        categories: [SynthCategory] = SynthCategory.allCases
    ) {
        self.seed = seed
        self.train = train
        self.validation = validation
        self.test = test
        self.categories = categories
    }

    /// The count of `split`.
    public func count(_ split: SynthSplit) -> Int {
        switch split {
        case .test: return test
        case .validation: return validation
        case .train: return train
        }
    }

    /// Throws `SynthError.invalid` naming the option when a count is out of range or no category is given.
    public func validate() throws {
        for split in SynthSplit.allCases {
            let n = count(split), low = split == .test ? 1 : 0
            guard (low...Self.maxCount).contains(n) else {
                throw SynthError.invalid(
                    field: split.rawValue, detail: "\(n) is out of range (expected \(low) to \(Self.maxCount))")
            }
        }
        guard (0...Self.maxCount).contains(sft) else {
            throw SynthError.invalid(field: "sft", detail: "\(sft) is out of range (expected 0 to \(Self.maxCount))")
        }
        guard (0...1).contains(plainFraction) else {
            throw SynthError.invalid(field: "plain-fraction", detail: "\(plainFraction) is not in [0, 1]")
        }
        for c in SynthCategory.allCases {
            if let share = plainByCategory[c], !(0...1).contains(share) {
                throw SynthError.invalid(
                    field: "plain-by-category", detail: "\(c.rawValue)=\(share): \(share) is not in [0, 1]")
            }
        }
        if let careful = carefulFraction, !(0...1).contains(careful) {
            throw SynthError.invalid(field: "careful-fraction", detail: "\(careful) is not in [0, 1]")
        }
        guard (0...1).contains(slipFraction) else {
            throw SynthError.invalid(field: "slip-fraction", detail: "\(slipFraction) is not in [0, 1]")
        }
        guard !categories.isEmpty else {
            throw SynthError.invalid(
                field: "categories", detail: "no category given (known: \(SynthCategory.knownList))")
        }
        for (i, c) in categories.enumerated() where categories[..<i].contains(c) {
            throw SynthError.invalid(field: "categories", detail: "category '\(c.rawValue)' is listed twice")
        }
    }
}

// MARK: - Problems

/// One generated problem with its split, index and chain-of-thought solution.
public struct SynthProblem: Sendable, Equatable {
    /// `demo-<split>-<index>`.
    public var id: String { "demo-\(split.rawValue)-\(index)" }
    /// The question.
    public var problem: String
    /// The answer as written inside the solution's final `\boxed{}` (an integer, or `\frac{a}{b}` reduced).
    public var answer: String
    /// One line per step, the last "The answer is \boxed{answer}.".
    public var solution: String
    /// The family it belongs to.
    public var category: SynthCategory
    /// The split it belongs to.
    public var split: SynthSplit
    /// Its position in the split, from 0.
    public var index: Int
}

// MARK: - Generation

/// A generated data set: the three splits for one `SynthOptions`.
public struct SynthDataset: Sendable {
    /// Draws in a row that may repeat earlier problems before `generate` gives up.
    public static let maxAttempts = 1000
    /// The `source` field of every record.
    public static let source = "verity-synth"

    /// What was asked for.
    public let options: SynthOptions
    /// The held-out test split.
    public let test: [SynthProblem]
    /// The validation split.
    public let validation: [SynthProblem]
    /// The training pool.
    public let train: [SynthProblem]
    /// The supervised-training corpus: the training split's problems after the pool.
    public let sft: [SynthProblem]

    /// The problems of `split`.
    public func problems(_ split: SynthSplit) -> [SynthProblem] {
        switch split {
        case .test: return test
        case .validation: return validation
        case .train: return train
        }
    }

    /// The seed of the generator of problem `index` of `split`, draw `attempt` (SplitMix64's mix, chained).
    public static func problemSeed(seed: UInt64, split: SynthSplit, index: Int, attempt: Int) -> UInt64 {
        var h = SeededGenerator.mix(seed ^ 0x5EED_DA7A_0000_0000)
        h = SeededGenerator.mix(h ^ split.tag)
        h = SeededGenerator.mix(h ^ UInt64(index))
        return SeededGenerator.mix(h ^ UInt64(attempt))
    }

    /// Generates the splits for `options` (validated first).
    public static func generate(_ options: SynthOptions) throws -> SynthDataset {
        try options.validate()
        var seen = Set<String>()
        var drawn: [SynthSplit: [SynthProblem]] = [:]
        var longer = options
        longer.train += options.sft  // the sft corpus continues the training split after the pool
        for split in SynthSplit.allCases {
            drawn[split] = try draw(split, options: longer, seen: &seen)
        }
        let train = drawn[.train] ?? []
        return SynthDataset(
            options: options, test: drawn[.test] ?? [], validation: drawn[.validation] ?? [],
            train: Array(train.prefix(options.train)), sft: Array(train.dropFirst(options.train)))
    }

    /// The problems of one split, skipping any problem text in `seen` (which collects the new ones).
    static func draw(_ split: SynthSplit, options: SynthOptions, seen: inout Set<String>) throws -> [SynthProblem] {
        let n = options.count(split)
        var out: [SynthProblem] = []
        out.reserveCapacity(n)
        for index in 0..<n {
            let category = options.categories[index % options.categories.count]
            var attempt = 0
            while true {
                var d = Draw(seed: problemSeed(seed: options.seed, split: split, index: index, attempt: attempt))
                let draft = Templates.draft(category, &d)
                if seen.insert(draft.problem).inserted {
                    out.append(
                        SynthProblem(
                            problem: draft.problem, answer: draft.answer, solution: draft.solution, category: category,
                            split: split, index: index))
                    break
                }
                attempt += 1
                guard attempt < maxAttempts else {
                    throw SynthError.exhausted(
                        split: split.rawValue, index: index, category: category.rawValue, attempts: attempt)
                }
            }
        }
        return out
    }

    /// A coin of `p` for the sft corpus, seeded by the problem and `salt`: uniform in [0, 1).
    func coin(_ p: SynthProblem, salt: Int) -> Double {
        var g = SeededGenerator(
            seed: SynthDataset.problemSeed(seed: options.seed, split: p.split, index: p.index, attempt: salt))
        return Double(g.next() >> 11) / Double(1 << 53)
    }

    /// Whether sft.jsonl states `p`'s answer without `\boxed{}` (a coin seeded by the problem, heads with the
    /// plain share of its category).
    public func isPlain(_ p: SynthProblem) -> Bool {
        coin(p, salt: 0x5F7) < options.plainFraction(for: p.category)
    }

    /// The style of `p`'s sft.jsonl response: nil when the corpus has one style (`carefulFraction` nil), else
    /// careful or hasty (a coin seeded by the problem).
    public func style(_ p: SynthProblem) -> ResponseStyle? {
        guard let careful = options.carefulFraction else { return nil }
        return coin(p, salt: 0x5F8) < careful ? .careful : .hasty
    }

    /// Whether `p`'s careful response slips in its last step (and repairs it in the recheck).
    public func slips(_ p: SynthProblem) -> Bool {
        style(p) == .careful && coin(p, salt: 0x5F9) < options.slipFraction
    }

    /// The supervised-training response of `p`: " " + its solution in the corpus's style, the last line "The answer
    /// is 19." (a fraction as "3/4") when `isPlain(p)`, else "The answer is \boxed{19}.".
    ///  - one style: the solution's steps;
    ///  - careful: "Step by step.", the steps, "Recheck: <last step's expression> = <value>." (with a slip: the last
    ///    step shows a wrong value and the recheck ends ", not <wrong value>.");
    ///  - hasty: "Quick answer." and no steps.
    public func response(_ p: SynthProblem) -> String {
        var lines = p.solution.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // "The answer is \boxed{...}."
        switch style(p) {
        case nil: break
        case .hasty?: lines = ["Quick answer."]
        case .careful?:
            if let last = lines.last, let step = LastStep(last) {
                var shown = step.value
                if slips(p) {
                    shown = step.slipped(coin(p, salt: 0x5FA))
                    lines[lines.count - 1] = step.line(value: shown)
                }
                lines.append(
                    "Recheck: \(step.expression) = \(step.value)" + (shown == step.value ? "." : ", not \(shown)."))
            }
            lines.insert("Step by step.", at: 0)
        }
        var answer = "\\boxed{\(p.answer)}"
        if isPlain(p) {
            answer = p.answer
            if answer.hasPrefix("\\frac{") {
                answer = String(answer.dropFirst(6).dropLast()).replacingOccurrences(of: "}{", with: "/")
            }
        }
        return " " + (lines + ["The answer is \(answer)."]).joined(separator: "\n")
    }

    /// How many problems of `category` `split` holds.
    public func count(_ split: SynthSplit, _ category: SynthCategory) -> Int {
        problems(split).reduce(0) { $0 + ($1.category == category ? 1 : 0) }
    }
}

// MARK: - Response styles

/// The two styles of a careful/hasty corpus (`SynthOptions.carefulFraction`).
public enum ResponseStyle: String, Sendable, Equatable {
    /// "Step by step.", every step, then a "Recheck:" of the last one.
    case careful
    /// "Quick answer.", then the answer with no steps.
    case hasty
}

/// A solution's last step, "Label: expression = value." (a fraction step may chain: "a/b - c/d = e/f - g/f = h/f";
/// the expression is then the part before the final value).
struct LastStep: Equatable {
    /// Everything before the expression ("Change: ", "Common denominator 90: 7/10 - 1/9 = ").
    var head: String
    /// The expression whose value the step states ("100 - 69").
    var expression: String
    /// The value ("31", "53/90").
    var value: String

    /// Parses `line`; nil when it is not "...: ... = value.".
    init?(_ line: String) {
        guard line.hasSuffix("."), let colon = line.range(of: ": ") else { return nil }
        let body = String(line[colon.upperBound...].dropLast())
        guard let eq = body.range(of: " = ", options: .backwards) else { return nil }
        let before = body[..<eq.lowerBound]
        let start = before.range(of: " = ", options: .backwards)?.upperBound ?? before.startIndex
        head = String(line[..<colon.upperBound]) + String(before[..<start])
        expression = String(before[start...])
        value = String(body[eq.upperBound...])
        guard !expression.isEmpty, !value.isEmpty else { return nil }
    }

    /// The step with `value` in place of its own.
    func line(value: String) -> String { "\(head)\(expression) = \(value)." }

    /// A wrong value near the right one, drawn by `u` in [0, 1): an integer off by 1, 2 or 10 (never negative), or
    /// a fraction whose numerator is off by 1.
    func slipped(_ u: Double) -> String {
        if let slash = value.firstIndex(of: "/"), let num = Int(value[..<slash]) {
            let n = num > 1 && u < 0.5 ? num - 1 : num + 1
            return "\(n)/\(value[value.index(after: slash)...])"
        }
        guard let v = Int(value) else { return value + "0" }
        let deltas = [1, -1, 2, -2, 10, -10]
        let d = deltas[min(deltas.count - 1, Int(u * Double(deltas.count)))]
        return String(v + d >= 0 ? v + d : v + abs(d))
    }
}
