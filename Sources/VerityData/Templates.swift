// Templates: the word-problem writers of `verity data synth`, a few per category. Each draws its numbers from the
// problem's own generator, keeps every quantity an exact non-negative integer (or a reduced fraction in
// `fractions`), and writes a short chain-of-thought solution: one line per step, "Label: a op b = c." with ASCII
// operators (+ - * /, "a/b" a fraction), closed by "The answer is \boxed{answer}.". Not here: seeds, splits,
// deduplication and files (SynthDataset.swift).
import VerityCore

// MARK: - Drawing numbers

/// Bounded draws from a SeededGenerator, written out (a modulo, not the standard library's `random(in:using:)`,
/// whose algorithm is not promised) so that a seed gives the same problems with every toolchain.
struct Draw {
    /// The problem's generator.
    var generator: SeededGenerator

    /// A generator started from `seed`.
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// A uniform integer in `range` (modulo bias below 2⁻⁵⁰ for the small ranges used here).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let n = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(generator.next() % n)
    }

    /// A uniform element of the non-empty `items`.
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    /// A uniform element of `items` other than `excluded` (`items` has two or more distinct elements).
    mutating func pick<T: Equatable>(_ items: [T], excluding excluded: T) -> T {
        let rest = items.filter { $0 != excluded }
        return pick(rest)
    }

    /// A fair coin.
    mutating func coin() -> Bool { generator.next() >> 63 == 1 }
}

// MARK: - Problems

/// One drawn problem before it gets its split and index: the text, the solution steps and the answer.
struct Draft {
    /// The question.
    var problem: String
    /// Solution lines before the closing "The answer is ..." line.
    var steps: [String]
    /// The answer as written inside `\boxed{}`.
    var answer: String

    /// The steps and the closing line, one per line.
    var solution: String { (steps + ["The answer is \\boxed{\(answer)}."]).joined(separator: "\n") }
}

/// The problem writers, one entry point per category.
enum Templates {
    /// A problem of `category` drawn from `d`.
    static func draft(_ category: SynthCategory, _ d: inout Draw) -> Draft {
        switch category {
        case .addSub: return addSub(&d)
        case .mulDiv: return mulDiv(&d)
        case .brackets: return brackets(&d)
        case .fractions: return fractions(&d)
        case .percent: return percent(&d)
        case .unitRate: return unitRate(&d)
        }
    }

    // MARK: Words

    static let names = [
        "Ana", "Ben", "Cara", "Dev", "Eli", "Finn", "Gia", "Hugo", "Ivy", "Jon", "Kai", "Lena", "Max", "Nora", "Omar",
        "Pia", "Raj", "Sara", "Tom", "Uma", "Vic", "Wes", "Yara", "Zoe",
    ]
    static let objects = [
        "apples", "marbles", "stickers", "pencils", "cards", "books", "shells", "coins", "stamps", "beads", "cookies",
        "balloons",
    ]

    /// `text` with its first letter in upper case.
    static func capitalized(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    /// "a and b", "a, b and c", with `last` before the final item ("and then").
    static func list(_ items: [String], last: String = "and") -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " \(last) " + (items.last ?? "")
    }

    /// One solution step: "Label: expression = value.".
    static func step<T: CustomStringConvertible>(_ label: String, _ expression: String, _ value: T) -> String {
        "\(label): \(expression) = \(value)."
    }

    // MARK: add_sub

