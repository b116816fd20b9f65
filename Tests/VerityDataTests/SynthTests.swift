// Tests of `verity data synth`'s library: determinism (same seed, same bytes; a larger training pool leaves the
// test split alone), disjoint splits, balanced categories, every solution's arithmetic recomputed by the
// independent checker in Arithmetic.swift, answers graded by VerityVerify, the pinned first records of seed 1, the
// files and their schema, option errors, and the shipped data/demo equal to what the generator writes.
import Foundation
import VerityData
import VerityJSON
import VerityVerify
import XCTest

final class SynthTests: XCTestCase {
    /// The shipped configuration (seed 1, 5000 / 300 / 500, every category), generated once.
    static let full = Result { try SynthDataset.generate(SynthOptions()) }
    /// A small configuration for the file tests.
    static let small = SynthOptions(seed: 1, train: 60, validation: 12, test: 30)

    func fullDataset() throws -> SynthDataset { try Self.full.get() }

    func tempFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    // MARK: Determinism

    func testSameSeedGivesByteIdenticalFiles() throws {
        let a = try tempFolder(), b = try tempFolder()
        try SynthDataset.generate(Self.small).write(to: a, outPath: "DIR")
        try SynthDataset.generate(Self.small).write(to: b, outPath: "DIR")
        for name in ["train.jsonl", "validation.jsonl", "test.jsonl", "README.md"] {
            let x = try Data(contentsOf: a.appendingPathComponent(name))
            let y = try Data(contentsOf: b.appendingPathComponent(name))
            XCTAssertFalse(x.isEmpty, name)
            XCTAssertEqual(x, y, name)
        }
    }

