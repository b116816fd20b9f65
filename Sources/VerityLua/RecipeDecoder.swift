// Decoding a recipe table into typed settings: a `Decoder` over `LuaValue`, so each settings
// struct is `Decodable` with its defaults written once, in the struct. The decoder is strict: a
// table whose coding keys are `CaseIterable` refuses keys it does not list (suggesting the same key
// in another table, or the nearest name), a value of the wrong type names what was expected and
// what came, and a `--set` override is read by the type the setting asks for. Problems are
// `RecipeIssue`s at a key path, turned into file:line errors by RecipeKeyLines.swift. Not here: the
// settings and their ranges (Recipe.swift), the encoder back to Lua (RecipeEncoder.swift), loading
// files (RecipeLoader.swift).
import Foundation

// MARK: - Issues

/// A problem at a key path of a recipe; `RecipeIssue.error` turns it into a `LuaError.recipe`.
struct RecipeIssue: Error {
    /// What is wrong.
    enum Kind {
        /// A key the table's type does not have, with the likely meant key paths.
        case unknownKey(suggestions: [String])
        /// A value of another type than the setting's.
        case wrongType(expected: String, got: String)
        /// A required key that is absent.
        case missing(expected: String)
        /// A value of the right type outside the setting's range or relations.
        case invalid(expected: String, got: String, hint: String?)
        /// A `--set` override of a setting the command line cannot express (functions, tables).
        case commandLine(expected: String)
        /// A list entry in a table of named keys.
        case listEntry(got: String)
    }

    /// The key path (string keys, and 1-based list positions as integer keys).
    var path: [CodingKey]
    /// What is wrong.
    var kind: Kind

    init(_ path: [CodingKey], _ kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// `rollout.temperature`, `eval.sets[2]`.
    static func display(_ path: [CodingKey]) -> String {
        var out = ""
        for k in path {
            if let i = k.intValue, k.stringValue == "\(i)" {
                out += "[\(i)]"
            } else {
                out += (out.isEmpty ? "" : ".") + k.stringValue
            }
        }
        return out
    }

    /// The path's string keys only (for looking up lines and overrides).
    static func keys(_ path: [CodingKey]) -> [String] {
        path.filter { key in key.intValue.map { "\($0)" } != key.stringValue }.map(\.stringValue)
    }
}

/// A list position as a coding key (1-based, as Lua writes lists).
struct ListIndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ position: Int) {
        stringValue = "\(position)"
        intValue = position
    }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.init(intValue) }
}

/// A plain string coding key.
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

// MARK: - What a type expects

/// A type that can say, for messages, what a recipe value of it looks like ("an integer").
protocol RecipeDescribed {
    /// "a string", "an integer", "a function", ...
    static var recipeExpected: String { get }
    /// The plural noun for lists of it ("strings").
    static var recipePlural: String { get }
}

extension RecipeDescribed {
    static var recipePlural: String { "values (each \(recipeExpected))" }
}

extension String: RecipeDescribed {
    static var recipeExpected: String { "a string" }
    static var recipePlural: String { "strings" }
}
extension Int: RecipeDescribed {
    static var recipeExpected: String { "an integer" }
    static var recipePlural: String { "integers" }
}
extension Double: RecipeDescribed {
    static var recipeExpected: String { "a number" }
    static var recipePlural: String { "numbers" }
}
extension Bool: RecipeDescribed {
    static var recipeExpected: String { "a boolean" }
    static var recipePlural: String { "booleans" }
}
extension Array: RecipeDescribed where Element: RecipeDescribed {
    static var recipeExpected: String { "a list of \(Element.recipePlural)" }
}

/// What a value of `type` looks like in a recipe (a table unless the type says otherwise).
func recipeExpected<T>(_ type: T.Type) -> String {
    (type as? RecipeDescribed.Type)?.recipeExpected ?? "a table"
}

// MARK: - Decoder