    /// A start value and 2 to 4 gains or losses, never below 1.
    static func addSub(_ d: inout Draw) -> Draft {
        let kind = d.int(0...2)
        let name = d.pick(names), other = d.pick(names, excluding: name)
        let obj = d.pick(objects)
        var value = kind == 0 ? d.int(10...99) : kind == 1 ? d.int(10...60) : d.int(20...300)
        let start = value
        let stops = ["first", "second", "third", "fourth"]
        var phrases: [String] = [], steps: [String] = []
        for i in 0..<d.int(2...4) {
            let gain = value < 3 || d.coin()
            let n = gain ? d.int(2...(kind == 2 ? 99 : 59)) : d.int(2...min(value - 1, kind == 2 ? 99 : 59))
            let phrase: String
            switch (kind, gain) {
            case (0, true): phrase = d.pick(["buys \(n) more", "finds \(n) more", "gets \(n) from \(other)"])
            case (0, false): phrase = d.pick(["gives \(n) to \(other)", "loses \(n)", "sells \(n)"])
            case (1, true): phrase = "at the \(stops[i]) stop \(n) get on"
            case (1, false): phrase = "at the \(stops[i]) stop \(n) get off"
            case (_, true): phrase = d.pick(["earns \(n) dollars", "gets \(n) dollars from \(other)"])
            case (_, false):
                let item = d.pick(["a book", "a game", "lunch", "a ticket", "a plant", "a ball"])
                phrase = d.pick(["spends \(n) dollars on \(item)", "gives \(n) dollars to \(other)"])
            }
            phrases.append(phrase)
            steps.append(
                step(capitalized(phrase), gain ? "\(value) + \(n)" : "\(value) - \(n)", gain ? value + n : value - n))
            value += gain ? n : -n
        }
        let problem: String
        switch kind {
        case 0:
            problem =
                "\(name) has \(start) \(obj). \(name) \(list(phrases, last: "and then")). How many \(obj) does \(name) have now?"
        case 1:
            problem =
                "A bus leaves with \(start) passengers. \(capitalized(list(phrases))). How many passengers are on the bus now?"
        default:
            problem =
                "\(name) has \(start) dollars. \(name) \(list(phrases, last: "and then")). How many dollars does \(name) have now?"
        }
        return Draft(problem: problem, steps: steps, answer: String(value))
    }

    // MARK: mul_div

    /// The divisors of `n` in `range`.
    static func divisors(of n: Int, in range: ClosedRange<Int>) -> [Int] { range.filter { n % $0 == 0 } }

    /// A product then an exact quotient, a product of three, or two exact quotients.
    static func mulDiv(_ d: inout Draw) -> Draft {
        let name = d.pick(names)
        switch d.int(0...3) {
        case 0:
            let obj = d.pick(objects)
            let boxes = d.int(2...12), each = d.int(2...25)
            let total = boxes * each
            let friends = d.pick(divisors(of: total, in: 2...12))
            return Draft(
                problem:
                    "\(name) buys \(boxes) boxes of \(obj) with \(each) in each box and shares them equally among \(friends) friends. How many \(obj) does each friend get?",
                steps: [
                    step("\(capitalized(obj)) in all", "\(boxes) * \(each)", total),
                    step("Each friend gets", "\(total) / \(friends)", total / friends),
                ],
                answer: String(total / friends))
        case 1:
            let baked = d.pick(["cookies", "muffins", "rolls", "buns"])
            let trays = d.int(2...12), each = d.int(6...30)
            let total = trays * each
            let bag = d.pick(divisors(of: total, in: 2...12))
            return Draft(
                problem:
                    "A baker makes \(trays) trays of \(each) \(baked) and packs them into bags of \(bag). How many bags does the baker fill?",
                steps: [
                    step("\(capitalized(baked)) baked", "\(trays) * \(each)", total),
                    step("Bags filled", "\(total) / \(bag)", total / bag),
                ],
                answer: String(total / bag))
        case 2:
            let fruit = d.pick(["apples", "pears", "plums", "lemons", "peaches"])
            let rows = d.int(2...12), perRow = d.int(2...15), perTree = d.int(2...20)
            let trees = rows * perRow
            return Draft(
                problem:
                    "A farm has \(rows) rows of \(perRow) trees, and each tree gives \(perTree) \(fruit). How many \(fruit) does the farm get?",
                steps: [
                    step("Trees", "\(rows) * \(perRow)", trees),
                    step(capitalized(fruit), "\(trees) * \(perTree)", trees * perTree),
                ],
                answer: String(trees * perTree))
        default:
            let classes = d.int(2...12), team = d.int(2...8), teams = d.int(2...8)
            let perClass = team * teams, students = classes * perClass
            return Draft(
                problem:
                    "A school has \(students) students in \(classes) classes of equal size. Each class splits into teams of \(team). How many teams does each class have?",
                steps: [
                    step("Students per class", "\(students) / \(classes)", perClass),
                    step("Teams per class", "\(perClass) / \(team)", teams),
                ],
                answer: String(teams))
        }
    }