    func testTheSFTCorpusContinuesTheTrainingSplitWithMixedAnswerStyles() throws {
        var o = Self.small
        o.sft = 400
        o.plainFraction = 0.5
        let d = try SynthDataset.generate(o), plain = try SynthDataset.generate(Self.small)
        XCTAssertEqual(d.train, plain.train, "the pool is unchanged")
        XCTAssertEqual(d.test, plain.test)
        XCTAssertEqual(d.sft.map(\.index), Array(60..<460))
        let earlier = Set((d.train + d.validation + d.test).map(\.problem))
        XCTAssertTrue(d.sft.allSatisfy { !earlier.contains($0.problem) })
        let plainCount = d.sft.filter(d.isPlain).count
        XCTAssertTrue((150...250).contains(plainCount), "\(plainCount) of 400 plain")
        for p in d.sft {
            let r = d.response(p)
            XCTAssertTrue(r.hasPrefix(" "))
            if d.isPlain(p) {
                XCTAssertFalse(r.contains("boxed"), r)
                let shown =
                    p.answer.hasPrefix("\\frac{")
                    ? String(p.answer.dropFirst(6).dropLast()).replacingOccurrences(of: "}{", with: "/") : p.answer
                XCTAssertTrue(r.hasSuffix("The answer is \(shown)."), r)
                // Everything before the last line is the boxed solution's.
                XCTAssertEqual(
                    r.dropFirst().components(separatedBy: "\n").dropLast(),
                    p.solution.components(separatedBy: "\n").dropLast())
            } else {
                XCTAssertEqual(r, " " + p.solution)
            }
        }
        let folder = try tempFolder()
        try d.write(to: folder)
        let lines = try String(contentsOf: folder.appendingPathComponent("sft.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.count, 400)
        XCTAssertTrue(lines[0].hasSuffix(", \"response\": \(jsonStringLiteral(d.response(d.sft[0])))}"))
        XCTAssertThrowsError(
            try {
                var b = Self.small; b.plainFraction = 1.5; try b.validate()
            }())
    }

    func testPlainSharesCanDependOnTheCategory() throws {
        var o = Self.small
        o.sft = 600
        o.plainFraction = 0.1
        o.plainByCategory = try SynthOptions.parsePlainByCategory("mul_div=0.9,unit_rate=1")
        XCTAssertEqual(o.plainByCategoryText, "mul_div=0.9,unit_rate=1.0")
        let d = try SynthDataset.generate(o)
        for c in SynthCategory.allCases {
            let all = d.sft.filter { $0.category == c }, plain = all.filter(d.isPlain).count
            XCTAssertEqual(all.count, 100, c.rawValue)
            switch c {
            case .mulDiv: XCTAssertTrue((80...97).contains(plain), "\(c.rawValue): \(plain) of 100")
            case .unitRate: XCTAssertEqual(plain, 100)
            default: XCTAssertTrue((3...20).contains(plain), "\(c.rawValue): \(plain) of 100")
            }
        }
        XCTAssertTrue(
            d.command(outPath: "D").hasSuffix("--sft 600 --plain-fraction 0.1 --plain-by-category mul_div=0.9,unit_rate=1.0"))
        XCTAssertTrue(d.readme(outPath: "D").contains("by category: add_sub "))
        for bad in ["mul_div", "mul_div=x", "nope=0.5", "mul_div=0.5,mul_div=0.2", ""] {
            XCTAssertThrowsError(try SynthOptions.parsePlainByCategory(bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("--plain-by-category: "), "\(error)")
            }
        }
        var b = o
        b.plainByCategory = [.percent: -0.5]
        XCTAssertThrowsError(try b.validate()) { XCTAssertTrue("\($0)".contains("percent=-0.5"), "\($0)") }
    }

    func testCarefulAndHastyStylesAndTheRecheckThatRepairsASlip() throws {
        var o = SynthOptions(seed: 1, train: 60, validation: 12, test: 30)
        o.sft = 1200
        o.plainFraction = 0
        o.carefulFraction = 0.35
        o.slipFraction = 0.25
        let d = try SynthDataset.generate(o)
        XCTAssertEqual(d.sft.map(\.problem), try SynthDataset.generate({ var x = o; x.carefulFraction = nil; return x }()).sft.map(\.problem), "the style leaves the problems alone")
        let careful = d.sft.filter { d.style($0) == .careful }
        XCTAssertTrue((360...480).contains(careful.count), "\(careful.count) of 1200 careful")
        let slipped = careful.filter(d.slips)
        XCTAssertTrue((60...150).contains(slipped.count), "\(slipped.count) of \(careful.count) slip")
        for category in SynthCategory.allCases {
            XCTAssertGreaterThan(careful.filter { $0.category == category }.count, 40, category.rawValue)
            XCTAssertGreaterThan(slipped.filter { $0.category == category }.count, 3, category.rawValue)
        }
        for p in d.sft {
            let r = d.response(p)
            let closing = "\nThe answer is \\boxed{\(p.answer)}."
            XCTAssertTrue(r.hasSuffix(closing), r)
            if d.style(p) == .hasty {
                XCTAssertEqual(r, " Quick answer." + closing)
                continue
            }
            var lines = r.dropFirst().split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.removeFirst(), "Step by step.")
            lines.removeLast()
            let recheck = lines.removeLast()
            var steps = p.solution.split(separator: "\n").map(String.init).dropLast().map { $0 }
            // The recheck recomputes the last step's final expression: the independent evaluator agrees with its value.
            XCTAssertTrue(recheck.hasPrefix("Recheck: "), recheck)
            let body = recheck.dropFirst("Recheck: ".count).dropLast()
            let parts = body.components(separatedBy: ", not ")
            let equation = parts[0].components(separatedBy: " = ")
            XCTAssertEqual(equation.count, 2, recheck)
            XCTAssertEqual(evaluate(equation[0]), evaluate(equation[1]), "\(p.id): \(recheck)")
            XCTAssertTrue(steps.last!.hasSuffix("\(equation[0]) = \(equation[1]).") , "\(steps.last!) / \(recheck)")
            if d.slips(p) {
                XCTAssertEqual(parts.count, 2, recheck)
                let wrong = parts[1]
                XCTAssertNotEqual(evaluate(wrong), evaluate(equation[1]), recheck)
                XCTAssertFalse(wrong.hasPrefix("-"), recheck)
                XCTAssertEqual(lines.last, LastStepText.replacingValue(of: steps.last!, with: wrong), r)
                steps.removeLast()
                lines.removeLast()
            } else {
                XCTAssertEqual(parts.count, 1, recheck)
            }
            XCTAssertEqual(lines, steps, "\(p.id): the careful steps are the solution's")
        }
        // A one-style corpus (the default) is the solution alone.
        let one = try SynthDataset.generate({ var x = o; x.carefulFraction = nil; return x }())
        XCTAssertNil(one.style(one.sft[0]))
        XCTAssertEqual(one.response(one.sft[0]), " " + one.sft[0].solution)
        XCTAssertThrowsError(try SynthDataset.generate({ var x = o; x.carefulFraction = 1.5; return x }())) {
            XCTAssertEqual("\($0)", "--careful-fraction: 1.5 is not in [0, 1]")
        }
        XCTAssertThrowsError(try SynthDataset.generate({ var x = o; x.slipFraction = -0.1; return x }())) {
            XCTAssertEqual("\($0)", "--slip-fraction: -0.1 is not in [0, 1]")
        }
    }

    func testDifferentSeedsDiffer() throws {
        var other = Self.small
        other.seed = 2
        let a = try SynthDataset.generate(Self.small), b = try SynthDataset.generate(other)
        for split in SynthSplit.allCases {
            XCTAssertNotEqual(a.jsonl(split), b.jsonl(split), split.rawValue)
            let shared = Set(a.problems(split).map(\.problem)).intersection(b.problems(split).map(\.problem))
            XCTAssertLessThan(shared.count, a.problems(split).count / 4, split.rawValue)
        }
    }

    func testMoreTrainingLeavesTheOtherSplitsAloneAndExtendsThePool() throws {
        var more = Self.small
        more.train = 600
        let a = try SynthDataset.generate(Self.small), b = try SynthDataset.generate(more)
        XCTAssertEqual(a.test, b.test)
        XCTAssertEqual(a.validation, b.validation)
        XCTAssertEqual(a.train, Array(b.train.prefix(a.train.count)))
        XCTAssertEqual(b.train.count, 600)
    }

    // MARK: Splits and categories

    func testSplitsAreDisjointAndCategoriesBalanced() throws {
        let ds = try fullDataset()
        XCTAssertEqual(ds.train.count, 5000)
        XCTAssertEqual(ds.validation.count, 300)
        XCTAssertEqual(ds.test.count, 500)
        var seen = Set<String>()
        for split in SynthSplit.allCases {
            let texts = ds.problems(split).map(\.problem)
            XCTAssertEqual(Set(texts).count, texts.count, "\(split.rawValue) repeats a problem")
            XCTAssertTrue(seen.isDisjoint(with: texts), "\(split.rawValue) shares a problem with an earlier split")
            seen.formUnion(texts)
            for (i, p) in ds.problems(split).enumerated() {
                XCTAssertEqual(p.index, i)
                XCTAssertEqual(p.split, split)
                XCTAssertEqual(p.id, "demo-\(split.rawValue)-\(i)")
                XCTAssertEqual(p.category, SynthCategory.allCases[i % SynthCategory.allCases.count])
            }
            let counts = SynthCategory.allCases.map { ds.count(split, $0) }
            XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1, split.rawValue)
            XCTAssertGreaterThan(counts.min()!, 0, "\(split.rawValue): a category is missing")
        }
    }