/// What every decoder of one recipe shares: the raw text of `--set` overrides by dotted path.
final class RecipeDecodingContext {
    /// `key.path` -> the text after `=` on the command line.
    let overrides: [String: String]
    /// Every dotted key path of the schema, for suggestions across tables.
    let keyPaths: [String]

    init(overrides: [String: String], keyPaths: [String] = []) {
        self.overrides = overrides
        self.keyPaths = keyPaths
    }

    /// Likely meant paths for an unknown `key` at `path`: keys of the same name in other tables
    /// (`temperature` at the top level: `eval.temperature`, `rollout.temperature`), else the
    /// nearest sibling by spelling.
    func suggestions(for key: String, at path: [CodingKey], siblings: [String]) -> [String] {
        let here = RecipeIssue.display(path + [NameKey(key)])
        let elsewhere = keyPaths.filter { $0 != here && ($0 == key || $0.hasSuffix("." + key)) }
        if !elsewhere.isEmpty { return elsewhere }
        return nearestName(key, among: siblings).map { [RecipeIssue.display(path + [NameKey($0)])] } ?? []
    }

    /// The override text for a path, if the command line set it.
    func override(_ path: [CodingKey]) -> String? {
        overrides.isEmpty ? nil : overrides[RecipeIssue.keys(path).joined(separator: ".")]
    }

    /// Decodes `value` at `path` as `T`: scalars directly (overrides read as the type asks),
    /// everything else through `T.init(from:)` with a nested decoder.
    func decode<T: Decodable>(_ type: T.Type, from value: LuaValue, at path: [CodingKey]) throws -> T {
        if let raw = override(path) {
            if let v = try fromCommandLine(raw, as: type, path: path) { return v }
            throw RecipeIssue(path, .commandLine(expected: recipeExpected(type)))
        }
        if let v = try scalar(value, as: type, path: path) { return v }
        do {
            return try T(from: LuaValueDecoder(value, codingPath: path, context: self))
        } catch let issue as RecipeIssue {
            // A list or map that is not a table: say what the whole setting expects.
            if case .wrongType = issue.kind, issue.path.count == path.count, type is RecipeDescribed.Type {
                throw RecipeIssue(path, .wrongType(expected: recipeExpected(type), got: describe(value)))
            }
            throw issue
        }
    }

    /// A `--set` value read as `T`: strings as written (quotes optional), lists comma-separated,
    /// numbers and booleans parsed; nil when the command line cannot give a `T`.
    func fromCommandLine<T>(_ raw: String, as type: T.Type, path: [CodingKey]) throws -> T? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if type == String.self { return unquote(text) as? T }
        if type == [String].self {
            return text.split(separator: ",").map { unquote($0.trimmingCharacters(in: .whitespaces)) } as? T
        }
        if type == [Double].self {
            let items = text.split(separator: ",").map { overrideLiteral($0.trimmingCharacters(in: .whitespaces)) }
            return try scalar(.table(LuaTable(items: items)), as: type, path: path)
        }
        return try scalar(overrideLiteral(text), as: type, path: path)
    }

    /// Reads the Lua scalars (and lists of them) the settings use; nil for other types.
    func scalar<T>(_ value: LuaValue, as type: T.Type, path: [CodingKey]) throws -> T? {
        func wrong(_ expected: String) -> RecipeIssue {
            RecipeIssue(path, .wrongType(expected: expected, got: describe(value)))
        }
        switch type {
        case is String.Type:
            guard case .string(let s) = value else { throw wrong(String.recipeExpected) }
            return s as? T
        case is Bool.Type:
            guard case .boolean(let b) = value else { throw wrong(Bool.recipeExpected) }
            return b as? T
        case is Int.Type:
            return try integer(value, path: path) as? T
        case is Double.Type:
            return try number(value, path: path) as? T
        case is [String].Type, is [Double].Type:
            guard case .table(let t) = value, t.fields.isEmpty else { throw wrong(recipeExpected(type)) }
            var out: [Any] = []
            for (i, item) in t.items.enumerated() {
                let at = path + [ListIndexKey(i + 1)]
                if type == [String].self {
                    guard case .string(let s) = item else {
                        throw RecipeIssue(at, .wrongType(expected: String.recipeExpected, got: describe(item)))
                    }
                    out.append(s)
                } else {
                    out.append(try number(item, path: at))
                }
            }
            if type == [String].self { return out.compactMap { $0 as? String } as? T }
            return out.compactMap { $0 as? Double } as? T
        default:
            return nil
        }
    }

    /// An integer: a Lua integer, or a float with an integral value.
    func integer(_ value: LuaValue, path: [CodingKey]) throws -> Int {
        switch value {
        case .integer(let i): if let v = Int(exactly: i) { return v }
        case .number(let d) where d.isFinite && d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: break
        }
        throw RecipeIssue(path, .wrongType(expected: Int.recipeExpected, got: describe(value)))
    }

    /// A finite number (integers are converted).
    func number(_ value: LuaValue, path: [CodingKey]) throws -> Double {
        switch value {
        case .integer(let i): return Double(i)
        case .number(let d) where d.isFinite: return d
        case .number: throw RecipeIssue(path, .wrongType(expected: "a finite number", got: describe(value)))
        default: throw RecipeIssue(path, .wrongType(expected: Double.recipeExpected, got: describe(value)))
        }
    }
}