    // MARK: brackets

    /// An expression with brackets, change from a note, or a total shared out.
    static func brackets(_ d: inout Draw) -> Draft {
        switch d.int(0...3) {
        case 0, 1: return bracketExpression(&d)
        case 2:
            let name = d.pick(names)
            let goods = ["shirts", "hats", "pens", "books", "mugs", "toys"]
            let first = d.pick(goods), second = d.pick(goods, excluding: first)
            let x = d.int(2...6), p = d.int(2...25), y = d.int(2...6), q = d.int(2...25)
            let a = x * p, b = y * q, total = a + b
            let note = [50, 100, 200].first { $0 > total } ?? 500
            return Draft(
                problem:
                    "\(name) buys \(x) \(first) at \(p) dollars each and \(y) \(second) at \(q) dollars each, and pays with a \(note)-dollar note. How much change does \(name) get?",
                steps: [
                    "The change is \(note) - (\(x) * \(p) + \(y) * \(q)).",
                    step(capitalized(first), "\(x) * \(p)", a),
                    step(capitalized(second), "\(y) * \(q)", b),
                    step("Total", "\(a) + \(b)", total),
                    step("Change", "\(note) - \(total)", note - total),
                ],
                answer: String(note - total))
        default:
            let name = d.pick(names), other = d.pick(names, excluding: name)
            let packs = d.int(2...8), each = d.int(2...12), children = d.int(2...9)
            let inPacks = packs * each
            let gift = (children - inPacks % children) % children + children * d.int(1...3)
            let total = inPacks + gift
            return Draft(
                problem:
                    "\(name) buys \(packs) packs of \(each) stickers, and \(other) adds \(gift) more. They share the stickers equally among \(children) children. How many does each child get?",
                steps: [
                    "Each child gets (\(packs) * \(each) + \(gift)) / \(children).",
                    step("Stickers in packs", "\(packs) * \(each)", inPacks),
                    step("With the gift", "\(inPacks) + \(gift)", total),
                    step("Each child", "\(total) / \(children)", total / children),
                ],
                answer: String(total / children))
        }
    }