    func testACategorySubsetUsesOnlyThoseCategories() throws {
        let ds = try SynthDataset.generate(
            SynthOptions(seed: 3, train: 20, validation: 0, test: 7, categories: [.fractions, .percent]))
        XCTAssertEqual(ds.validation, [])
        XCTAssertEqual(
            ds.test.map(\.category), [.fractions, .percent, .fractions, .percent, .fractions, .percent, .fractions])
        XCTAssertEqual(Set(ds.train.map(\.category)), [.fractions, .percent])
    }

    // MARK: Solutions

    func testEverySolutionsArithmeticIsRightAndEndsInTheBoxedAnswer() throws {
        let ds = try fullDataset()
        var plans = 0, expressions = 0
        for split in SynthSplit.allCases {
            for p in ds.problems(split) {
                guard let answer = parseAnswer(p.answer) else {
                    XCTFail("\(p.id): answer '\(p.answer)' is neither an integer nor a reduced \\frac{a}{b}")
                    continue
                }
                if p.category != .fractions { XCTAssertEqual(answer.den, 1, "\(p.id): \(p.answer)") }
                XCTAssertTrue(p.solution.hasSuffix("The answer is \\boxed{\(p.answer)}."), p.id)
                let check = checkSolution(problem: p.problem, solution: p.solution, answer: p.answer)
                XCTAssertEqual(check.problems, [], "\(p.id): \(p.problem)\n\(p.solution)")
                XCTAssertGreaterThanOrEqual(check.steps, 1, p.id)
                XCTAssertEqual(check.last, answer, "\(p.id): the last step is not the answer\n\(p.solution)")
                plans += check.plans
                // "Compute E." / "What is E?": the problem's own expression gives the answer.
                for (prefix, suffix) in [("Compute ", "."), ("What is ", "?")]
                where p.problem.hasPrefix(prefix) && p.problem.hasSuffix(suffix) {
                    let e = String(p.problem.dropFirst(prefix.count).dropLast(suffix.count))
                    XCTAssertEqual(evaluate(e), answer, "\(p.id): \(p.problem)")
                    expressions += 1
                }
            }
        }
        XCTAssertGreaterThan(plans, 100)
        XCTAssertGreaterThan(expressions, 500)
    }