/// `"x"` or `'x'` without its quotes; other text as it is.
private func unquote(_ s: String) -> String {
    if s.count >= 2, (s.hasPrefix("\"") && s.hasSuffix("\"")) || (s.hasPrefix("'") && s.hasSuffix("'")) {
        return String(s.dropFirst().dropLast())
    }
    return s
}

/// The Lua value a `--set` text most likely means (for keys whose type the decoder has not asked yet).
func overrideLiteral(_ s: String) -> LuaValue {
    let text = s.trimmingCharacters(in: .whitespaces)
    if text.count >= 2, (text.hasPrefix("\"") && text.hasSuffix("\"")) || (text.hasPrefix("'") && text.hasSuffix("'")) {
        return .string(unquote(text))
    }
    if text == "true" { return .boolean(true) }
    if text == "false" { return .boolean(false) }
    if let i = Int64(text) { return .integer(i) }
    if let d = Double(text) { return .number(d) }
    return .string(text)
}

/// A `Decoder` over one `LuaValue` of a recipe (see the file comment).
final class LuaValueDecoder: Decoder {
    /// The value being decoded (plugins read their function handle here).
    let value: LuaValue
    let codingPath: [CodingKey]
    let context: RecipeDecodingContext
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: LuaValue, codingPath: [CodingKey], context: RecipeDecodingContext) {
        self.value = value
        self.codingPath = codingPath
        self.context = context
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .table(let table) = value else {
            throw RecipeIssue(codingPath, .wrongType(expected: "a table", got: describe(value)))
        }
        if let stray = table.items.first { throw RecipeIssue(codingPath, .listEntry(got: describe(stray))) }
        if let names = caseNames(type) {
            for key in table.fields.keys.sorted() where !names.contains(key) {
                throw RecipeIssue(
                    codingPath + [NameKey(key)],
                    .unknownKey(
                        suggestions: context.suggestions(for: key, at: codingPath, siblings: names)))
            }
        }
        return KeyedDecodingContainer(LuaKeyedContainer<Key>(table: table, codingPath: codingPath, context: context))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .table(let table) = value, table.fields.isEmpty else {
            throw RecipeIssue(codingPath, .wrongType(expected: "a list", got: describe(value)))
        }
        return LuaUnkeyedContainer(items: table.items, codingPath: codingPath, context: context)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        LuaSingleValueContainer(value: value, codingPath: codingPath, context: context)
    }
}

