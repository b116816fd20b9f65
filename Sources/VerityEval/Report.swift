// Report: `verity report RUN_DIR...` as a library. It reads run folders (`metrics.jsonl` through the
// one JSONL reader, `eval/sweep.json` and `eval/step-N/summary.json` from checkpoint sweeps, the run's
// name from `recipe.lua`) and builds one self-contained HTML page: inline SVG line charts drawn here
// (training reward and accuracy, test accuracy per benchmark, entropy, response length, KL, extra
// `reward/<name>` metrics), every run overlaid in its own colour with a legend, and the final tables
// (each run's last training step and its last test accuracy per benchmark). The page has no scripts,
// no network references and is XHTML-compatible markup (it parses as XML), so tests and browsers read
// the same thing. Every string that comes from a user (run names, folders, metric and benchmark
// names) is escaped. Not here: evaluating checkpoints (Sweep.swift) or the command line.
import Foundation
import VerityCore
import VerityJSON

// MARK: - Run data

/// One value of a series: a training step and the number logged there.
public struct SeriesPoint: Sendable, Equatable {
    /// The training step.
    public var step: Int
    /// The value.
    public var value: Double

    /// A point.
    public init(step: Int, value: Double) {
        self.step = step
        self.value = value
    }
}

/// What a report shows of one run folder.
public struct ReportRun: Sendable, Equatable {
    /// The name in the legend: recipe.lua's `name`, else the folder's name.
    public var name: String
    /// The run folder.
    public var folder: URL
    /// Every numeric metrics.jsonl key (`step` aside) with its values by step.
    public var metrics: [String: [SeriesPoint]]
    /// The last logged step.
    public var lastStep: Int?
    /// The last step's numeric values.
    public var lastValues: [String: Double]
    /// Test accuracy (0–1) by benchmark, by step.
    public var test: [String: [SeriesPoint]]
    /// The benchmarks in column order.
    public var benchmarks: [String]
    /// Where the test accuracy came from ("eval/sweep.json", "eval/step-N/summary.json", "metrics.jsonl"), nil without any.
    public var testSource: String?

    /// A run from its parts.
    public init(
        name: String, folder: URL, metrics: [String: [SeriesPoint]], lastStep: Int?, lastValues: [String: Double],
        test: [String: [SeriesPoint]], benchmarks: [String], testSource: String?
    ) {
        self.name = name
        self.folder = folder
        self.metrics = metrics
        self.lastStep = lastStep
        self.lastValues = lastValues
        self.test = test
        self.benchmarks = benchmarks
        self.testSource = testSource
    }