    /// "Compute (12 + 8) * 3 - 15." in one of six shapes, worked brackets first.
    static func bracketExpression(_ d: inout Draw) -> Draft {
        var expression = "", steps: [String] = [], result = 0
        switch d.int(0...5) {
        case 0:
            let a = d.int(2...40), b = d.int(2...40), c = d.int(2...12)
            expression = "(\(a) + \(b)) * \(c)"
            result = (a + b) * c
            steps = [step("Brackets first", "\(a) + \(b)", a + b), step("Multiply", "\(a + b) * \(c)", result)]
        case 1:
            let a = d.int(2...30), b = d.int(2...30), c = d.int(2...9)
            let p = (a + b) * c, e = d.int(2...min(p - 1, 99))
            expression = "(\(a) + \(b)) * \(c) - \(e)"
            result = p - e
            steps = [
                step("Brackets first", "\(a) + \(b)", a + b), step("Multiply", "\(a + b) * \(c)", p),
                step("Subtract", "\(p) - \(e)", result),
            ]
        case 2:
            let b = d.int(10...50), c = d.int(2...b - 1), a = d.int(2...12), e = d.int(2...50)
            expression = "\(a) * (\(b) - \(c)) + \(e)"
            result = a * (b - c) + e
            steps = [
                step("Brackets first", "\(b) - \(c)", b - c), step("Multiply", "\(a) * \(b - c)", a * (b - c)),
                step("Add", "\(a * (b - c)) + \(e)", result),
            ]
        case 3:
            let a = d.int(10...30), b = d.int(2...a - 1), c = d.int(2...12), e = d.int(2...12)
            expression = "(\(a) - \(b)) * (\(c) + \(e))"
            result = (a - b) * (c + e)
            steps = [
                step("First brackets", "\(a) - \(b)", a - b), step("Second brackets", "\(c) + \(e)", c + e),
                step("Multiply", "\(a - b) * \(c + e)", result),
            ]
        case 4:
            let c = d.int(2...12), q = d.int(2...20), e = d.int(2...50)
            let s = c * q, a = d.int(2...s - 2), b = s - a
            expression = "(\(a) + \(b)) / \(c) + \(e)"
            result = q + e
            steps = [
                step("Brackets first", "\(a) + \(b)", s), step("Divide", "\(s) / \(c)", q),
                step("Add", "\(q) + \(e)", result),
            ]
        default:
            let c = d.int(5...30), e = d.int(2...c - 1), b = d.int(2...12), a = d.int(2...99)
            expression = "\(a) + \(b) * (\(c) - \(e))"
            result = a + b * (c - e)
            steps = [
                step("Brackets first", "\(c) - \(e)", c - e), step("Multiply", "\(b) * \(c - e)", b * (c - e)),
                step("Add", "\(a) + \(b * (c - e))", result),
            ]
        }
        let problem = d.coin() ? "Compute \(expression)." : "What is \(expression)?"
        return Draft(problem: problem, steps: steps, answer: String(result))
    }

    // MARK: fractions

    /// The greatest common divisor of two non-negative integers (not both 0).
    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// A proper fraction in lowest terms with a denominator from 2 to 12.
    static func properFraction(_ d: inout Draw) -> (num: Int, den: Int) {
        let den = d.int(2...12)
        var num = d.int(1...den - 1)
        while gcd(num, den) != 1 { num = d.int(1...den - 1) }
        return (num, den)
    }

    /// `n/d` as solution text ("7/12", or "2" when `d` is 1).
    static func plain(_ n: Int, _ d: Int) -> String { d == 1 ? String(n) : "\(n)/\(d)" }

    /// `n/d` (in lowest terms) as an answer: `\frac{n}{d}`, or the integer.
    static func boxed(_ n: Int, _ d: Int) -> String { d == 1 ? String(n) : "\\frac{\(n)}{\(d)}" }

    /// The reduction step for `n/d` when it is not in lowest terms, and the reduced fraction.
    static func reduce(_ n: Int, _ d: Int) -> (steps: [String], num: Int, den: Int) {
        let g = gcd(n, d)
        guard g > 1 else { return ([], n, d) }
        return (["Reduce: \(n)/\(d) = \(plain(n / g, d / g))."], n / g, d / g)
    }