/// The string values of a `CaseIterable` coding-key type, or nil for open key sets (maps).
private func caseNames<Key: CodingKey>(_ type: Key.Type) -> [String]? {
    guard let iterable = type as? any CaseIterable.Type else { return nil }
    func names<C: CaseIterable>(_ c: C.Type) -> [String] { C.allCases.compactMap { ($0 as? CodingKey)?.stringValue } }
    return names(iterable)
}

private struct LuaKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let table: LuaTable
    let codingPath: [CodingKey]
    let context: RecipeDecodingContext

    var allKeys: [Key] { table.fields.keys.sorted().compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { table.fields[key.stringValue].map { $0 != .nil } ?? false }
    func decodeNil(forKey key: Key) throws -> Bool { !contains(key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(type, key) }

    /// The generic read, named apart so that the overloads below do not call themselves.
    private func value<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        let path = codingPath + [key]
        guard let value = table.fields[key.stringValue], value != .nil else {
            throw RecipeIssue(path, .missing(expected: recipeExpected(type)))
        }
        return try context.decode(type, from: value, at: path)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try value(Double.self, key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try fixed(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try fixed(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try fixed(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try fixed(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try fixed(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try fixed(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try fixed(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try fixed(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try fixed(key) }

    private func fixed<I: FixedWidthInteger>(_ key: Key) throws -> I {
        let v = try value(Int.self, key)
        guard let out = I(exactly: v) else {
            throw RecipeIssue(
                codingPath + [key], .invalid(expected: "an integer from \(I.min) to \(I.max)", got: "\(v)", hint: nil))
        }
        return out
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try LuaValueDecoder(table.fields[key.stringValue] ?? .nil, codingPath: codingPath + [key], context: context)
            .container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try LuaValueDecoder(table.fields[key.stringValue] ?? .nil, codingPath: codingPath + [key], context: context)
            .unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { LuaValueDecoder(.table(table), codingPath: codingPath, context: context) }

    func superDecoder(forKey key: Key) throws -> Decoder {
        LuaValueDecoder(table.fields[key.stringValue] ?? .nil, codingPath: codingPath + [key], context: context)
    }
}

private struct LuaUnkeyedContainer: UnkeyedDecodingContainer {
    let items: [LuaValue]
    let codingPath: [CodingKey]
    let context: RecipeDecodingContext
    var currentIndex = 0

    init(items: [LuaValue], codingPath: [CodingKey], context: RecipeDecodingContext) {
        self.items = items
        self.codingPath = codingPath
        self.context = context
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> (LuaValue, [CodingKey]) {
        guard !isAtEnd else {
            throw RecipeIssue(codingPath + [ListIndexKey(currentIndex + 1)], .missing(expected: "another list entry"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [ListIndexKey(currentIndex + 1)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .nil else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, path) = try next()
        return try context.decode(type, from: value, at: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<
        NestedKey
    > {
        let (value, path) = try next()
        return try LuaValueDecoder(value, codingPath: path, context: context).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (value, path) = try next()
        return try LuaValueDecoder(value, codingPath: path, context: context).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (value, path) = try next()
        return LuaValueDecoder(value, codingPath: path, context: context)
    }
}

private struct LuaSingleValueContainer: SingleValueDecodingContainer {
    let value: LuaValue
    let codingPath: [CodingKey]
    let context: RecipeDecodingContext

    func decodeNil() -> Bool { value == .nil }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let v = try context.scalar(value, as: type, path: codingPath) { return v }
        if type == Float.self, let v = Float(try context.number(value, path: codingPath)) as? T { return v }
        if let fixed = type as? any FixedWidthInteger.Type {
            let v = try context.integer(value, path: codingPath)
            func make<I: FixedWidthInteger>(_ t: I.Type) -> I? { I(exactly: v) }
            if let out = make(fixed) as? T { return out }
            throw RecipeIssue(codingPath, .invalid(expected: "an integer that fits \(type)", got: "\(v)", hint: nil))
        }
        return try T(from: LuaValueDecoder(value, codingPath: codingPath, context: context))
    }
}
