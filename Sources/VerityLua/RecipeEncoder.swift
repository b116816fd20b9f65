// The `Encoder` from typed settings back to a `LuaValue`: the resolved recipe (overrides applied,
// defaults filled) written into the run folder is the decoded `Recipe` encoded by its synthesized
// `Encodable` conformance, plugins as their function handles. Not here: decoding (RecipeDecoder.swift).
import Foundation

// MARK: - Encoder (the resolved recipe)

/// An `Encoder` that builds a `LuaValue` (the resolved recipe written into the run folder).
final class LuaValueEncoder: Encoder {
    /// The value being built; plugins store their function handle here.
    final class Node {
        enum Content {
            case empty
            case value(LuaValue)
            case keyed([String: Node])
            case list([Node])
        }
        var content = Content.empty

        var lua: LuaValue {
            switch content {
            case .empty: return .nil
            case .value(let v): return v
            case .keyed(let d): return .table(LuaTable(fields: d.compactMapValues { n in n.lua == .nil ? nil : n.lua }))
            case .list(let a): return .table(LuaTable(items: a.map(\.lua)))
            }
        }
    }

    let node: Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: Node = Node(), codingPath: [CodingKey] = []) {
        self.node = node
        self.codingPath = codingPath
    }

    /// `value` as a Lua value.
    static func encode<T: Encodable>(_ value: T) throws -> LuaValue {
        let encoder = LuaValueEncoder()
        try encoder.put(value, into: encoder.node, at: [])
        return encoder.node.lua
    }

    /// Encodes one value into `node` (scalars directly, anything else through `encode(to:)`).
    func put<T: Encodable>(_ value: T, into node: Node, at path: [CodingKey]) throws {
        switch value {
        case let s as String: node.content = .value(.string(s))
        case let b as Bool: node.content = .value(.boolean(b))
        case let d as Double: node.content = .value(.number(d))
        case let f as Float: node.content = .value(.number(Double(f)))
        case let i as any BinaryInteger:
            node.content = .value(Int64(exactly: i).map(LuaValue.integer) ?? .number(Double(i)))
        default: try value.encode(to: LuaValueEncoder(node: node, codingPath: path))
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed = node.content {} else { node.content = .keyed([:]) }
        return KeyedEncodingContainer(LuaKeyedEncoder<Key>(encoder: self, node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .list = node.content {} else { node.content = .list([]) }
        return LuaUnkeyedEncoder(encoder: self, node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        LuaSingleValueEncoder(encoder: self, node: node, codingPath: codingPath)
    }
}

private struct LuaKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: LuaValueEncoder
    let node: LuaValueEncoder.Node
    let codingPath: [CodingKey]

    func child(_ key: Key) -> LuaValueEncoder.Node {
        let n = LuaValueEncoder.Node()
        if case .keyed(var d) = node.content {
            d[key.stringValue] = n
            node.content = .keyed(d)
        }
        return n
    }

    mutating func encodeNil(forKey key: Key) throws {}

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encoder.put(value, into: child(key), at: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        LuaValueEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        LuaValueEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    /// A detached encoder: the settings types never encode a superclass, so nothing reads it.
    mutating func superEncoder() -> Encoder { LuaValueEncoder(node: LuaValueEncoder.Node(), codingPath: codingPath) }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        LuaValueEncoder(node: child(key), codingPath: codingPath + [key])
    }
}

private struct LuaUnkeyedEncoder: UnkeyedEncodingContainer {
    let encoder: LuaValueEncoder
    let node: LuaValueEncoder.Node
    let codingPath: [CodingKey]

    var count: Int {
        if case .list(let a) = node.content { return a.count }
        return 0
    }

    func append() -> LuaValueEncoder.Node {
        let n = LuaValueEncoder.Node()
        if case .list(var a) = node.content {
            a.append(n)
            node.content = .list(a)
        }
        return n
    }

    mutating func encodeNil() throws { append().content = .value(.nil) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encoder.put(value, into: append(), at: codingPath + [ListIndexKey(count + 1)])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        LuaValueEncoder(node: append(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        LuaValueEncoder(node: append(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { LuaValueEncoder(node: append(), codingPath: codingPath) }
}

private struct LuaSingleValueEncoder: SingleValueEncodingContainer {
    let encoder: LuaValueEncoder
    let node: LuaValueEncoder.Node
    let codingPath: [CodingKey]

    mutating func encodeNil() throws { node.content = .value(.nil) }

    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.put(value, into: node, at: codingPath) }
}
