// Benchmark sets as shipped and as a user might break them: the catalog's names, the paper's
// protocol per set, MATH500's subject and level fields, an unknown name (lists the known ones), a
// path as a benchmark, a malformed line (its line number), an item without an answer, duplicate ids,
// an empty file; and the default prompt plugin's text, a custom plugin file and a broken one.
import XCTest
@testable import VerityEval

final class BenchmarkSetTests: XCTestCase {
    func write(_ text: String, _ name: String, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func testCatalogAndProtocol() throws {
        let names = Support.catalog.names
        for n in BenchmarkCatalog.paperBenchmarks { XCTAssertTrue(names.contains(n), n) }
        XCTAssertEqual(
            BenchmarkProtocol.paper(for: "aime24"), BenchmarkProtocol(samples: 8, temperature: 0.6, maxTokens: 3072))
        XCTAssertEqual(
            BenchmarkProtocol.paper(for: "math500"), BenchmarkProtocol(samples: 1, temperature: 0, maxTokens: 3072))
        XCTAssertEqual(BenchmarkProtocol.paper(for: "aime24").metric, "avg@8")
        var s = EvalSettings()
        s.samples = 4
        s.maxTokens = 16
        XCTAssertEqual(s.protocolFor("amc23"), BenchmarkProtocol(samples: 4, temperature: 0.6, maxTokens: 16))
        let math = try Support.catalog.load("math500")
        XCTAssertEqual(math.items.count, 500)
        XCTAssertEqual(math.items[0].id, "math500-0")
        XCTAssertEqual(math.items[0].subject, "Precalculus")
        XCTAssertEqual(math.items[0].level, "2")
        XCTAssertEqual(try Support.catalog.load("amc23").items.count, 40)
    }

    func testUnknownNameListsTheKnownOnes() {
        XCTAssertThrowsError(try Support.catalog.load("math50")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("unknown benchmark 'math50'"), text)
            XCTAssertTrue(text.contains("did you mean 'math500'"), text)
            XCTAssertTrue(text.contains("aime24, aime25, amc23"), text)
        }
    }

    func testPathIsABenchmarkAndBadLinesAreNamed() throws {
        let dir = try Support.tempFolder(self)
        let good = try write(
            "{\"problem\": \"1+1?\", \"answer\": 2}\n\n{\"id\": \"b\", \"problem\": \"2+2?\", \"answer\": \"4\"}\n",
            "mine.jsonl", in: dir)
        let set = try Support.catalog.load(good.path)
        XCTAssertEqual(set.name, "mine")
        XCTAssertEqual(set.items.map(\.id), ["mine-0", "b"])
        XCTAssertEqual(set.items.map(\.answer), ["2", "4"])
        XCTAssertEqual(set.items.map(\.line), [1, 3])

        let cases: [(String, String)] = [
            ("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\", \"answer\": \n", ":2: not valid JSON"),
            ("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\"}\n", ":2: `answer`: missing"),
            ("{\"problem\": \"a\", \"answer\": \"  \"}\n", ":1: `answer`: expected a non-blank string"),
            ("{\"answer\": \"1\"}\n", ":1: `problem`: missing"),
            ("[1, 2]\n", ":1: expected a JSON object"),
            (
                "{\"id\": \"x\", \"problem\": \"a\", \"answer\": \"1\"}\n{\"id\": \"x\", \"problem\": \"b\", \"answer\": \"2\"}\n",
                ":2: `id`: \"x\" was already used on line 1"
            ),
            ("\n", "no items"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let url = try write(text, "bad\(i).jsonl", in: dir)
            XCTAssertThrowsError(try Support.catalog.load(url.path), "case \(i)") { e in
                XCTAssertTrue("\(e)".contains(url.path), "\(e)")
                XCTAssertTrue("\(e)".contains(expected), "case \(i): \(e)")
            }
        }
        XCTAssertThrowsError(try Support.catalog.load(dir.appendingPathComponent("missing.jsonl").path)) { e in
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
    }

    func testPromptPlugins() throws {
        let plan = try EvalPlan(catalog: Support.catalog, settings: Support.settings(["aime25"], limit: 1))
        let item = plan.sets[0].items[0]
        XCTAssertEqual(
            try plan.promptText(item, set: "aime25"),
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
                + "<|im_start|>user\n" + item.problem + "<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(plan.promptName, "prompts.qwen25_math_cot")
        XCTAssertFalse(plan.manifest(model: Support.tinyModel).promptScripts.isEmpty)

        let dir = try Support.tempFolder(self)
        let custom = try write("return function(ex) return 'Q: ' .. ex.problem .. '\\nA:' end\n", "mine.lua", in: dir)
        var s = Support.settings(["aime25"], limit: 1)
        s.prompt = custom.path
        let mine = try EvalPlan(catalog: Support.catalog, settings: s)
        XCTAssertEqual(try mine.promptText(item, set: "aime25"), "Q: " + item.problem + "\nA:")

        let broken = try write("return 42\n", "broken.lua", in: dir)
        s.prompt = broken.path
        XCTAssertThrowsError(try EvalPlan(catalog: Support.catalog, settings: s)) { e in
            XCTAssertTrue("\(e)".contains("returned number, expected a function"), "\(e)")
        }
        s.prompt = "prompts.no_such_prompt"
        XCTAssertThrowsError(try EvalPlan(catalog: Support.catalog, settings: s)) { e in
            XCTAssertTrue("\(e)".contains("prompts.no_such_prompt"), "\(e)")
        }
        s.prompt = "prompts.qwen25_math_cot"
        s.limit = 0
        XCTAssertThrowsError(try EvalPlan(catalog: Support.catalog, settings: s)) { e in
            XCTAssertTrue("\(e)".contains("--limit"), "\(e)")
        }
    }
}