    /// A sum, a difference, a product of two fractions, or a fraction of a whole number.
    static func fractions(_ d: inout Draw) -> Draft {
        let name = d.pick(names), other = d.pick(names, excluding: name)
        var x = properFraction(&d), y = properFraction(&d)
        let kind = d.int(0...3), form = d.int(0...2)
        switch kind {
        case 0, 1:
            let add = kind == 0
            while !add && x.num * y.den == y.num * x.den { y = properFraction(&d) }
            if !add && x.num * y.den < y.num * x.den { swap(&x, &y) }
            let op = add ? "+" : "-"
            let l = x.den / gcd(x.den, y.den) * y.den
            let xn = x.num * (l / x.den), yn = y.num * (l / y.den), n = add ? xn + yn : xn - yn
            let sum = "\(x.num)/\(x.den) \(op) \(y.num)/\(y.den)"
            var steps =
                x.den == y.den
                ? [step("Same denominator", sum, "\(n)/\(l)")]
                : [step("Common denominator \(l)", sum, "\(xn)/\(l) \(op) \(yn)/\(l) = \(n)/\(l)")]
            let r = reduce(n, l)
            steps += r.steps
            let problem: String
            switch (add, form) {
            case (true, 0) where n <= l:
                problem =
                    "\(name) eats \(x.num)/\(x.den) of a pizza and \(other) eats \(y.num)/\(y.den) of it. What fraction of the pizza do they eat together?"
            case (true, 0), (true, 1):
                problem =
                    "\(name) walks \(x.num)/\(x.den) km to the park and then \(y.num)/\(y.den) km to the shop. How many km does \(name) walk in all?"
            case (false, 0):
                problem =
                    "A jug holds \(x.num)/\(x.den) liter of juice. \(name) drinks \(y.num)/\(y.den) liter. How many liters are left?"
            case (false, 1):
                problem =
                    "A ribbon is \(x.num)/\(x.den) m long. \(name) cuts off \(y.num)/\(y.den) m. How many meters are left?"
            default:
                problem = "Compute \(sum)."
            }
            return Draft(problem: problem, steps: steps, answer: boxed(r.num, r.den))
        case 2:
            let product = "\(x.num)/\(x.den) * \(y.num)/\(y.den)"
            let n = x.num * y.num, den = x.den * y.den
            let r = reduce(n, den)
            let problem =
                form == 0
                ? "\(name) has \(x.num)/\(x.den) of a cake and eats \(y.num)/\(y.den) of that piece. What fraction of the whole cake does \(name) eat?"
                : "Compute \(product)."
            return Draft(
                problem: problem, steps: [step("Multiply tops and bottoms", product, "\(n)/\(den)")] + r.steps,
                answer: boxed(r.num, r.den))
        default:
            let part = d.int(2...15), whole = x.den * part, obj = d.pick(objects)
            let (setup, question, label) = d.pick([
                (
                    "A club has \(whole) members, and \(x.num)/\(x.den) of them play chess.",
                    "How many members play chess?",
                    "Chess players"
                ),
                (
                    "A bag holds \(whole) \(obj), and \(x.num)/\(x.den) of them are red.", "How many are red?",
                    "Red ones"
                ),
                (
                    "\(name) has \(whole) dollars and spends \(x.num)/\(x.den) of it on a bike.",
                    "How many dollars does the bike cost?", "The bike"
                ),
            ])
            return Draft(
                problem: "\(setup) \(question)",
                steps: [
                    step("One part", "\(whole) / \(x.den)", part), step(label, "\(part) * \(x.num)", part * x.num),
                ],
                answer: String(part * x.num))
        }
    }

    // MARK: percent

    /// Percent of, percent off (or used up), percent increase (or a tip); every result a whole number.
    static func percent(_ d: inout Draw) -> Draft {
        let name = d.pick(names)
        let p = d.pick([5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80])
        let unit = 100 / gcd(p, 100)
        let n = unit * d.int((20 + unit - 1) / unit...600 / unit)
        let part = n * p / 100
        let share = "\(n) * \(p) / 100"
        switch d.int(0...3) {
        case 0:
            let (setup, question) = d.pick([
                ("A school has \(n) students, and \(p)% of them walk to school.", "How many students walk to school?"),
                ("A farm has \(n) animals, and \(p)% of them are sheep.", "How many sheep are on the farm?"),
                ("A box holds \(n) beads, and \(p)% of them are red.", "How many beads are red?"),
            ])
            return Draft(
                problem: "\(setup) \(question)", steps: [step("\(p)% of \(n)", share, part)], answer: String(part))
        case 1:
            let item = d.pick(["bike", "coat", "lamp", "chair", "game", "watch"])
            return Draft(
                problem:
                    "A \(item) costs \(n) dollars and is on sale for \(p)% off. What is the sale price in dollars?",
                steps: [step("Discount", share, part), step("Sale price", "\(n) - \(part)", n - part)],
                answer: String(n - part))
        case 2:
            return Draft(
                problem: "A tank holds \(n) liters of water, and \(p)% of it is used. How many liters are left?",
                steps: [step("Used", share, part), step("Left", "\(n) - \(part)", n - part)],
                answer: String(n - part))
        default:
            if d.coin() {
                return Draft(
                    problem:
                        "A town has \(n) people, and the number grows by \(p)% this year. How many people live there at the end of the year?",
                    steps: [step("Increase", share, part), step("New total", "\(n) + \(part)", n + part)],
                    answer: String(n + part))
            }
            return Draft(
                problem:
                    "A meal costs \(n) dollars, and \(name) adds a \(p)% tip. How many dollars does \(name) pay in all?",
                steps: [step("Tip", share, part), step("Total", "\(n) + \(part)", n + part)],
                answer: String(n + part))
        }
    }

