// SynthCategory: the named task families of `verity data synth` (sums and differences, products and quotients,
// brackets, fractions, percentages, unit rates), their names on the command line and in the data, and the parsing
// of a comma-separated list of them. The problems themselves are written in Templates.swift; seeds, splits and
// files in SynthDataset.swift.
import Foundation

// MARK: - Categories

/// One family of synthetic arithmetic word problems.
public enum SynthCategory: String, CaseIterable, Sendable, Codable {
    /// Chains of 2 to 4 additions and subtractions.
    case addSub = "add_sub"
    /// Products and exact quotients in two steps.
    case mulDiv = "mul_div"
    /// Mixed operations with brackets (expressions and word problems).
    case brackets
    /// Adding, subtracting and multiplying simple fractions, a fraction of a whole number; answers reduced.
    case fractions
    /// Percent of, percent off, percent increase.
    case percent
    /// Unit rates: price, speed and work, forwards and backwards.
    case unitRate = "unit_rate"

    /// One line for people (the generated README).
    public var summary: String {
        switch self {
        case .addSub: return "sums and differences, 2 to 4 steps (objects, a bus, savings)"
        case .mulDiv:
            return "products and exact quotients, 2 steps (boxes shared out, trays packed, rows of trees, classes)"
        case .brackets: return "mixed operations with brackets (expressions, change from a note, sharing out a total)"
        case .fractions: return "adding, subtracting and multiplying simple fractions, a fraction of a number; reduced"
        case .percent: return "percent of, percent off, percent increase; whole-number results"
        case .unitRate: return "unit rates: price, speed, work, and time for a given amount"
        }
    }

    /// The comma-separated list `text` (`add_sub,mul_div`), in the order given; unknown or repeated names are errors.
    public static func parseList(_ text: String) throws -> [SynthCategory] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var out: [SynthCategory] = []
        for name in names {
            guard !name.isEmpty else {
                throw SynthError.invalid(field: "categories", detail: "empty name in '\(text)'")
            }
            guard let c = SynthCategory(rawValue: name) else {
                throw SynthError.invalid(
                    field: "categories", detail: "unknown category '\(name)' (known: \(knownList))")
            }
            guard !out.contains(c) else {
                throw SynthError.invalid(field: "categories", detail: "category '\(name)' is listed twice")
            }
            out.append(c)
        }
        return out
    }

    /// Every category's name, comma-separated, in declaration order.
    public static var knownList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
