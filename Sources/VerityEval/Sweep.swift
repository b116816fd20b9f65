// Sweep: `verity eval --run RUN_DIR` evaluates every checkpoint of a training run (the
// `checkpoints/step-N/` Hugging Face folders that `verity train` writes) with one plan, each into
// `RUN_DIR/eval/step-N/` (the same output folder as `--out`, so an interrupted step resumes), skipping
// steps whose folder already holds a summary of the same sets, items and settings, and writes one
// table with a row per step to `RUN_DIR/eval/sweep.json`, so test accuracy over training can be
// plotted. Folders that are not `step-<integer>` (a checkpoint being written, `.step-N.tmp-*`) or hold
// no config.json are ignored. Not here: plotting or the HTML report.
import Foundation
import VerityJSON

// MARK: - Result

/// One step of a sweep.
public struct SweepRow: Codable, Sendable, Equatable {
    /// The training step.
    public var step: Int
    /// The checkpoint folder.
    public var checkpoint: String
    /// Accuracy (0–1) by benchmark.
    public var accuracy: [String: Double]
    /// The unweighted mean over benchmarks.
    public var average: Double?
    /// Whether this run found the step already evaluated.
    public var skipped: Bool
}

/// A sweep over a run's checkpoints.
public struct SweepResult: Codable, Sendable, Equatable {
    /// The run folder.
    public var run: String
    /// The benchmarks, in column order.
    public var benchmarks: [String]
    /// One row per step, by step.
    public var rows: [SweepRow]

    /// The JSON text (keys sorted).
    public func json(pretty: Bool = true) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(self) else { preconditionFailure("a sweep of finite numbers encodes") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The table: a row per step, a column per benchmark (×100, one decimal), and the average.
    public func table() -> String {
        let header = ["step"] + benchmarks + ["average"]
        let rows = rows.map { r in
            [String(r.step)] + benchmarks.map { r.accuracy[$0].map(pct) ?? "-" } + [r.average.map(pct) ?? "-"]
        }
        return "run: \(run)\n" + formatTable(header: header, rows: rows, rightAligned: Set(0..<header.count))
    }
}

// MARK: - Sweep

/// Evaluates every checkpoint of a run.
public enum CheckpointSweep {
    /// The run's checkpoint folders `checkpoints/step-N/` holding a config.json, by step.
    public static func checkpoints(run: URL) throws -> [(step: Int, url: URL)] {
        let root = run.appendingPathComponent("checkpoints")
        let fm = FileManager.default
        guard fm.fileExists(atPath: root.path) else {
            throw EvalError.file(
                path: root.path, line: nil, detail: "no such folder: --run needs a run folder with checkpoints/step-N/")
        }
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw EvalError.file(path: root.path, line: nil, detail: "cannot be listed: \(error.localizedDescription)")
        }
        let found = names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)), step >= 0 else { return nil }
            let url = root.appendingPathComponent(name)
            return fm.fileExists(atPath: url.appendingPathComponent("config.json").path) ? (step, url) : nil
        }
        guard !found.isEmpty else {
            throw EvalError.file(
                path: root.path, line: nil, detail: "no checkpoint (step-N folders with a config.json)")
        }
        return found.sorted { $0.0 < $1.0 }.map { (step: $0.0, url: $0.1) }
    }

    /// Evaluates each checkpoint not yet evaluated with `plan` into `run/eval/step-N/`, then writes `run/eval/sweep.json`.
    /// `onStep` receives each step's summary as it is done (or found).
    public static func run(
        _ run: URL, plan: EvalPlan, options: EvalOptions = EvalOptions(),
        onStep: (Int, EvalSummary, Bool) -> Void = { _, _, _ in }
    ) throws -> SweepResult {
        let evalRoot = run.appendingPathComponent("eval")
        var rows: [SweepRow] = []
        for (step, url) in try checkpoints(run: run) {
            let out = evalRoot.appendingPathComponent("step-\(step)")
            var skipped = false
            let summary: EvalSummary
            if let done = plan.completedSummary(out: out, model: url) {
                options.log("step \(step): already evaluated (\(out.path))")
                summary = done
                skipped = true
            } else {
                options.log("step \(step): evaluating \(url.path)")
                summary = try Evaluator(model: url, plan: plan, options: options).run(out: out)
            }
            onStep(step, summary, skipped)
            rows.append(
                SweepRow(
                    step: step, checkpoint: url.path,
                    accuracy: Dictionary(
                        summary.results.map { ($0.name, $0.accuracy) },
                        uniquingKeysWith: { a, _ in a }),
                    average: summary.average, skipped: skipped))
        }
        let result = SweepResult(run: run.path, benchmarks: plan.sets.map(\.name), rows: rows)
        try makeFolder(evalRoot)
        try writeFile(Data((result.json() + "\n").utf8), to: evalRoot.appendingPathComponent("sweep.json"))
        return result
    }
}
