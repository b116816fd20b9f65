// OutputFolder: what `verity eval --out DIR` holds and how a rerun resumes from it. `eval.json` records
// the model path and every setting that changes a response (prompt plugin and its scripts' SHA-256,
// grader, seed, each set's file and protocol); a rerun with another model or other settings is refused
// before anything is written. `<set>/responses.jsonl` gets one line per sample, appended and fsynced
// when an item's samples are all graded; on a rerun the items found complete are skipped. Appending is
// the one write here that is not atomic: a crash mid-append can leave a torn last line or an item with
// some of its samples, which the reader drops (and rewrites the file without, atomically). `summary.json`
// and `<set>/breakdown.json` are written through AtomicFile. Not here: sampling or scoring.
import Foundation
import VerityCore
import VerityJSON

// MARK: - Manifest

/// The record of what an output folder's results were made with (`eval.json`).
public struct EvalManifest: Codable, Sendable, Equatable {
    /// One set's file and protocol.
    public struct SetRecord: Codable, Sendable, Equatable {
        /// The set file (absolute path).
        public var file: String
        /// Samples, temperature, top-p, token limit.
        public var `protocol`: BenchmarkProtocol
    }
    /// Layout version.
    public var format = 1
    /// The model folder (absolute, standardized path).
    public var model: String
    /// The prompt plugin as named (module or file).
    public var prompt: String
    /// SHA-256 of every script the prompt plugin loaded, by display name.
    public var promptScripts: [String: String]
    /// The grading profile.
    public var grader: String
    /// The sampling seed.
    public var seed: UInt64
    /// Stop strings.
    public var stopStrings: [String]
    /// Each set evaluated into this folder so far, by name.
    public var benchmarks: [String: SetRecord]

    enum CodingKeys: String, CodingKey {
        case format, model, prompt, promptScripts = "prompt_scripts", grader, seed, stopStrings = "stop_strings",
            benchmarks
    }

    /// Checks that results recorded in `recorded` (the folder's manifest) were made like `self`'s; throws
    /// `EvalError.outputMismatch` naming the first setting that differs. Sets only one side names are fine.
    public func checkCompatible(with recorded: EvalManifest, folder: String) throws {
        func check(_ key: String, _ a: String, _ b: String) throws {
            if a != b { throw EvalError.outputMismatch(folder: folder, key: key, recorded: a, requested: b) }
        }
        try check("format", String(recorded.format), String(format))
        try check("model", recorded.model, model)
        try check("prompt", recorded.prompt, prompt)
        try check("prompt scripts (SHA-256)", describe(recorded.promptScripts), describe(promptScripts))
        try check("grader", recorded.grader, grader)
        try check("seed", String(recorded.seed), String(seed))
        try check("stop strings", recorded.stopStrings.description, stopStrings.description)
        for (name, mine) in benchmarks.sorted(by: { $0.key < $1.key }) {
            guard let theirs = recorded.benchmarks[name] else { continue }
            try check("\(name) file", theirs.file, mine.file)
            try check("\(name) samples", String(theirs.protocol.samples), String(mine.protocol.samples))
            try check("\(name) temperature", String(theirs.protocol.temperature), String(mine.protocol.temperature))
            try check("\(name) top_p", String(theirs.protocol.topP), String(mine.protocol.topP))
            try check("\(name) max_tokens", String(theirs.protocol.maxTokens), String(mine.protocol.maxTokens))
        }
    }

    func describe(_ d: [String: String]) -> String {
        d.keys.sorted().map { "\($0)=\(d[$0] ?? "")" }.joined(separator: ",")
    }

    /// The manifest in `folder` (nil when there is none).
    public static func read(folder: URL) throws -> EvalManifest? {
        let url = folder.appendingPathComponent("eval.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(EvalManifest.self, from: Data(contentsOf: url)) } catch {
            throw EvalError.file(
                path: url.path, line: nil, detail: "not an evaluation record: \(error.localizedDescription)")
        }
    }

    /// Writes `eval.json` into `folder` atomically.
    public func write(folder: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try writeFile(try enc.encode(self) + Data("\n".utf8), to: folder.appendingPathComponent("eval.json"))
    }
}

/// Writes a file atomically, as an `EvalError.file` on failure.
func writeFile(_ data: Data, to url: URL) throws {
    do { try AtomicFile.write(data, to: url) } catch let e as FileWriteError {
        throw EvalError.file(path: e.file, line: nil, detail: "cannot write: \(e.detail)")
    }
}

/// Creates a folder (and its parents), as an `EvalError.file` on failure.
func makeFolder(_ url: URL) throws {
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
        throw EvalError.file(
            path: url.path, line: nil, detail: "cannot create the folder: \(error.localizedDescription)")
    }
}

// MARK: - Responses file

/// `<out>/<set>/responses.jsonl`: graded samples, appended per item.
public final class ResponsesFile {
    /// The file.
    public let url: URL
    let samples: Int

    /// The responses file at `url` for items of `samples` samples each.
    public init(url: URL, samples: Int) {
        self.url = url
        self.samples = samples
    }

    /// The items whose samples are all in the file (id → records ordered by sample). A torn last line, and items with some
    /// of their samples, are dropped and the file rewritten without them (atomically).
    public func completeItems() throws -> [String: [ResponseRecord]] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        var data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EvalError.file(path: url.path, line: nil, detail: "cannot be read: \(error.localizedDescription)")
        }
        var rewrite = false
        if let last = data.last, last != 0x0A {
            data = data.lastIndex(of: 0x0A).map { data[..<($0 + 1)] } ?? Data()
            rewrite = true
        }
        let lines: [JSONLines.Line]
        do { lines = try JSONLines.parse(data, file: url.path) } catch let e as JSONLinesError {
            throw EvalError.file(path: e.file, line: e.line, detail: e.detail)
        }
        var byItem: [String: [ResponseRecord]] = [:]
        var order: [String] = []
        let dec = JSONDecoder(), enc = JSONEncoder()
        for line in lines {
            let rec: ResponseRecord
            do { rec = try dec.decode(ResponseRecord.self, from: enc.encode(line.value)) } catch {
                throw EvalError.file(
                    path: url.path, line: line.number, detail: "not a response record: \(error.localizedDescription)")
            }
            if byItem[rec.itemId] == nil { order.append(rec.itemId) }
            byItem[rec.itemId, default: []].append(rec)
        }
        var complete: [String: [ResponseRecord]] = [:]
        for (id, recs) in byItem {
            let sorted = recs.sorted { $0.sample < $1.sample }
            if sorted.map(\.sample) == Array(0..<samples) { complete[id] = sorted } else { rewrite = true }
        }
        if rewrite {
            var text = Data()
            for id in order { for r in complete[id] ?? [] { text += try Self.line(r) } }
            try writeFile(text, to: url)
        }
        return complete
    }

    /// Appends one item's records and flushes them to disk.
    public func append(_ records: [ResponseRecord]) throws {
        var data = Data()
        for r in records { data += try Self.line(r) }
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path) && !fm.createFile(atPath: url.path, contents: nil) {
            throw EvalError.file(path: url.path, line: nil, detail: "cannot create the file")
        }
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            throw EvalError.file(path: url.path, line: nil, detail: "cannot append: \(error.localizedDescription)")
        }
    }

    /// One JSON line (keys sorted, newline-terminated).
    static func line(_ r: ResponseRecord) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try enc.encode(r) + Data("\n".utf8)
    }
}
