// The HTML report on run folders made by hand: two runs (one with a recipe.lua name and an
// eval/sweep.json in the layout CheckpointSweep writes, one named by its folder), rendered into one
// page that parses as XML, names each run, draws one SVG per chart with a polyline per run, refers to
// nothing on the network and escapes user strings; test accuracy from metrics.jsonl keys when there is
// no sweep; bad folders and lines named in errors; and, when Chromium is installed, a PNG screenshot.
import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import XCTest
@testable import VerityEval

final class ReportTests: XCTestCase {
    // MARK: - Run folders

    /// A metrics.jsonl line per step (the trainer's keys, `kl` only when `kl` is true).
    func metricsText(steps: ClosedRange<Int>, offset: Double, kl: Bool) -> String {
        steps.map { s in
            let x = Double(s)
            var line =
                "{\"step\":\(s),\"reward_mean\":\(0.1 + offset + 0.05 * x),\"reward_std\":0.2,\"accuracy\":\(min(1, 0.05 * x + offset)),"
            line +=
                "\"entropy\":\(1.5 - 0.1 * x),\"response_length_mean\":\(200 + 10 * x + 50 * offset),\"grad_norm\":0.5,\"lr\":1e-06,"
            line += "\"reward/format\":\(0.5 + 0.01 * x)"
            if kl { line += ",\"kl\":\(0.001 * x)" }
            return line + "}"
        }.joined(separator: "\n") + "\n"
    }