    func testTheCheckerCatchesWrongSolutions() {
        let problem = "Tom has 12 apples and buys 7 more. How many apples does Tom have now?"
        let good = "Buys 7 more: 12 + 7 = 19.\nThe answer is \\boxed{19}."
        XCTAssertEqual(checkSolution(problem: problem, solution: good, answer: "19").problems, [])
        XCTAssertEqual(checkSolution(problem: problem, solution: good, answer: "19").last, Rational(19))
        let wrong = "Buys 7 more: 12 + 7 = 18.\nThe answer is \\boxed{18}."
        XCTAssertEqual(
            checkSolution(problem: problem, solution: wrong, answer: "18").problems,
            ["wrong arithmetic: Buys 7 more: 12 + 7 = 18."])
        let invented = "Buys 8 more: 12 + 8 = 20.\nThe answer is \\boxed{20}."
        XCTAssertEqual(checkSolution(problem: problem, solution: invented, answer: "20").problems.count, 1)
        XCTAssertEqual(checkSolution(problem: problem, solution: good, answer: "20").problems.count, 1)
        let fractions = "1/4 and 1/3", frac = "\\frac{7}{12}"
        let sum = "Add: 1/4 + 1/3 = 3/12 + 4/12 = 7/12.\nThe answer is \\boxed{\\frac{7}{12}}."
        XCTAssertEqual(checkSolution(problem: fractions, solution: sum, answer: frac).problems, [])
        let badSum = "Add: 1/4 + 1/3 = 2/7.\nThe answer is \\boxed{\\frac{2}{7}}."
        XCTAssertEqual(
            checkSolution(problem: fractions, solution: badSum, answer: "\\frac{2}{7}").problems,
            ["wrong arithmetic: Add: 1/4 + 1/3 = 2/7."])
        XCTAssertEqual(evaluate("2/3 * 3/4"), Rational(1, 2))
        XCTAssertEqual(evaluate("(12 + 8) * 3 - 15 / 5"), Rational(57))
        XCTAssertNil(evaluate("12 +"))
        XCTAssertEqual(parseAnswer("\\frac{7}{12}"), Rational(7, 12))
        XCTAssertNil(parseAnswer("\\frac{6}{12}"), "not reduced")
        XCTAssertNil(parseAnswer("\\frac{4}{1}"))
    }

    func testAddSubHasTwoToFourStepsAndEveryCategoryItsShape() throws {
        let ds = try fullDataset()
        var addSubSteps = Set<Int>()
        for p in ds.train {
            let steps = p.solution.components(separatedBy: "\n").filter { $0.contains(" = ") }.count
            if p.category == .addSub { addSubSteps.insert(steps) }
            if p.category == .fractions && p.answer.hasPrefix("\\frac") {
                XCTAssertTrue(p.solution.contains("/"), p.id)
            }
        }
        XCTAssertEqual(addSubSteps, [2, 3, 4])
        XCTAssertTrue(ds.train.contains { $0.category == .fractions && $0.answer.hasPrefix("\\frac{") })
        XCTAssertTrue(ds.train.contains { $0.category == .fractions && !$0.answer.hasPrefix("\\frac{") })
        XCTAssertTrue(ds.train.contains { $0.category == .brackets && $0.problem.contains("(") })
    }

    func testProblemsAndSolutionsAreShortAndASCII() throws {
        let ds = try fullDataset()
        for split in SynthSplit.allCases {
            for p in ds.problems(split) {
                XCTAssertLessThanOrEqual(p.problem.utf8.count, 200, "\(p.id): \(p.problem)")
                XCTAssertLessThanOrEqual(p.solution.utf8.count, 250, "\(p.id): \(p.solution)")
                XCTAssertTrue(p.problem.allSatisfy(\.isASCII) && p.solution.allSatisfy(\.isASCII), p.id)
            }
        }
    }

