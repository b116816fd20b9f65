// The typed errors of the Lua host. Every error a user can cause names the script and, where Lua
// knows it, the line: syntax errors as `file:line: message`, runtime errors with a traceback,
// contract errors with what the host expected and what the script gave, budget errors with the
// limit that stopped the script, recipe errors with the key. Not here: the checks themselves.
import Foundation

// MARK: - Errors

/// An error from loading, validating or calling Lua scripts.
public enum LuaError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A chunk failed to compile; `message` is Lua's `file:line: message` text.
    case syntax(file: String, line: Int?, message: String)
    /// A script raised an error while running; `message` usually starts with `file:line:`.
    case runtime(file: String?, line: Int?, message: String, traceback: String)
    /// A plugin returned something its contract does not allow.
    case contract(plugin: String, location: String, message: String)
    /// A script ran past its instruction budget, memory cap or wall-clock limit.
    case budget(kind: BudgetKind, limit: Int, file: String?, line: Int?)
    /// A recipe key is unknown, missing, or of the wrong type; `message` names file, line and key.
    case recipe(file: String, line: Int?, message: String)
    /// A script or data file could not be read.
    case file(path: String, message: String)
    /// The Lua state itself could not be created.
    case state(message: String)

    /// Which run-away guard stopped a script.
    public enum BudgetKind: Sendable, Equatable {
        /// The per-call instruction budget (count hook, pattern-matching steps included).
        case instructions
        /// The memory cap (allocator).
        case memory
        /// The per-call wall-clock limit in seconds (count hook and pattern matcher).
        case time(seconds: Double)
    }

    /// The file the error is about, if known.
    public var file: String? {
        switch self {
        case .syntax(let f, _, _), .recipe(let f, _, _): return f
        case .runtime(let f, _, _, _), .budget(_, _, let f, _): return f
        case .contract(_, let loc, _): return loc
        case .file(let p, _): return p
        case .state: return nil
        }
    }

    /// The line the error is about, if known.
    public var line: Int? {
        switch self {
        case .syntax(_, let l, _), .runtime(_, let l, _, _), .budget(_, _, _, let l), .recipe(_, let l, _): return l
        default: return nil
        }
    }

    /// A one-paragraph message for people, naming file and line.
    public var description: String {
        switch self {
        case .syntax(_, _, let message):
            return "syntax error: \(message)"
        case .runtime(let file, let line, let message, let traceback):
            var text = message
            if let file, let line, !message.hasPrefix("\(file):") {
                text = "\(file):\(line): \(message)"
            }
            return traceback.isEmpty ? "runtime error: \(text)" : "runtime error: \(text)\n\(traceback)"
        case .contract(_, _, let message):
            return "contract error: \(message)"
        case .budget(let kind, let limit, let file, let line):
            let place = file.map { f in line.map { "\(f):\($0): " } ?? "\(f): " } ?? ""
            switch kind {
            case .instructions:
                return
                    "\(place)script stopped: instruction budget of \(limit) instructions per call exceeded (an endless loop? raise it with --lua-instructions)"
            case .memory:
                return
                    "\(place)script stopped: memory cap of \(limit / (1 << 20)) MiB exceeded (raise it with --lua-memory-mb)"
            case .time(let seconds):
                return
                    "\(place)script stopped: wall-clock limit of \(seconds) s per call exceeded (an endless loop or runaway pattern? raise it with --lua-seconds)"
            }
        case .recipe(_, _, let message):
            return message
        case .file(let path, let message):
            return "\(path): \(message)"
        case .state(let message):
            return "Lua state: \(message)"
        }
    }
}

/// Splits Lua's `chunk:line: message` into its parts, if it has that shape.
func splitLuaLocation(_ message: String) -> (file: String, line: Int, rest: String)? {
    // Scan for ":<digits>:" from the left; chunk names may themselves contain ':' rarely.
    let chars = Array(message.utf8)
    var i = 0
    while i < chars.count {
        if chars[i] == UInt8(ascii: ":") {
            var j = i + 1
            var value = 0
            while j < chars.count, chars[j] >= 48, chars[j] <= 57, j - i <= 9 {
                value = value * 10 + Int(chars[j] - 48)
                j += 1
            }
            if j > i + 1, j < chars.count, chars[j] == UInt8(ascii: ":") {
                let file = String(decoding: chars[0..<i], as: UTF8.self)
                var restStart = j + 1
                if restStart < chars.count, chars[restStart] == UInt8(ascii: " ") { restStart += 1 }
                let rest = String(decoding: chars[restStart...], as: UTF8.self)
                if !file.isEmpty, !file.contains("\n") { return (file, value, rest) }
                return nil
            }
        }
        if chars[i] == UInt8(ascii: "\n") { return nil }
        i += 1
    }
    return nil
}
