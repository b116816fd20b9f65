// The product's host services: `verity.math.*` bound to VerityVerify's graders and `verity.tokens`
// to a run's tokenizer. HostAPI.swift stays free of both (tests inject doubles through
// `HostServices`); every real host (the CLI, the trainer) builds its services here.
import Foundation
import VerityTokenizer
import VerityVerify

// MARK: - Errors

/// A grader profile name a script passed that the verifier does not know.
public struct UnknownGraderProfile: Error, CustomStringConvertible {
    /// The name the script gave.
    public var name: String
    /// A readable message listing the known profiles.
    public var description: String {
        "unknown grader profile \"\(name)\"; expected one of "
            + GradingProfile.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
    }
}

// MARK: - Standard services

extension HostServices {
    /// Services backed by `VerityVerify.Grader` (one per profile, stateless) and, when given, `tokenizer`.
    public static func standard(tokenizer: Tokenizer? = nil) -> HostServices {
        let graders = Dictionary(
            uniqueKeysWithValues: GradingProfile.allCases.map { ($0.rawValue, Grader(profile: $0)) })
        @Sendable func grader(_ name: String) throws -> Grader {
            guard let g = graders[name] else { throw UnknownGraderProfile(name: name) }
            return g
        }
        var services = HostServices(
            extract: { text, profile in try grader(profile).extract(text) },
            equal: { gold, prediction, profile in try grader(profile).equal(gold: gold, prediction: prediction) },
            grade: { response, gold, profile in
                let g = try grader(profile).grade(response: response, gold: gold)
                return GradeResult(correct: g.correct, extracted: g.extracted)
            })
        if let tokenizer {
            services.countTokens = { text in tokenizer.encode(text).count }
        }
        return services
    }

    /// `standard(tokenizer:)` with the tokenizer of a model folder when it has one (tokenizer.json or
    /// vocab.json + merges.txt); a folder without tokenizer files leaves `verity.tokens` unavailable.
    public static func standard(modelFolder: URL) throws -> HostServices {
        let fm = FileManager.default
        let hasTokenizer =
            fm.fileExists(atPath: modelFolder.appendingPathComponent("tokenizer.json").path)
            || fm.fileExists(atPath: modelFolder.appendingPathComponent("vocab.json").path)
        return standard(tokenizer: hasTokenizer ? try Tokenizer(folder: modelFolder) : nil)
    }
}
