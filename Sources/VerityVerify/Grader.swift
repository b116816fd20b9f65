// The public face of VerityVerify: a grading profile picks one pipeline of extractor, normalizer
// and comparator (RULES.md F.1). `paper` is the training reward of the paper (DeepScaleR in verl),
// `qwen-eval` its evaluation grader (Qwen2.5-Eval `math_equal`), `math-verify` an approximation of
// Hugging Face Math-Verify, and `verity` (the default) this package's own rules, meant to be right
// rather than faithful. `Grader` is a stateless value: safe to use from many threads at once.
// Under every profile an empty (or all-blank) gold answer equals nothing: a data line without an
// answer must not reward an empty `\boxed{}`, whatever the reference grader would say.

// MARK: - Public API

/// Which reference grader to follow.
public enum GradingProfile: String, CaseIterable, Sendable {
    /// The paper's training reward: verl's DeepScaleR rule (last `\boxed{}`, Hendrycks + PRM800K normalization).
    case paper
    /// The paper's evaluation: Qwen2.5-Eval `extract_answer` + `strip_string` + `math_equal`.
    case qwenEval = "qwen-eval"
    /// Hugging Face Math-Verify (`verify(parse(gold), parse(pred))`, default options), approximated.
    case mathVerify = "math-verify"
    /// Verity's own grader: extraction and equivalence meant to be right (the default).
    case verity
}

/// How a (gold, prediction) pair is handed to the grader.
public enum AnswerKind: String, Sendable {
    /// Both strings are bare final answers (each reference sees them wrapped in `\boxed{}`).
    case answer
    /// Both strings are passed as they are: the prediction is text to extract from, the gold may be too.
    case raw
}

/// The outcome of grading one response.
public struct Grade: Sendable, Equatable {
    /// Whether the extracted answer matches the gold answer.
    public var correct: Bool
    /// The answer extracted from the response (after the profile's normalization), or nil when none was found.
    public var extracted: String?

    /// A grade.
    public init(correct: Bool, extracted: String?) { self.correct = correct; self.extracted = extracted }
}

/// A stateless grader for one profile.
public struct Grader: Sendable {
    /// The profile this grader follows.
    public let profile: GradingProfile

    /// A grader for `profile` (`verity` by default).
    public init(profile: GradingProfile = .verity) { self.profile = profile }

    /// The answer this profile extracts from a full response, or nil when it finds none.
    public func extract(_ response: String) -> String? {
        let r = Bytes(response)
        if r.count > maxInput { return nil }
        switch profile {
        case .paper: return DeepScaler.extract(r).map(\.string)
        case .qwenEval: return QwenEval.strip(QwenEval.extract(r)).string
        case .mathVerify: return MathVerify.extract(r).map(\.string)
        case .verity: return VerityRules.extract(r).map(\.string)
        }
    }

    /// Whether two bare final answers are equal under this profile.
    public func equal(gold: String, prediction: String) -> Bool {
        grade(gold: gold, prediction: prediction, kind: .answer).correct
    }

    /// Grade a full response against a bare gold answer.
    public func grade(response: String, gold: String) -> Grade {
        let r = Bytes(response), g = Bytes(gold)
        if r.count > maxInput || g.count > maxInput { return Grade(correct: false, extracted: nil) }
        if g.trimmed().isEmpty { return Grade(correct: false, extracted: extract(response)) }
        switch profile {
        case .paper:
            guard let p = DeepScaler.extract(r) else { return Grade(correct: false, extracted: nil) }
            return Grade(correct: DeepScaler.equal(given: p, truth: g), extracted: p.string)
        case .qwenEval:
            let gq = QwenEval.gold(wrapBoxed(g))
            let p = QwenEval.prediction(r, gold: gq)
            return Grade(correct: QwenEval.mathEqual(p, gq), extracted: p.string)
        case .mathVerify:
            return MathVerify.grade(response: r, gold: wrapBoxed(g))
        case .verity:
            return VerityRules.grade(response: r, gold: g, goldIsBare: true)
        }
    }

    /// Grade a (gold, prediction) pair handed over as `kind` describes (the conformance cases' convention).
    public func grade(gold: String, prediction: String, kind: AnswerKind) -> Grade {
        if Bytes(gold).trimmed().isEmpty {
            return Grade(correct: false, extracted: kind == .answer ? prediction : extract(prediction))
        }
        switch kind {
        case .answer:
            if profile == .verity {
                let p = Bytes(prediction), g = Bytes(gold)
                if p.count > maxInput || g.count > maxInput { return Grade(correct: false, extracted: nil) }
                return Grade(correct: VerityRules.equalAnswers(gold: g, pred: p), extracted: prediction)
            }
            return grade(response: "\\boxed{" + prediction + "}", gold: gold)
        case .raw:
            let r = Bytes(prediction), g = Bytes(gold)
            if r.count > maxInput || g.count > maxInput { return Grade(correct: false, extracted: nil) }
            switch profile {
            case .paper:
                guard let p = DeepScaler.extract(r) else { return Grade(correct: false, extracted: nil) }
                guard let gg = DeepScaler.gold(g), !gg.trimmed().isEmpty else {
                    return Grade(correct: false, extracted: p.string)
                }
                return Grade(correct: DeepScaler.equal(given: p, truth: gg), extracted: p.string)
            case .qwenEval:
                let gq = g.has(QwenEval.boxed) ? QwenEval.gold(g) : QwenEval.strip(g)
                if gq.trimmed().isEmpty {
                    return Grade(correct: false, extracted: QwenEval.prediction(r, gold: gq).string)
                }
                let p = QwenEval.prediction(r, gold: gq)
                return Grade(correct: QwenEval.mathEqual(p, gq), extracted: p.string)
            case .mathVerify:
                return MathVerify.grade(response: r, gold: g)
            case .verity:
                return VerityRules.grade(response: r, gold: g, goldIsBare: false)
            }
        }
    }
}

/// Inputs longer than this (bytes) are graded as wrong without being read (a 1 MB response still extracts).
let maxInput = 4 << 20

/// `\boxed{s}`.
func wrapBoxed(_ s: Bytes) -> Bytes { Bytes("\\boxed{") + s + [125] }

// MARK: - Qwen2.5-Eval gold answers

extension Grader {
    /// The gold answer Qwen2.5-Eval compares against (RULES.md A.6): `text` is the `solution` for math/math500 and
    /// minerva_math, `final_answer[0]` for olympiadbench, and the `answer` field (as Python prints it) otherwise.
    public static func qwenEvalGold(_ text: String, dataset: String) -> String {
        let t = Bytes(text)
        if t.count > maxInput { return "" }
        switch dataset {
        case "math", "math500": return QwenEval.strip(QwenEval.extract(t)).string
        case "minerva_math":
            return QwenEval.extract(t, skipUnit: true).replacing(Bytes("\\neq"), Bytes("\\ne"))
                .replacing(Bytes("\\leq"), Bytes("\\le")).replacing(Bytes("\\geq"), Bytes("\\ge")).string
        case "olympiadbench": return QwenEval.strip(t.stripping([36])).string
        default: return QwenEval.strip(t).string
        }
    }
}