    /// Reads `folder`: metrics.jsonl (required), eval/sweep.json and eval/step-N/summary.json (optional), recipe.lua's name.
    public static func load(_ folder: URL) throws -> ReportRun {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw EvalError.file(path: folder.path, line: nil, detail: "no such run folder")
        }
        let metricsURL = folder.appendingPathComponent("metrics.jsonl")
        guard fm.fileExists(atPath: metricsURL.path) else {
            throw EvalError.file(
                path: folder.path, line: nil,
                detail: "not a run folder: it holds no metrics.jsonl (verity train writes one)")
        }
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.read(metricsURL) } catch let e as JSONLinesError {
            throw EvalError.file(path: e.file, line: e.line, detail: e.detail)
        }
        var byStep: [Int: [String: Double]] = [:]
        for line in lines {
            guard case .object(let object) = line.value else {
                throw EvalError.file(
                    path: metricsURL.path, line: line.number,
                    detail: "expected a JSON object, found \(line.value.description.prefix(40))")
            }
            guard let step = object["step"]?.intValue, step >= 0 else {
                throw EvalError.file(
                    path: metricsURL.path, line: line.number,
                    detail: "`step`: expected a non-negative integer, found \(object["step"]?.description ?? "none")")
            }
            var values: [String: Double] = [:]
            for (key, value) in object where key != "step" {
                if let d = value.doubleValue, d.isFinite { values[key] = d }
            }
            byStep[step] = values  // a repeated step (a resumed run's file not cut back): the later line wins
        }
        let steps = byStep.keys.sorted()
        var metrics: [String: [SeriesPoint]] = [:]
        for step in steps {
            for (key, value) in byStep[step] ?? [:] {
                metrics[key, default: []].append(SeriesPoint(step: step, value: value))
            }
        }
        var run = ReportRun(
            name: recipeName(folder) ?? folder.standardizedFileURL.lastPathComponent, folder: folder, metrics: metrics,
            lastStep: steps.last, lastValues: steps.last.flatMap { byStep[$0] } ?? [:], test: [:], benchmarks: [],
            testSource: nil)
        try run.loadTestAccuracy()
        return run
    }

    /// Test accuracy from eval/sweep.json and the eval/step-N/summary.json files it lacks; else from `eval/<set>/accuracy` metrics.
    mutating func loadTestAccuracy() throws {
        let evalRoot = folder.appendingPathComponent("eval")
        let fm = FileManager.default
        var rows: [Int: [String: Double]] = [:]
        var order: [String] = []
        var sources: [String] = []
        func note(_ names: [String]) { for n in names where !order.contains(n) { order.append(n) } }
        let sweepURL = evalRoot.appendingPathComponent("sweep.json")
        if fm.fileExists(atPath: sweepURL.path) {
            let sweep: SweepResult
            do { sweep = try JSONDecoder().decode(SweepResult.self, from: Data(contentsOf: sweepURL)) } catch {
                throw EvalError.file(
                    path: sweepURL.path, line: nil,
                    detail: "not a sweep table (verity eval --run writes one): \(describe(error))")
            }
            note(sweep.benchmarks)
            for row in sweep.rows {
                rows[row.step, default: [:]].merge(row.accuracy) { _, new in new }; note(row.accuracy.keys.sorted())
            }
            sources.append("eval/sweep.json")
        }
        // Steps evaluated after the last sweep.json was written (an interrupted sweep): their summary.json.
        if let names = try? fm.contentsOfDirectory(atPath: evalRoot.path) {
            let found = names.compactMap { n -> Int? in n.hasPrefix("step-") ? Int(n.dropFirst(5)) : nil }.sorted()
            for step in found where rows[step] == nil {
                let url = evalRoot.appendingPathComponent("step-\(step)/summary.json")
                guard fm.fileExists(atPath: url.path) else { continue }
                let summary: EvalSummary
                do { summary = try JSONDecoder().decode(EvalSummary.self, from: Data(contentsOf: url)) } catch {
                    throw EvalError.file(
                        path: url.path, line: nil, detail: "not an evaluation summary: \(describe(error))")
                }
                rows[step] = Dictionary(summary.results.map { ($0.name, $0.accuracy) }, uniquingKeysWith: { a, _ in a })
                note(summary.results.map(\.name))
                if !sources.contains("eval/step-N/summary.json") { sources.append("eval/step-N/summary.json") }
            }
        }
        if rows.isEmpty {
            // Accuracy logged by the trainer as `eval/<set>/accuracy`.
            for key in metrics.keys.sorted() where key.hasPrefix("eval/") && key.hasSuffix("/accuracy") {
                let set = String(key.dropFirst(5).dropLast(9))
                guard !set.isEmpty else { continue }
                for p in metrics[key] ?? [] { rows[p.step, default: [:]][set] = p.value }
                note([set])
            }
            if !rows.isEmpty { sources.append("metrics.jsonl") }
        }
        var test: [String: [SeriesPoint]] = [:]
        for step in rows.keys.sorted() {
            for (set, value) in rows[step] ?? [:] where value.isFinite {
                test[set, default: []].append(SeriesPoint(step: step, value: value))
            }
        }
        self.test = test
        benchmarks = order.filter { test[$0] != nil }
        testSource = sources.isEmpty ? nil : sources.joined(separator: " + ")
    }
}