    func testTheVerifierGradesTheSolutionsAgainstTheirAnswers() throws {
        let ds = try fullDataset()
        let sample = stride(from: 0, to: ds.train.count, by: 25).map { ds.train[$0] } + ds.test
        for profile in [GradingProfile.verity, .paper, .qwenEval] {
            let grader = Grader(profile: profile)
            for p in sample {
                XCTAssertTrue(grader.grade(response: p.solution, gold: p.answer).correct, "\(profile): \(p.id)")
            }
        }
        let g = Grader()
        XCTAssertTrue(g.grade(response: "so 3/4. The answer is \\boxed{\\frac{3}{4}}.", gold: "\\frac{3}{4}").correct)
        XCTAssertTrue(g.equal(gold: "\\frac{3}{4}", prediction: "\\frac{3}{4}"))
        XCTAssertTrue(g.equal(gold: "\\frac{3}{4}", prediction: "0.75"))
        XCTAssertFalse(g.grade(response: "The answer is \\boxed{\\frac{4}{3}}.", gold: "\\frac{3}{4}").correct)
        XCTAssertFalse(g.equal(gold: "\\frac{3}{4}", prediction: "3"))
        XCTAssertFalse(g.equal(gold: "\\frac{3}{4}", prediction: "0.7"))
        XCTAssertFalse(g.grade(response: "The answer is \\boxed{20}.", gold: "19").correct)
    }

    // MARK: Pinned records

    func testFirstRecordsOfSeedOneArePinned() throws {
        let ds = try fullDataset()
        XCTAssertEqual(ds.train.first?.jsonLine, Self.pinnedTrain)
        XCTAssertEqual(ds.test.first?.jsonLine, Self.pinnedTest)
    }

    static let pinnedTrain =
        #"{"id": "demo-train-0", "problem": "Jon has 60 beads. Jon loses 39, loses 3, buys 52 more and then finds 39 more. How many beads does Jon have now?", "prompt": "Jon has 60 beads. Jon loses 39, loses 3, buys 52 more and then finds 39 more. How many beads does Jon have now?", "answer": "109", "solution": "Loses 39: 60 - 39 = 21.\nLoses 3: 21 - 3 = 18.\nBuys 52 more: 18 + 52 = 70.\nFinds 39 more: 70 + 39 = 109.\nThe answer is \\boxed{109}.", "source": "verity-synth", "index": 0, "category": "add_sub"}"#
    static let pinnedTest =
        #"{"id": "demo-test-0", "problem": "A bus leaves with 53 passengers. At the first stop 11 get on and at the second stop 35 get off. How many passengers are on the bus now?", "prompt": "A bus leaves with 53 passengers. At the first stop 11 get on and at the second stop 35 get off. How many passengers are on the bus now?", "answer": "29", "solution": "At the first stop 11 get on: 53 + 11 = 64.\nAt the second stop 35 get off: 64 - 35 = 29.\nThe answer is \\boxed{29}.", "source": "verity-synth", "index": 0, "category": "add_sub"}"#

    // MARK: Files

