// `verity report RUN_DIR... [--out FILE.html] [--title T]`: one self-contained HTML page comparing
// training runs (curves of reward, accuracy, test accuracy per benchmark, entropy, response length,
// KL; the final tables). Parsing and printing only; reading run folders and building the page is
// VerityEval.RunReport.
import ArgumentParser
import Foundation
import VerityEval

/// `verity report RUN_DIR... [--out FILE.html]`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page (inline SVG charts, no network) comparing run folders.")

    @Argument(
        help: "Run folders (each with a metrics.jsonl; eval/sweep.json from `verity eval --run` adds test accuracy).")
    var runDirs: [String]
    @Option(help: "The HTML file to write.") var out = "report.html"
    @Option(help: "The page title.") var title = "Verity report"

    func validate() throws {
        guard !runDirs.isEmpty else { throw ValidationError("give at least one run folder") }
    }

    func run() throws {
        let result = try RunReport.write(
            folders: runDirs.map { URL(fileURLWithPath: $0) }, to: URL(fileURLWithPath: out), title: title)
        for r in result.runs {
            print(
                "\(r.name): \(r.lastStep.map { "last step \($0)" } ?? "no steps")\(r.benchmarks.isEmpty ? "" : ", test accuracy on " + r.benchmarks.joined(separator: ", "))"
            )
        }
        print(
            "report: \(out) (\(result.runs.count) run\(result.runs.count == 1 ? "" : "s"), \(result.charts.count) charts)"
        )
    }
}