    // MARK: unit_rate

    /// A rate from one amount, applied to another (price, speed, work), or the time for an amount.
    static func unitRate(_ d: inout Draw) -> Draft {
        switch d.int(0...3) {
        case 0:
            let (one, many) = d.pick([
                ("pen", "pens"), ("notebook", "notebooks"), ("mug", "mugs"), ("ticket", "tickets"),
                ("candle", "candles"), ("plant", "plants"),
            ])
            let a = d.int(2...12), price = d.int(2...25), b = d.pick(Array(2...20).filter { $0 != a })
            return Draft(
                problem: "\(a) \(many) cost \(a * price) dollars. How many dollars do \(b) \(many) cost?",
                steps: [
                    step("Cost of one \(one)", "\(a * price) / \(a)", price),
                    step("Cost of \(b) \(many)", "\(b) * \(price)", b * price),
                ],
                answer: String(b * price))
        case 1:
            let (vehicle, speeds) = d.pick([
                ("car", 40...90), ("train", 60...120), ("bus", 30...70), ("cyclist", 10...25),
            ])
            let v = d.int(speeds), h = d.int(2...6), k = d.pick(Array(2...9).filter { $0 != h })
            return Draft(
                problem:
                    "A \(vehicle) travels \(v * h) km in \(h) hours at a steady speed. How many km does it travel in \(k) hours?",
                steps: [step("Km per hour", "\(v * h) / \(h)", v), step("Km in \(k) hours", "\(k) * \(v)", k * v)],
                answer: String(k * v))
        case 2:
            let things = d.pick(["bottles", "bolts", "cans", "boxes", "bricks"])
            let r = d.int(2...30), m = d.int(2...12), k = d.pick(Array(2...20).filter { $0 != m })
            return Draft(
                problem:
                    "A machine makes \(r * m) \(things) in \(m) minutes. How many \(things) does it make in \(k) minutes?",
                steps: [
                    step("\(capitalized(things)) per minute", "\(r * m) / \(m)", r),
                    step("\(capitalized(things)) in \(k) minutes", "\(k) * \(r)", k * r),
                ],
                answer: String(k * r))
        default:
            let (machine, verb, amount) = d.pick([
                ("printer", "print", "pages"), ("pump", "move", "liters"), ("robot", "pack", "parcels"),
            ])
            let r = d.int(2...20), m = d.int(2...10), t = d.pick(Array(2...30).filter { $0 != m })
            return Draft(
                problem:
                    "A \(machine) can \(verb) \(r * m) \(amount) in \(m) minutes. How many minutes does it take to \(verb) \(r * t) \(amount)?",
                steps: [
                    step("\(capitalized(amount)) per minute", "\(r * m) / \(m)", r),
                    step("Minutes for \(r * t) \(amount)", "\(r * t) / \(r)", t),
                ],
                answer: String(t))
        }
    }
}