/// The `name` of a run folder's recipe.lua (the least indented `name = "..."` line: the resolved table's top level), nil without one.
func recipeName(_ folder: URL) -> String? {
    guard let text = try? String(contentsOf: folder.appendingPathComponent("recipe.lua"), encoding: .utf8) else {
        return nil
    }
    var best: (indent: Int, name: String)?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let indent = line.prefix { $0 == " " || $0 == "\t" }.count
        var rest = line.dropFirst(indent)
        guard rest.hasPrefix("name") else { continue }
        rest = rest.dropFirst(4).drop { $0 == " " || $0 == "\t" }
        guard rest.first == "=" else { continue }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { continue }
        var name = "", escaped = false, closed = false
        for c in rest.dropFirst() {
            if escaped {
                switch c {
                case "n": name.append("\n");
                case "t": name.append("\t");
                default: name.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == quote {
                closed = true
                break
            } else {
                name.append(c)
            }
        }
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard closed, !trimmed.isEmpty else { continue }
        if best == nil || indent < best?.indent ?? 0 { best = (indent, trimmed) }
    }
    return best?.name
}

/// A decoding error's short text (the key path and what is wrong).
private func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let c):
        return "missing key `\((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))`"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "`\(c.codingPath.map(\.stringValue).joined(separator: "."))`: \(c.debugDescription)"
    case DecodingError.dataCorrupted(let c):
        return "not valid JSON"
            + (c.codingPath.isEmpty ? "" : " at `\(c.codingPath.map(\.stringValue).joined(separator: "."))`")
    default:
        return (error as NSError).localizedFailureReason ?? error.localizedDescription
    }
}

// MARK: - Charts

/// One chart of the page: a metric over steps, one series per run that has it.
public struct ReportChart: Sendable, Equatable {
    /// The heading.
    public var title: String
    /// The y axis label.
    public var yLabel: String
    /// Where the numbers come from (a metrics.jsonl key, a sweep benchmark), shown under the heading.
    public var source: String
    /// (run index, points) for each run with data.
    public var series: [Series]
    /// Whether the y axis starts at 0 (when every value is positive).
    public var zeroBased: Bool
    /// Factor applied to values before plotting (100: shares as percent).
    public var scale: Double

    /// One run's line.
    public struct Series: Sendable, Equatable {
        /// The run's index (its colour).
        public var run: Int
        /// Its points, by step.
        public var points: [SeriesPoint]
    }
}

// MARK: - Report

/// Builds and writes the HTML report of one or more run folders.
public enum RunReport {
    /// Run colours (Tableau 10), one per run in order, repeating after ten.
    public static let palette = [
        "#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac",
    ]

    /// The colour of run `i`.
    public static func colour(_ i: Int) -> String { palette[i % palette.count] }

    /// Reads every folder; names that repeat get their folder's name added, so each legend entry is distinct.
    public static func load(_ folders: [URL]) throws -> [ReportRun] {
        var runs = try folders.map(ReportRun.load)
        let counts = Dictionary(runs.map { ($0.name, 1) }, uniquingKeysWith: +)
        for i in runs.indices where (counts[runs[i].name] ?? 0) > 1 {
            runs[i].name += " (" + runs[i].folder.standardizedFileURL.path + ")"
        }
        return runs
    }

