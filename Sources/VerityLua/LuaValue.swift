// Lua values as the Swift host sees them: plain data (nil, booleans, numbers, strings, tables of
// those) copied out of the state, and handles to functions that stay inside it. Also a small JSON
// value type for training examples, which the host turns into Lua tables. Not here: pushing and
// reading the Lua stack (LuaState does that).
import Foundation
@_exported import VerityJSON

// MARK: - Values

/// A Lua value copied into Swift; functions stay in the state and are held by reference.
public indirect enum LuaValue: Equatable, CustomStringConvertible {
    /// `nil`.
    case `nil`
    /// A boolean.
    case boolean(Bool)
    /// An integer (Lua 5.4 integer subtype).
    case integer(Int64)
    /// A float.
    case number(Double)
    /// A string (Lua strings are bytes; non-UTF-8 bytes are replaced).
    case string(String)
    /// A table with string keys and an array part 1...n.
    case table(LuaTable)
    /// A function that lives in the Lua state.
    case function(LuaFunction)
    /// Any other Lua type (userdata, thread), by type name.
    case other(String)

    /// Lua's name for the value's type ("nil", "number", "string", ...).
    public var typeName: String {
        switch self {
        case .nil: return "nil"
        case .boolean: return "boolean"
        case .integer, .number: return "number"
        case .string: return "string"
        case .table: return "table"
        case .function: return "function"
        case .other(let t): return t
        }
    }

    /// The value as a Double when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// Lua-literal text of the value (functions as a string naming where they are defined).
    public var description: String { luaLiteral(indent: "") }

    /// Lua source text for the value; tables are written with sorted keys, one per line.
    public func luaLiteral(indent: String) -> String {
        switch self {
        case .nil: return "nil"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d):
            if d.isNaN { return "(0/0)" }
            if d.isInfinite { return d > 0 ? "math.huge" : "-math.huge" }
            if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
            return "\(d)"
        case .string(let s): return luaQuote(s)
        case .function(let f): return luaQuote("<function \(f.location)>")
        case .other(let t): return luaQuote("<\(t)>")
        case .table(let t):
            if t.fields.isEmpty && t.items.isEmpty { return "{}" }
            let inner = indent + "  "
            var lines: [String] = []
            for item in t.items { lines.append(inner + item.luaLiteral(indent: inner) + ",") }
            for key in t.fields.keys.sorted() {
                let v = t.fields[key] ?? .nil
                let k = isLuaIdentifier(key) ? key : "[\(luaQuote(key))]"
                lines.append(inner + k + " = " + v.luaLiteral(indent: inner) + ",")
            }
            return "{\n" + lines.joined(separator: "\n") + "\n" + indent + "}"
        }
    }
}

/// A Lua table copied into Swift: string keys in `fields`, the sequence 1...n in `items`.
public struct LuaTable: Equatable {
    /// Entries with string keys.
    public var fields: [String: LuaValue]
    /// Entries with integer keys 1...n.
    public var items: [LuaValue]

    /// A table from its two parts.
    public init(fields: [String: LuaValue] = [:], items: [LuaValue] = []) {
        self.fields = fields
        self.items = items
    }
}

/// A Lua function kept alive in its state's registry; call it through `LuaState`.
public final class LuaFunction: Equatable {
    /// Registry reference.
    let ref: Int32
    /// Where the function is defined, `file:line` (or `[C]`).
    public let location: String
    /// The file part of `location`.
    public let file: String
    weak var state: LuaState?

    init(ref: Int32, file: String, line: Int, state: LuaState) {
        self.ref = ref
        self.file = file
        self.location = line > 0 ? "\(file):\(line)" : file
        self.state = state
    }

    deinit { state?.release(ref: ref) }

    /// Two handles are equal when they are the same handle.
    public static func == (a: LuaFunction, b: LuaFunction) -> Bool { a === b }
}

/// A Lua table kept in its state's registry (for example a training example built once and
/// passed to many reward calls).
public final class LuaTableRef {
    /// Registry reference.
    let ref: Int32
    weak var state: LuaState?

    init(ref: Int32, state: LuaState) {
        self.ref = ref
        self.state = state
    }

    deinit { state?.release(ref: ref) }
}

// MARK: - Lua text helpers

/// A Lua string literal for `s` (double quotes, escapes for control characters and quotes).
public func luaQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 32 || u.value == 127 {
                out += String(format: "\\%03d", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// Lua's reserved words, which cannot be bare table keys.
private let luaKeywords: Set<String> = [
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
]

/// Whether `s` can be written as a bare key `s = ...` in a table constructor.
func isLuaIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, !luaKeywords.contains(s) else { return false }
    let isStart: (Unicode.Scalar) -> Bool = { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || $0 == "_" }
    guard isStart(first) else { return false }
    return s.unicodeScalars.allSatisfy { isStart($0) || ($0 >= "0" && $0 <= "9") }
}