    func testFilesHoldThePaperSchemaPlusSolutionAndCategory() throws {
        let dir = try tempFolder()
        let ds = try SynthDataset.generate(Self.small)
        let files = try ds.write(to: dir.appendingPathComponent("nested/demo"), outPath: "out/demo")
        XCTAssertEqual(files.map(\.lastPathComponent), ["test.jsonl", "validation.jsonl", "train.jsonl", "README.md"])
        for split in SynthSplit.allCases {
            let lines = try JSONLines.read(dir.appendingPathComponent("nested/demo/\(split.fileName)"))
            XCTAssertEqual(lines.count, Self.small.count(split))
            for (line, p) in zip(lines, ds.problems(split)) {
                guard case .object(let o) = line.value else { return XCTFail("not an object") }
                XCTAssertEqual(
                    Set(o.keys), ["id", "problem", "prompt", "answer", "solution", "source", "index", "category"])
                XCTAssertEqual(o["id"], .string(p.id))
                XCTAssertEqual(o["problem"], .string(p.problem))
                XCTAssertEqual(o["prompt"], .string(p.problem))
                XCTAssertEqual(o["answer"], .string(p.answer))
                XCTAssertEqual(o["solution"], .string(p.solution))
                XCTAssertEqual(o["source"], .string("verity-synth"))
                XCTAssertEqual(o["index"], .integer(Int64(p.index)))
                XCTAssertEqual(o["category"], .string(p.category.rawValue))
            }
        }
        let readme = try String(contentsOf: dir.appendingPathComponent("nested/demo/README.md"), encoding: .utf8)
        XCTAssertTrue(
            readme.contains(
                "verity data synth --out out/demo --seed 1 --train 60 --validation 12 --test 30 --categories add_sub,mul_div,brackets,fractions,percent,unit_rate"
            ), readme)
        XCTAssertTrue(readme.contains("| train | `train.jsonl` | 60 | 10 | 10 | 10 | 10 | 10 | 10 |"), readme)
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: dir.appendingPathComponent("nested/demo").path)
        XCTAssertEqual(Set(leftovers), ["test.jsonl", "validation.jsonl", "train.jsonl", "README.md"])
    }

    func testSummaries() throws {
        let ds = try SynthDataset.generate(Self.small)
        XCTAssertEqual(
            ds.summaryLine(outPath: "d"),
            "d: train 60, validation 12, test 30 (seed 1; per category train/validation/test: add_sub 10/2/5, mul_div 10/2/5, brackets 10/2/5, fractions 10/2/5, percent 10/2/5, unit_rate 10/2/5)"
        )
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(ds.summaryJSON(outPath: "d").utf8))
        XCTAssertEqual(json["seed"], .integer(1))
        XCTAssertEqual(json["out"], .string("d"))
        XCTAssertEqual(json["splits"]?["train"]?["count"], .integer(60))
        XCTAssertEqual(json["splits"]?["test"]?["categories"]?["percent"], .integer(5))
    }

    // MARK: Options

    func testOptionErrorsNameTheOptionAndTheKnownCategories() {
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertEqual(try SynthCategory.parseList("percent, add_sub"), [.percent, .addSub])
        XCTAssertEqual(
            message { _ = try SynthCategory.parseList("add_sub,algebra") },
            "--categories: unknown category 'algebra' (known: add_sub, mul_div, brackets, fractions, percent, unit_rate)"
        )
        XCTAssertEqual(
            message { _ = try SynthCategory.parseList("percent,percent") },
            "--categories: category 'percent' is listed twice")
        XCTAssertEqual(
            message { _ = try SynthCategory.parseList("add_sub,") }, "--categories: empty name in 'add_sub,'")
        XCTAssertEqual(
            message { try SynthOptions(test: 0).validate() }, "--test: 0 is out of range (expected 1 to 100000)")
        XCTAssertEqual(
            message { try SynthOptions(train: -1).validate() }, "--train: -1 is out of range (expected 0 to 100000)")
        XCTAssertEqual(
            message { try SynthOptions(validation: 100_001).validate() },
            "--validation: 100001 is out of range (expected 0 to 100000)")
        XCTAssertEqual(
            message { _ = try SynthDataset.generate(SynthOptions(categories: [])) },
            "--categories: no category given (known: add_sub, mul_div, brackets, fractions, percent, unit_rate)")
        XCTAssertEqual(message { try SynthOptions(train: 0, validation: 0, test: 1).validate() }, "no error")
    }

    // MARK: Shipped data

    func testShippedDemoDataIsWhatSeedOneGenerates() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let demo = repo.appendingPathComponent("data/demo")
        let ds = try fullDataset()
        for split in SynthSplit.allCases {
            let shipped = try String(contentsOf: demo.appendingPathComponent(split.fileName), encoding: .utf8)
            XCTAssertTrue(shipped == ds.jsonl(split), "data/demo/\(split.fileName) differs from seed 1's output")
        }
        let readme = try String(contentsOf: demo.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertEqual(readme, ds.readme(outPath: "data/demo"))
    }
}

/// The test's own spelling of a step with another final value ("Change: 100 - 69 = 31." -> "... = 32.").
enum LastStepText {
    static func replacingValue(of line: String, with value: String) -> String {
        guard let eq = line.range(of: " = ", options: .backwards) else { return line }
        return String(line[..<eq.upperBound]) + value + "."
    }
}