    /// The charts for `runs`, in page order; a chart no run has data for is left out.
    public static func charts(_ runs: [ReportRun]) -> [ReportChart] {
        var charts: [ReportChart] = []
        func metric(_ key: String, _ title: String, _ yLabel: String, zeroBased: Bool, scale: Double = 1) {
            let series = runs.enumerated().compactMap { i, r in
                r.metrics[key].map { ReportChart.Series(run: i, points: $0) }
            }
            guard !series.isEmpty else { return }
            charts.append(
                ReportChart(
                    title: title, yLabel: yLabel, source: "metrics.jsonl: \(key)", series: series, zeroBased: zeroBased,
                    scale: scale))
        }
        metric("reward_mean", "Training reward", "reward (mean)", zeroBased: false)
        metric("accuracy", "Training accuracy", "accuracy (%)", zeroBased: true, scale: 100)
        var benchmarks: [String] = []
        for r in runs { for b in r.benchmarks where !benchmarks.contains(b) { benchmarks.append(b) } }
        for b in benchmarks {
            let series = runs.enumerated().compactMap { i, r in r.test[b].map { ReportChart.Series(run: i, points: $0) }
            }
            let sources = Set(runs.compactMap(\.testSource)).sorted().joined(separator: ", ")
            charts.append(
                ReportChart(
                    title: "Test accuracy: \(b)", yLabel: "accuracy (%)", source: "\(sources): \(b)", series: series,
                    zeroBased: true, scale: 100))
        }
        if benchmarks.count > 1 {
            // The unweighted mean over the benchmarks a run has at a step (Qwen2.5-Eval's "avg" column), where it has them all.
            let series = runs.enumerated().compactMap { i, r -> ReportChart.Series? in
                guard !r.benchmarks.isEmpty else { return nil }
                var byStep: [Int: [Double]] = [:]
                for b in r.benchmarks { for p in r.test[b] ?? [] { byStep[p.step, default: []].append(p.value) } }
                let points = byStep.keys.sorted().compactMap { s -> SeriesPoint? in
                    guard let v = byStep[s], v.count == r.benchmarks.count else { return nil }
                    return SeriesPoint(step: s, value: v.reduce(0, +) / Double(v.count))
                }
                return points.isEmpty ? nil : ReportChart.Series(run: i, points: points)
            }
            if !series.isEmpty {
                charts.append(
                    ReportChart(
                        title: "Test accuracy: average", yLabel: "accuracy (%)",
                        source: "mean over each run's benchmarks",
                        series: series, zeroBased: true, scale: 100))
            }
        }
        metric("entropy", "Entropy", "entropy (nats/token)", zeroBased: false)
        metric("response_length_mean", "Response length", "tokens (mean)", zeroBased: true)
        metric("kl", "KL to the reference", "KL", zeroBased: false)
        var extra: [String] = []
        for r in runs {
            for k in r.metrics.keys.sorted() where k.hasPrefix("reward/") && !extra.contains(k) { extra.append(k) }
        }
        for k in extra { metric(k, "Reward term: \(k.dropFirst(7))", String(k.dropFirst(7)), zeroBased: false) }
        return charts
    }

    /// The training metrics in the final table, in column order (those no run logged are left out).
    public static let tableKeys = [
        "reward_mean", "accuracy", "entropy", "response_length_mean", "truncated_fraction", "kl", "grad_norm", "lr",
    ]

    /// The whole page.
    public static func html(_ runs: [ReportRun], title: String = "Verity report") -> String {
        let charts = charts(runs)
        let allSteps = charts.flatMap { $0.series.flatMap { $0.points.map(\.step) } }
        let range = (allSteps.min() ?? 0)...(allSteps.max() ?? 1)
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h +=
            "<meta name=\"generator\" content=\"verity report\"/>\n<title>\(escape(title))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n"
        h += "<h1>\(escape(title))</h1>\n"
        h +=
            "<p class=\"sub\">\(runs.count) run\(runs.count == 1 ? "" : "s"), \(charts.count) chart\(charts.count == 1 ? "" : "s"). "
        h += "Each run has one colour in every chart; the table at the end gives each run's last step.</p>\n"
        // Legend.
        h +=
            "<table class=\"legend\">\n<thead><tr><th>run</th><th>folder</th><th>steps</th><th>test accuracy from</th></tr></thead>\n<tbody>\n"
        for (i, r) in runs.enumerated() {
            let steps =
                r.lastStep.map { "\(r.metrics.values.map(\.count).max() ?? 0) logged, last \($0)" } ?? "none logged"
            h +=
                "<tr><td class=\"run\">\(swatch(i))\(escape(r.name))</td><td class=\"path\">\(escape(r.folder.path))</td>"
            h += "<td>\(escape(steps))</td><td>\(escape(r.testSource ?? "none"))</td></tr>\n"
        }
        h += "</tbody>\n</table>\n"
        // Charts.
        h += "<div class=\"charts\">\n"
        for (n, chart) in charts.enumerated() {
            h +=
                "<figure class=\"chart\" id=\"chart-\(n + 1)\">\n<figcaption><span class=\"title\">\(escape(chart.title))</span> "
            h += "<span class=\"source\">\(escape(chart.source))</span></figcaption>\n"
            h += svg(chart, runs: runs, steps: range)
            h += "<div class=\"key\">"
            for s in chart.series { h += "<span class=\"entry\">\(swatch(s.run))\(escape(runs[s.run].name))</span>" }
            h += "</div>\n</figure>\n"
        }
        if charts.isEmpty { h += "<p>No run logged any step yet.</p>\n" }
        h += "</div>\n"
        h += finalTables(runs)
        h += "</body>\n</html>\n"
        return h
    }

