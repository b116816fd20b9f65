// EvalError: what the evaluator reports when a benchmark set, a model, a prompt plugin or an output
// folder cannot be used. Every message names the file (and line and key where one is at fault) and
// the value. Internal invariants use `precondition`, not these.
import Foundation

// MARK: - Errors

/// Errors of an evaluation, each naming the file, line, key or value at fault.
public enum EvalError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// A benchmark name that is neither a set in the catalog nor a JSONL file.
    case unknownBenchmark(name: String, catalog: String, known: [String], suggestion: String?)
    /// A set file that cannot be read or holds a bad line (1-based line, key, what is wrong).
    case badSet(file: String, line: Int?, key: String?, detail: String)
    /// The model folder does not load (config, weights or tokenizer).
    case model(path: String, detail: String)
    /// The prompt plugin cannot be loaded or fails on an item.
    case prompt(plugin: String, detail: String)
    /// The output folder holds another model's results or results made with other settings.
    case outputMismatch(folder: String, key: String, recorded: String, requested: String)
    /// A file in the output or run folder that cannot be read or written.
    case file(path: String, line: Int?, detail: String)
    /// A setting out of range (flag or option name, value, what is allowed).
    case badSetting(name: String, value: String, detail: String)
    /// Sampling failed (the sampler's message).
    case sampling(benchmark: String, detail: String)

    /// One line naming what is at fault.
    public var description: String {
        switch self {
        case .unknownBenchmark(let name, let catalog, let known, let suggestion):
            return
                "unknown benchmark '\(name)'\(suggestion.map { " (did you mean '\($0)'?)" } ?? ""); known in \(catalog): "
                + (known.isEmpty ? "none (no such folder or no .jsonl files in it)" : known.joined(separator: ", "))
                + "; or give a path to a .jsonl file"
        case .badSet(let file, let line, let key, let detail):
            return "\(file)\(line.map { ":\($0)" } ?? "")\(key.map { ": `\($0)`" } ?? ""): \(detail)"
        case .model(let path, let detail): return "\(path): the model does not load: \(detail)"
        case .prompt(let plugin, let detail): return "prompt plugin \(plugin): \(detail)"
        case .outputMismatch(let folder, let key, let recorded, let requested):
            return "\(folder) holds results made with \(key) = \(recorded), but this evaluation uses \(requested); "
                + "choose another --out (nothing was overwritten)"
        case .file(let path, let line, let detail): return "\(path)\(line.map { ":\($0)" } ?? ""): \(detail)"
        case .badSetting(let name, let value, let detail): return "\(name) = \(value): \(detail)"
        case .sampling(let benchmark, let detail): return "\(benchmark): sampling failed: \(detail)"
        }
    }

    /// The same text as `description`.
    public var errorDescription: String? { description }
}