    /// Two runs under a temporary folder: `pi1` (recipe name `name`, with a sweep over steps 0, 4, 8) and `full` (no recipe, no sweep).
    func makeRuns(name: String = "pi1-grpo") throws -> (URL, URL) {
        let root = try Support.tempFolder(self)
        let a = root.appendingPathComponent("pi1"), b = root.appendingPathComponent("full")
        let fm = FileManager.default
        try fm.createDirectory(at: a.appendingPathComponent("eval"), withIntermediateDirectories: true)
        try fm.createDirectory(at: b, withIntermediateDirectories: true)
        try metricsText(steps: 1...8, offset: 0.2, kl: true).write(
            to: a.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        try metricsText(steps: 1...6, offset: 0, kl: false).write(
            to: b.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let recipe = """
            -- Resolved recipe written by verity from pi1.lua: overrides applied, defaults filled.
            return {
              eval = {
                name = "not-the-run",
              },
              model = "m",
              name = "\(quoted)",
            }

            """
        try recipe.write(to: a.appendingPathComponent("recipe.lua"), atomically: true, encoding: .utf8)
        let sweep = SweepResult(
            run: a.path, benchmarks: ["math500", "aime24"],
            rows: [0, 4, 8].map { s in
                SweepRow(
                    step: s, checkpoint: a.appendingPathComponent("checkpoints/step-\(s)").path,
                    accuracy: ["math500": 0.3 + 0.02 * Double(s), "aime24": 0.05 + 0.01 * Double(s)],
                    average: 0.175 + 0.015 * Double(s), skipped: false)
            })
        try (sweep.json() + "\n").write(
            to: a.appendingPathComponent("eval/sweep.json"), atomically: true, encoding: .utf8)
        return (a, b)
    }

    // MARK: - Page

    func testPageOverlaysRunsInOneWellFormedPage() throws {
        let (a, b) = try makeRuns()
        let out = a.deletingLastPathComponent().appendingPathComponent("report.html")
        let result = try RunReport.write(folders: [a, b], to: out)
        XCTAssertEqual(result.runs.map(\.name), ["pi1-grpo", "full"])
        XCTAssertEqual(result.runs[0].benchmarks, ["math500", "aime24"])
        XCTAssertEqual(result.runs[0].test["math500"]?.map(\.step), [0, 4, 8])
        XCTAssertEqual(result.runs[0].testSource, "eval/sweep.json")
        XCTAssertNil(result.runs[1].testSource)
        XCTAssertEqual(result.runs[1].lastStep, 6)
        let page = try String(contentsOf: out, encoding: .utf8)

        let doc = try XMLOutline.parse(page)
        XCTAssertEqual(doc.root, "html")
        let titles = result.charts.map(\.title)
        XCTAssertEqual(
            titles,
            [
                "Training reward", "Training accuracy", "Test accuracy: math500", "Test accuracy: aime24",
                "Test accuracy: average", "Entropy", "Response length", "KL to the reference", "Reward term: format",
            ])
        XCTAssertEqual(doc.svgs.count, titles.count, "one SVG per chart")
        XCTAssertEqual(doc.svgs.map(\.title), titles)
        for (svg, chart) in zip(doc.svgs, result.charts) {
            XCTAssertEqual(svg.polylineRuns, chart.series.map(\.run), chart.title)
            XCTAssertTrue(svg.polylinePointCounts.allSatisfy { $0 >= 1 }, chart.title)
        }
        // Training charts have both runs; test accuracy and KL only the run that has them.
        XCTAssertEqual(doc.svgs[0].polylineRuns, [0, 1])
        XCTAssertEqual(doc.svgs[2].polylineRuns, [0])
        XCTAssertEqual(doc.svgs[2].polylinePointCounts, [3])
        XCTAssertEqual(doc.svgs[7].polylineRuns, [0])
        XCTAssertEqual(doc.svgs[0].polylinePointCounts, [8, 6])
        // Axis labels.
        XCTAssertTrue(doc.svgs.allSatisfy { $0.texts.contains("step") })
        XCTAssertTrue(doc.svgs[2].texts.contains("accuracy (%)"))
        // Names each run (legend, chart keys, tables) and colours them apart.
        XCTAssertTrue(doc.text.contains("pi1-grpo") && doc.text.contains("full"))
        XCTAssertFalse(doc.text.contains("not-the-run"))
        XCTAssertTrue(page.contains(RunReport.colour(0)) && page.contains(RunReport.colour(1)))
        XCTAssertEqual(doc.tableRows["final-train"]?.count, 2)
        XCTAssertEqual(doc.tableRows["final-test"]?.first?.first, "pi1-grpo")
        XCTAssertTrue(doc.tableRows["final-test"]?.first?.contains("46.0 step 8") ?? false, "\(doc.tableRows)")
        XCTAssertEqual(doc.tableRows["final-test"]?.last, ["full", "-", "-", "-"])
        // Self-contained: no scripts, no network references.
        XCTAssertNil(page.range(of: "https?://", options: [.regularExpression, .caseInsensitive]))
        XCTAssertFalse(doc.elements.contains("script") || doc.elements.contains("link") || doc.elements.contains("img"))
        // Deterministic.
        XCTAssertEqual(RunReport.html(try RunReport.load([a, b])), page)
    }

    func testUserStringsAreEscaped() throws {
        let evil = "<b>x</b> & \"q\" 'r' \u{1}"
        let (a, b) = try makeRuns(name: evil)
        let page = RunReport.html(try RunReport.load([a, b]), title: "A & <B>")
        XCTAssertFalse(page.contains("<b>x</b>"))
        XCTAssertTrue(page.contains("&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#39;r&#39; \u{FFFD}"))
        let doc = try XMLOutline.parse(page)
        XCTAssertTrue(doc.text.contains("<b>x</b> & \"q\" 'r'"))
        XCTAssertTrue(doc.text.contains("A & <B>"))
        XCTAssertEqual(RunReport.escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;")
    }

    func testRepeatedNamesGetTheirFolderAndDefaultIsTheFolderName() throws {
        let (_, b) = try makeRuns()
        let runs = try RunReport.load([b, b])
        XCTAssertEqual(runs.count, 2)
        XCTAssertNotEqual(runs[0].name, "full")
        XCTAssertTrue(runs[0].name.hasPrefix("full (") && runs[0].name.hasSuffix("/full)"), runs[0].name)
        XCTAssertEqual(try ReportRun.load(b).name, "full")
    }

    func testTestAccuracyFromMetricsKeysAndStepSummaries() throws {
        let root = try Support.tempFolder(self)
        let run = root.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lines = """
            {"step":1,"reward_mean":0.1,"entropy":1.0}
            {"step":2,"reward_mean":0.2,"entropy":0.9,"eval/math500/accuracy":0.25,"eval/amc23/accuracy":0.1}

            {"step":3,"reward_mean":null,"entropy":0.8}
            {"step":4,"reward_mean":0.4,"entropy":0.7,"eval/math500/accuracy":0.5,"eval/amc23/accuracy":0.2}

            """
        try lines.write(to: run.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let r = try ReportRun.load(run)
        XCTAssertEqual(r.testSource, "metrics.jsonl")
        XCTAssertEqual(r.benchmarks, ["amc23", "math500"])
        XCTAssertEqual(r.test["math500"], [SeriesPoint(step: 2, value: 0.25), SeriesPoint(step: 4, value: 0.5)])
        XCTAssertEqual(r.metrics["reward_mean"]?.map(\.step), [1, 2, 4], "null is left out")
        let charts = RunReport.charts([r])
        XCTAssertEqual(
            charts.map(\.title),
            ["Training reward", "Test accuracy: amc23", "Test accuracy: math500", "Test accuracy: average", "Entropy"])
        XCTAssertEqual(charts[3].series.first?.points.map(\.value), [0.175, 0.35])
        XCTAssertEqual(try XMLOutline.parse(RunReport.html([r])).svgs.count, 5)

        // A step summary (an evaluation sweep interrupted before sweep.json) takes over from the metrics keys.
        let stepDir = run.appendingPathComponent("eval/step-3")
        try FileManager.default.createDirectory(at: stepDir, withIntermediateDirectories: true)
        let summary = """
            {"average":0.4,"benchmarks":{"minerva_math":{"accuracy":0.4,"items":2,"max_tokens":8,"mean_response_tokens":8,"metric":"pass@1",\
            "pass_at_k":{"1":0.4},"reflection_rate":0,"samples_per_item":1,"temperature":0,"truncated_fraction":1}},"model":"/m"}
            """
        try summary.write(to: stepDir.appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
        let again = try ReportRun.load(run)
        XCTAssertEqual(again.testSource, "eval/step-N/summary.json")
        XCTAssertEqual(again.test, ["minerva_math": [SeriesPoint(step: 3, value: 0.4)]])
    }

    func testEmptyMetricsGiveAPageWithoutCharts() throws {
        let run = try Support.tempFolder(self).appendingPathComponent("fresh")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data().write(to: run.appendingPathComponent("metrics.jsonl"))
        let page = RunReport.html(try RunReport.load([run]))
        let doc = try XMLOutline.parse(page)
        XCTAssertEqual(doc.svgs.count, 0)
        XCTAssertTrue(doc.text.contains("fresh"))
    }

    // MARK: - Bad input

    func testFolderWithoutMetricsIsNamed() throws {
        let root = try Support.tempFolder(self)
        let empty = root.appendingPathComponent("not-a-run")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunReport.load([empty])) { e in
            XCTAssertTrue("\(e)".contains(empty.path) && "\(e)".contains("metrics.jsonl"), "\(e)")
        }
        let missing = root.appendingPathComponent("nowhere")
        XCTAssertThrowsError(try ReportRun.load(missing)) { e in
            XCTAssertTrue("\(e)".contains(missing.path) && "\(e)".contains("no such run folder"), "\(e)")
        }
        let out = root.appendingPathComponent("report.html")
        XCTAssertThrowsError(try RunReport.write(folders: [], to: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testBadLinesNameFileAndLine() throws {
        let run = try Support.tempFolder(self).appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let file = run.appendingPathComponent("metrics.jsonl")
        let cases: [(String, String)] = [
            ("{\"step\":1,\"reward_mean\":0.1}\n\n{\"step\":2,\"reward_mean\":\n", "\(file.path):3: not valid JSON"),
            (
                "{\"step\":1}\n{\"reward_mean\":0.3}\n",
                "\(file.path):2: `step`: expected a non-negative integer, found none"
            ),
            ("{\"step\":1}\n{\"step\":1.5}\n", "\(file.path):2: `step`"),
            ("{\"step\":1}\n[1,2]\n", "\(file.path):2: expected a JSON object"),
        ]
        for (text, expected) in cases {
            try text.write(to: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ReportRun.load(run)) { e in XCTAssertTrue("\(e)".hasPrefix(expected), "\(e)") }
        }
        // A bad sweep.json names the file; the page is not written.
        try "{\"step\":1}\n".write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: run.appendingPathComponent("eval"), withIntermediateDirectories: true)
        try "{\"run\": \"x\", \"rows\": []}".write(
            to: run.appendingPathComponent("eval/sweep.json"), atomically: true, encoding: .utf8)
        let out = run.deletingLastPathComponent().appendingPathComponent("r.html")
        XCTAssertThrowsError(try RunReport.write(folders: [run], to: out)) { e in
            XCTAssertTrue(
                "\(e)".hasPrefix(run.appendingPathComponent("eval/sweep.json").path) && "\(e)".contains("benchmarks"),
                "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        // An --out in a folder that does not exist.
        try FileManager.default.removeItem(at: run.appendingPathComponent("eval"))
        let nowhere = run.appendingPathComponent("no/such/folder/r.html")
        XCTAssertThrowsError(try RunReport.write(folders: [run], to: nowhere)) { e in
            XCTAssertTrue("\(e)".contains(nowhere.path), "\(e)")
        }
    }

    func testTicksAreRound() {
        let unit = RunReport.niceTicks(0, 1, count: 5)
        XCTAssertEqual(unit.count, 6)
        for (t, want) in zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) { XCTAssertEqual(t, want, accuracy: 1e-12) }
        XCTAssertEqual(RunReport.niceTicks(1, 8, count: 6, integer: true), [0, 2, 4, 6, 8])
        XCTAssertEqual(RunReport.niceTicks(0, 2000, count: 6, integer: true), [0, 500, 1000, 1500, 2000])
        XCTAssertEqual(RunReport.decimals([0, 0.2, 0.4]), 1)
        XCTAssertEqual(RunReport.decimals([0, 0.25, 0.5]), 2)
        XCTAssertEqual(RunReport.decimals([0, 50, 100]), 0)
    }

    // MARK: - Chromium

    func testChromiumRendersThePage() throws {
        let candidates = [
            ProcessInfo.processInfo.environment["VERITY_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ].compactMap { $0 }
        guard let chromium = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("Chromium is not installed (apt-get install chromium)")
        }
        let (a, b) = try makeRuns()
        let root = a.deletingLastPathComponent()
        let html = root.appendingPathComponent("report.html"), png = root.appendingPathComponent("report.png")
        try RunReport.write(folders: [a, b], to: html)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        p.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--user-data-dir=" + root.appendingPathComponent("chromium-profile").path,
            "--screenshot=" + png.path, "--window-size=1200,2000", html.absoluteString,
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); XCTFail("chromium did not finish within 120 s"); return }
        XCTAssertEqual(p.terminationStatus, 0)
        let data = try Data(contentsOf: png)
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        let be = { (o: Int) in data[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be(16), 1200, "width")
        XCTAssertEqual(be(20), 2000, "height")
        // A blank 1200×2000 page compresses to a few kilobytes; charts, text and tables do not.
        XCTAssertGreaterThan(data.count, 40_000)
    }
}

// MARK: - XML outline

/// What the tests read from the page, parsed as XML (so the markup is well-formed).
struct XMLOutline {
    struct SVG {
        var title = ""
        var polylineRuns: [Int] = []
        var polylinePointCounts: [Int] = []
        var texts: [String] = []
    }
    var root = ""
    var elements: Set<String> = []
    var svgs: [SVG] = []
    var text = ""
    /// Rows of the tables with an id, each row its cells' text.
    var tableRows: [String: [[String]]] = [:]

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ page: String) throws -> XMLOutline {
        let delegate = Delegate()
        let parser = XMLParser(data: Data(page.utf8))
        parser.delegate = delegate
        guard parser.parse() else {
            throw ParseError(
                description: "not well-formed XML at line \(parser.lineNumber), column \(parser.columnNumber): "
                    + "\(parser.parserError.map { "\($0)" } ?? "unknown")")
        }
        return delegate.outline
    }

    final class Delegate: NSObject, XMLParserDelegate {
        var outline = XMLOutline()
        var stack: [String] = []
        var inSVG = false
        var table: String?
        var row: [String]?
        var cell: String?
        var svgText: String?

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if stack.isEmpty { outline.root = name }
            stack.append(name)
            outline.elements.insert(name)
            switch name {
            case "svg": outline.svgs.append(SVG()); inSVG = true
            case "g" where inSVG:
                if let run = attributes["data-run"].flatMap(Int.init) {
                    outline.svgs[outline.svgs.count - 1].polylineRuns.append(run)
                }
            case "polyline" where inSVG:
                let n = (attributes["points"] ?? "").split(separator: " ").count
                outline.svgs[outline.svgs.count - 1].polylinePointCounts.append(n)
            case "text" where inSVG: svgText = ""
            case "table": table = attributes["id"]
            case "tr" where table != nil: row = []
            case "td" where row != nil: cell = ""
            default: break
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
            switch name {
            case "svg": inSVG = false
            case "text" where inSVG:
                if let t = svgText { outline.svgs[outline.svgs.count - 1].texts.append(t) }
                svgText = nil
            case "td": if let c = cell { row?.append(c.trimmingCharacters(in: .whitespaces)) }; cell = nil
            case "tr":
                if let t = table, let r = row, !r.isEmpty { outline.tableRows[t, default: []].append(r) }
                row = nil
            case "table": table = nil
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            outline.text += string
            if inSVG && stack.last == "title" && stack.dropLast().last == "svg" {
                outline.svgs[outline.svgs.count - 1].title += string
            }
            if svgText != nil { svgText? += string }
            if cell != nil { cell? += string }
        }
    }
}