    /// Reads `folders`, builds the page and writes it to `out` atomically; returns the runs and charts.
    @discardableResult
    public static func write(folders: [URL], to out: URL, title: String = "Verity report") throws -> (
        runs: [ReportRun], charts: [ReportChart]
    ) {
        guard !folders.isEmpty else {
            throw EvalError.badSetting(name: "RUN_DIR", value: "none", detail: "give at least one run folder")
        }
        let runs = try load(folders)
        let page = html(runs, title: title)
        do { try AtomicFile.write(Data(page.utf8), to: out) } catch let e as FileWriteError {
            throw EvalError.file(path: e.file, line: nil, detail: "cannot write: \(e.detail)")
        }
        return (runs, charts(runs))
    }

    // MARK: Tables

    static func finalTables(_ runs: [ReportRun]) -> String {
        var h = "<h2>Final step</h2>\n"
        let keys = tableKeys.filter { k in runs.contains { $0.lastValues[k] != nil } }
        h += "<table class=\"final\" id=\"final-train\">\n<thead><tr><th>run</th><th>step</th>"
        for k in keys { h += "<th>\(escape(k))</th>" }
        h += "</tr></thead>\n<tbody>\n"
        for (i, r) in runs.enumerated() {
            h +=
                "<tr><td class=\"run\">\(swatch(i))\(escape(r.name))</td><td>\(r.lastStep.map(String.init) ?? "-")</td>"
            for k in keys { h += "<td>\(r.lastValues[k].map(number) ?? "-")</td>" }
            h += "</tr>\n"
        }
        h += "</tbody>\n</table>\n"
        var benchmarks: [String] = []
        for r in runs { for b in r.benchmarks where !benchmarks.contains(b) { benchmarks.append(b) } }
        guard !benchmarks.isEmpty else {
            return h
                + "<p class=\"sub\">No test accuracy: no eval/sweep.json (verity eval --run RUN_DIR writes one).</p>\n"
        }
        h += "<h2>Test accuracy (%) at the last evaluated step</h2>\n"
        h += "<table class=\"final\" id=\"final-test\">\n<thead><tr><th>run</th>"
        for b in benchmarks { h += "<th>\(escape(b))</th>" }
        h += "<th>average</th></tr></thead>\n<tbody>\n"
        for (i, r) in runs.enumerated() {
            h += "<tr><td class=\"run\">\(swatch(i))\(escape(r.name))</td>"
            var lasts: [Double] = []
            for b in benchmarks {
                if let p = r.test[b]?.last {
                    lasts.append(p.value)
                    h += "<td>\(pct(p.value)) <span class=\"at\">step \(p.step)</span></td>"
                } else {
                    h += "<td>-</td>"
                }
            }
            let avg =
                lasts.count == benchmarks.count && !lasts.isEmpty ? pct(lasts.reduce(0, +) / Double(lasts.count)) : "-"
            h += "<td>\(avg)</td></tr>\n"
        }
        h += "</tbody>\n</table>\n"
        return h
    }

    // MARK: SVG

    /// Chart geometry: the SVG's size and the plot area's margins.
    static let width = 540.0, height = 300.0, left = 64.0, right = 16.0, top = 14.0, bottom = 46.0

    /// The chart's SVG; `steps` is the x range every chart of the page shares, so curves line up.
    static func svg(_ chart: ReportChart, runs: [ReportRun], steps: ClosedRange<Int>) -> String {
        let all = chart.series.flatMap(\.points)
        let ys = all.map { $0.value * chart.scale }
        var (x0, x1) = (Double(min(0, steps.lowerBound)), Double(steps.upperBound))
        if x0 == x1 { x1 += 1 }
        var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if chart.zeroBased && y0 >= 0 { y0 = 0 }
        if y0 == y1 {
            // A flat line: at 0 on a zero-based chart, show the whole natural range (0–100 % for shares).
            if chart.zeroBased && y0 == 0 {
                y1 = chart.scale
            } else {
                let pad = y0 == 0 ? 1 : abs(y0) * 0.1; y0 -= pad; y1 += pad
            }
        }
        let yTicks = niceTicks(y0, y1, count: 5)
        y0 = min(y0, yTicks.first ?? y0)
        y1 = max(y1, yTicks.last ?? y1)
        let xTicks = niceTicks(x0, x1, count: 6, integer: true).filter { $0 >= x0 && $0 <= x1 }
        let pw = width - left - right, ph = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
        let yDigits = decimals(yTicks)
        var s =
            "<svg class=\"plot\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\">\n"
        s += "<title>\(escape(chart.title))</title>\n"
        s += "<rect class=\"area\" x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\"/>\n"
        s += "<g class=\"grid\">"
        for t in yTicks {
            s += "<line x1=\"\(f(left))\" x2=\"\(f(left + pw))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\"/>"
        }
        for t in xTicks { s += "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top))\" y2=\"\(f(top + ph))\"/>" }
        s += "</g>\n<g class=\"ticks y\">"
        for t in yTicks {
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\">\(String(format: "%.\(yDigits)f", t))</text>"
        }
        s += "</g>\n<g class=\"ticks x\">"
        for t in xTicks { s += "<text x=\"\(f(px(t)))\" y=\"\(f(top + ph + 16))\">\(Int(t))</text>" }
        s += "</g>\n"
        s += "<text class=\"label\" x=\"\(f(left + pw / 2))\" y=\"\(f(height - 8))\">step</text>\n"
        s +=
            "<text class=\"label\" transform=\"translate(14 \(f(top + ph / 2))) rotate(-90)\">\(escape(chart.yLabel))</text>\n"
        for series in chart.series {
            let colour = colour(series.run), name = escape(runs[series.run].name)
            let pts = series.points.map { "\(f(px(Double($0.step)))),\(f(py($0.value * chart.scale)))" }.joined(
                separator: " ")
            s += "<g class=\"series\" data-run=\"\(series.run)\">"
            s +=
                "<polyline points=\"\(pts)\" stroke=\"\(colour)\"\(dashes(series.run).map { " stroke-dasharray=\"\($0)\"" } ?? "")><title>\(name)</title></polyline>"
            if series.points.count <= 60 {
                for p in series.points {
                    s +=
                        "<circle cx=\"\(f(px(Double(p.step))))\" cy=\"\(f(py(p.value * chart.scale)))\" r=\"2.5\" fill=\"\(colour)\">"
                    s += "<title>\(name): step \(p.step), \(number(p.value * chart.scale))</title></circle>"
                }
            }
            s += "</g>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// Round tick values covering [lo, hi] (1-2-5 steps); whole numbers when `integer`.
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int, integer: Bool = false) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let mag = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        if integer { step = [1.0, 2, 5, 10].map { $0 * max(1, mag) }.first { $0 >= raw } ?? 10 * max(1, mag) }
        let first = Int(floor(lo / step)), last = Int(ceil(hi / step))
        guard last - first < 50 else { return [lo, hi] }
        return (first...last).map { Double($0) * step }
    }

    /// Decimals that tell the ticks apart.
    static func decimals(_ ticks: [Double]) -> Int {
        guard ticks.count > 1 else { return 2 }
        let step = abs(ticks[1] - ticks[0])
        guard step > 0 else { return 2 }
        var d = max(0, Int(ceil(-log10(step) - 1e-9)))
        if d < 6, (step * pow(10, Double(d))).truncatingRemainder(dividingBy: 1) > 1e-6 { d += 1 }
        return min(d, 6)
    }

    /// A coordinate with two decimals.
    static func f(_ x: Double) -> String { String(format: "%.2f", x) }

    /// A table number: four significant digits, integers as integers.
    static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e9 { return String(Int64(x)) }
        if abs(x) >= 1e5 || abs(x) < 1e-3 { return String(format: "%.3e", x) }
        return String(format: "%.4g", x)
    }

    /// Run `i`'s dash pattern (runs after the first are dashed, so identical curves stay visible), nil for solid.
    static func dashes(_ run: Int) -> String? { [nil, "7 4", "2 3", "10 3 2 3"][run % 4] }

    /// A legend swatch: a short line in the run's colour and dash pattern.
    static func swatch(_ run: Int) -> String {
        let c = colour(run)
        let fill: String
        if let d = dashes(run) {
            let parts = d.split(separator: " ").compactMap { Double($0) }
            var stops: [String] = [], at = 0.0
            for (k, len) in parts.enumerated() {
                let colourHere = k % 2 == 0 ? c : "transparent"
                stops.append("\(colourHere) \(Int(at))px \(Int(at + len))px")
                at += len
            }
            fill = "repeating-linear-gradient(90deg, " + stops.joined(separator: ", ") + ")"
        } else {
            fill = c
        }
        return "<span class=\"sw\" style=\"background:\(fill)\"></span>"
    }

    // MARK: Escaping

    /// `text` safe inside HTML/XML text and attribute values (& < > " ' escaped; characters XML forbids replaced by U+FFFD).
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                let v = u.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFFFE || v == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    static let css = """
        body { font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222; margin: 20px; }
        h1 { font-size: 22px; margin: 0 0 4px; }
        h2 { font-size: 17px; margin: 28px 0 8px; }
        .sub { color: #666; margin: 0 0 12px; }
        table { border-collapse: collapse; margin: 8px 0 16px; }
        th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; white-space: nowrap; }
        th { background: #f4f4f4; font-weight: 600; }
        td.run, td.path, th:first-child { text-align: left; }
        td.path { color: #555; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; white-space: normal; word-break: break-all; text-align: left; }
        .legend td, .legend th { text-align: left; }
        .sw { display: inline-block; width: 22px; height: 3px; margin: 0 6px 3px 0; vertical-align: middle; border-radius: 2px; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px 16px; }
        figure.chart { margin: 0; padding: 6px; border: 1px solid #e3e3e3; border-radius: 4px; width: 540px; }
        figcaption .title { font-weight: 600; font-size: 15px; }
        figcaption .source { color: #888; font-size: 12px; margin-left: 6px; }
        .key { font-size: 12px; color: #444; }
        .key .entry { margin-right: 14px; white-space: nowrap; }
        .at { color: #999; font-size: 11px; }
        svg.plot { display: block; font: 11px "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
        svg.plot .area { fill: #fcfcfc; stroke: #bbb; }
        svg.plot .grid line { stroke: #e6e6e6; }
        svg.plot .ticks text { fill: #555; }
        svg.plot .ticks.y text { text-anchor: end; }
        svg.plot .ticks.x text { text-anchor: middle; }
        svg.plot .label { fill: #333; font-size: 12px; text-anchor: middle; }
        svg.plot polyline { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }

        """
}
