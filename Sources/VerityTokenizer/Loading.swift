// Loading a tokenizer from the files Hugging Face checkpoints ship: `tokenizer.json` (the
// single-file `tokenizers` layout) or the older `vocab.json` + `merges.txt` +
// `tokenizer_config.json`. `tokenizer_config.json` also supplies eos/pad/bos and the raw chat
// template. Only byte-level BPE pipelines are accepted: anything else (Unigram, WordPiece, other
// normalizers, unknown split regexes, dropout, byte fallback) is a typed error naming the file,
// the key and the value, never a silent approximation.
import Foundation

// MARK: - Entry points

extension Tokenizer {
    /// Loads the tokenizer of a model folder: `tokenizer.json` when present, else
    /// `vocab.json` + `merges.txt` + `tokenizer_config.json`. `tokenizer_config.json` is read when present.
    public convenience init(folder: URL) throws {
        let fm = FileManager.default
        let json = folder.appendingPathComponent("tokenizer.json")
        let config = folder.appendingPathComponent("tokenizer_config.json")
        let hasConfig = fm.fileExists(atPath: config.path)
        if fm.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json, config: hasConfig ? config : nil)
            return
        }
        let vocab = folder.appendingPathComponent("vocab.json")
        let merges = folder.appendingPathComponent("merges.txt")
        var missing: [String] = []
        if !fm.fileExists(atPath: vocab.path) { missing.append("vocab.json") }
        if !fm.fileExists(atPath: merges.path) { missing.append("merges.txt") }
        if !hasConfig { missing.append("tokenizer_config.json") }
        guard missing.isEmpty else {
            throw TokenizerError.missingFiles(
                folder: folder.path,
                detail: "no tokenizer.json, and missing \(missing.joined(separator: ", "))")
        }
        try self.init(vocab: vocab, merges: merges, config: config)
    }

    /// Loads a `tokenizer.json`, with an optional `tokenizer_config.json` for eos/pad/bos and the chat template.
    public convenience init(tokenizerJSON url: URL, config configURL: URL? = nil) throws {
        let file = url.path
        let root = try readJSON(url)
        guard case .object = root else {
            throw TokenizerError.invalidValue(
                file: file, key: "(top level)", reason: "expected an object, found \(root.kindName)")
        }
        // Model.
        guard let model = root["model"], case .object = model else {
            throw TokenizerError.invalidValue(file: file, key: "model", reason: "missing or not an object")
        }
        let type =
            model["type"]?.stringValue
            ?? (model["merges"] != nil
                ? "BPE"
                : (model["vocab"].map { v -> String in
                    if case .array = v { return "Unigram" }
                    return "unknown"
                } ?? "unknown"))
        guard type == "BPE" else { throw TokenizerError.unsupported(file: file, key: "model.type", value: type) }
        if let d = model["dropout"], !d.isNull {
            if case let .number(x) = d, x == 0 {
            } else {
                throw TokenizerError.unsupported(file: file, key: "model.dropout", value: "\(d)")
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !v.isNull, v.stringValue != "" {
                throw TokenizerError.unsupported(file: file, key: "model.\(key)", value: v.stringValue ?? v.kindName)
            }
        }
        if model["byte_fallback"]?.boolValue == true {
            throw TokenizerError.unsupported(file: file, key: "model.byte_fallback", value: "true")
        }
        guard let vocabValue = model["vocab"], case let .object(vocabMembers) = vocabValue else {
            throw TokenizerError.invalidValue(file: file, key: "model.vocab", reason: "missing or not an object")
        }
        let vocab = try vocabulary(vocabMembers, file: file, key: "model.vocab")
        guard let mergesValue = model["merges"], case let .array(mergeItems) = mergesValue else {
            throw TokenizerError.invalidValue(file: file, key: "model.merges", reason: "missing or not an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeItems.count)
        for (k, item) in mergeItems.enumerated() {
            switch item {
            case let .string(s):
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(
                        file: file, key: "model.merges[\(k)]",
                        reason: "\(s.debugDescription) is not two tokens separated by one space")
                }
                merges.append((String(parts[0]), String(parts[1])))
            case let .array(pair):
                guard pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw TokenizerError.invalidValue(
                        file: file, key: "model.merges[\(k)]", reason: "expected a pair of strings")
                }
                merges.append((a, b))
            default:
                throw TokenizerError.invalidValue(
                    file: file, key: "model.merges[\(k)]",
                    reason: "expected a string or a pair, found \(item.kindName)")
            }
        }
        let unk = model["unk_token"]?.stringValue
        let fuseUnk = model["fuse_unk"]?.boolValue ?? false
        let ignoreMerges = model["ignore_merges"]?.boolValue ?? false

        // Normalizer.
        let nfc = try parseNormalizer(root["normalizer"] ?? .null, file: file, key: "normalizer")

        // Pre-tokenizer.
        let (pattern, prefixSpace) = try parsePreTokenizer(root["pre_tokenizer"] ?? .null, file: file)

        // Decoder.
        let decoder = root["decoder"] ?? .null
        guard decoder["type"]?.stringValue == "ByteLevel" else {
            throw TokenizerError.unsupported(
                file: file, key: "decoder.type",
                value: decoder["type"]?.stringValue ?? decoder.kindName)
        }

        // Added tokens.
        var added: [AddedToken] = []
        if let list = root["added_tokens"], !list.isNull {
            guard case let .array(items) = list else {
                throw TokenizerError.invalidValue(
                    file: file, key: "added_tokens", reason: "expected an array, found \(list.kindName)")
            }
            for (k, item) in items.enumerated() {
                added.append(try addedToken(item, id: item["id"]?.intValue, file: file, key: "added_tokens[\(k)]"))
            }
        }
        let config = try configURL.map { try TokenizerConfig(url: $0) }
        try self.init(
            file: file, mergesFile: file, vocab: vocab, merges: merges, mergeLines: [], added: added,
            nfc: nfc, pattern: pattern, addPrefixSpace: prefixSpace, unk: unk, fuseUnk: fuseUnk,
            ignoreMerges: ignoreMerges, config: config, folder: url.deletingLastPathComponent())
    }

    /// Loads the `vocab.json` + `merges.txt` + `tokenizer_config.json` form (Qwen2Tokenizer or GPT2Tokenizer).
    public convenience init(vocab vocabURL: URL, merges mergesURL: URL, config configURL: URL) throws {
        let vocabFile = vocabURL.path
        let root = try readJSON(vocabURL)
        guard case let .object(members) = root else {
            throw TokenizerError.invalidValue(
                file: vocabFile, key: "(top level)", reason: "expected an object, found \(root.kindName)")
        }
        let vocab = try vocabulary(members, file: vocabFile, key: "(top level)")
        let (merges, firstLine) = try readMergesText(mergesURL)
        let config = try TokenizerConfig(url: configURL)
        let nfc: Bool
        let pattern: SplitPattern
        switch config.tokenizerClass {
        case "Qwen2Tokenizer", "Qwen2TokenizerFast":
            nfc = true
            pattern = .qwen2
        case "GPT2Tokenizer", "GPT2TokenizerFast":
            nfc = false
            pattern = .gpt2
        case let other:
            throw TokenizerError.unsupported(file: config.file, key: "tokenizer_class", value: other ?? "(missing)")
        }
        try self.init(
            file: vocabFile, mergesFile: mergesURL.path, vocab: vocab, merges: merges, mergeLines: firstLine,
            added: config.addedTokens, nfc: nfc, pattern: pattern, addPrefixSpace: config.addPrefixSpace,
            unk: config.unkToken, fuseUnk: false, ignoreMerges: false, config: config,
            folder: configURL.deletingLastPathComponent())
    }

    // MARK: - Assembly

    /// Resolves merges to ids and builds the tables; errors name `file` / `mergesFile`.
    private convenience init(
        file: String, mergesFile: String, vocab: [String?], merges: [(String, String)],
        mergeLines: [Int], added: [AddedToken], nfc: Bool, pattern: SplitPattern?,
        addPrefixSpace: Bool, unk: String?, fuseUnk: Bool, ignoreMerges: Bool,
        config: TokenizerConfig?, folder: URL
    ) throws {
        var ids = TokenTable(capacity: vocab.count + added.count)
        for (id, s) in vocab.enumerated() { if let s { ids.set(s, Int32(id)) } }
        var pairs = PairTable(capacityFor: merges.count)
        var joined: [UInt8] = []
        // BPE trainers give merge k's result the id after merge k-1's; try that id before hashing.
        var guess = -1
        for (k, (a, b)) in merges.enumerated() {
            let place = mergeLines.isEmpty ? "model.merges[\(k)]" : "line \(mergeLines[k])"
            guard let ia = ids.id(a) else {
                throw TokenizerError.unknownMergeToken(file: mergesFile, place: place, token: a)
            }
            guard let ib = ids.id(b) else {
                throw TokenizerError.unknownMergeToken(file: mergesFile, place: place, token: b)
            }
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: a.utf8)
            joined.append(contentsOf: b.utf8)
            var merged: Int32?
            if guess >= 0, guess < vocab.count, let candidate = vocab[guess], candidate.utf8.elementsEqual(joined) {
                merged = Int32(guess)
            } else {
                merged = joined.withUnsafeBufferPointer { buf in buf.baseAddress.flatMap { ids.id($0, buf.count) } }
            }
            guard let im = merged else {
                throw TokenizerError.unknownMergeToken(file: mergesFile, place: place, token: a + b)
            }
            pairs.insert(left: ia, right: ib, rank: Int32(k), merged: im)
            guess = Int(im) + 1
        }
        var byteToID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let scalar = Unicode.Scalar(ByteLevel.scalarOfByte[b]), let id = ids.id(String(Character(scalar))) {
                byteToID[b] = id
            }
        }
        var unknownID: Int32?
        if let unk {
            guard let id = ids.id(unk) ?? added.first(where: { $0.content == unk }).map({ Int32($0.id) }) else {
                throw TokenizerError.invalidValue(
                    file: file, key: "model.unk_token", reason: "\(unk.debugDescription) is not in the vocabulary")
            }
            unknownID = id
        }
        var whole: ByteKeyTable?
        if ignoreMerges {
            var table = ByteKeyTable(slotCount: vocab.count * 2, limit: Int.max)
            for (id, s) in vocab.enumerated() {
                guard let s, let bytes = ByteLevel.bytes(ofToken: s), !bytes.isEmpty else { continue }
                var value = Int32(id)
                bytes.withUnsafeBufferPointer { b in
                    guard let p = b.baseAddress else { return }
                    let h = hashBytes(p, b.count)
                    if table.find(p, b.count, hash: h) == nil {
                        withUnsafePointer(to: &value) { v in
                            table.insert(p, b.count, hash: h, ids: UnsafeBufferPointer(start: v, count: 1))
                        }
                    }
                }
            }
            whole = table
        }
        // Added tokens must have distinct, non-negative ids, within the vocabulary's id space
        // (every id becomes a row of per-id tables, so a stray 2^31 - 1 would allocate gigabytes).
        var seen = Set<Int>()
        let idLimit = TokenizerLimits.idLimit(tokens: vocab.count + added.count)
        for t in added {
            guard t.id >= 0, seen.insert(t.id).inserted else {
                throw TokenizerError.invalidValue(
                    file: file, key: "added_tokens",
                    reason: "duplicate or negative id \(t.id) (\(t.content.debugDescription))")
            }
            guard t.id < idLimit else {
                throw TokenizerError.invalidValue(
                    file: file, key: "added_tokens",
                    reason:
                        "id \(t.id) of \(t.content.debugDescription) is far beyond the vocabulary (ids must stay below \(idLimit))"
                )
            }
        }
        let model = BPEModel(
            byteToID: byteToID, pairs: pairs, wholeTokens: whole, unknownID: unknownID, fuseUnknown: fuseUnk)
        // Special ids named in the config.
        var lookup: [String: Int] = [:]
        for t in added { lookup[t.content] = t.id }
        func resolve(_ name: String?, key: String) throws -> Int? {
            guard let name else { return nil }
            if let id = lookup[name] { return id }
            if let id = ids.id(name) { return Int(id) }
            throw TokenizerError.invalidValue(
                file: config?.file ?? file, key: key,
                reason: "\(name.debugDescription) is not a token of this tokenizer")
        }
        let eos = try resolve(config?.eosToken, key: "eos_token")
        let pad = try resolve(config?.padToken, key: "pad_token")
        let bos = try resolve(config?.bosToken, key: "bos_token")
        var template = config?.chatTemplate
        if template == nil {
            let jinja = folder.appendingPathComponent("chat_template.jinja")
            if let data = FileManager.default.contents(atPath: jinja.path) {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw TokenizerError.invalidUTF8(file: jinja.path, line: 0, column: 0)
                }
                template = text
            }
        }
        for t in added { ids.set(t.content, Int32(t.id)) }
        self.init(
            model: model, normalizeNFC: nfc, pattern: pattern, addPrefixSpace: addPrefixSpace, vocabulary: vocab,
            tokenTable: ids,
            addedTokens: added, special: (eos, pad, bos), chatTemplate: template)
    }
}

// MARK: - Limits

/// Bounds on token ids, checked before any per-id table is allocated.
public enum TokenizerLimits {
    /// No token id may reach this (16.7 million; released vocabularies are below 300 thousand).
    public static let maxID = 1 << 24

    /// The bound on ids for a tokenizer of `tokens` tokens: ids may leave gaps (added tokens
    /// often sit past the vocabulary), but fewer gaps than tokens plus 65,536.
    public static func idLimit(tokens: Int) -> Int {
        min(maxID, 2 * tokens + 65_536)
    }
}

// MARK: - Pieces of tokenizer.json

/// Reads and parses a JSON file, mapping read failures to `TokenizerError.unreadable`.
func readJSON(_ url: URL) throws -> JSONValue {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TokenizerError.unreadable(file: url.path, reason: readFailure(error, path: url.path))
    }
    return try JSONParser(file: url.path).parse(data)
}

/// The id-indexed vocabulary of a JSON object `{token: id}`.
private func vocabulary(_ members: [(key: String, value: JSONValue)], file: String, key: String) throws -> [String?] {
    var maxID = -1
    let idLimit = TokenizerLimits.idLimit(tokens: members.count)
    for m in members {
        guard let id = m.value.intValue, id >= 0 else {
            throw TokenizerError.invalidValue(
                file: file, key: "\(key)[\(m.key.debugDescription)]",
                reason: "expected a non-negative integer id, found \(m.value)")
        }
        guard id < idLimit else {
            throw TokenizerError.invalidValue(
                file: file, key: "\(key)[\(m.key.debugDescription)]",
                reason:
                    "id \(id) is far beyond the \(members.count) tokens of the vocabulary (ids must stay below \(idLimit))"
            )
        }
        guard m.key.utf8.count <= ByteKeyTable.maxLength else {
            throw TokenizerError.invalidValue(
                file: file, key: "\(key)[\(String(m.key.prefix(20)).debugDescription)…]",
                reason: "token longer than \(ByteKeyTable.maxLength) bytes")
        }
        maxID = max(maxID, id)
    }
    var out = [String?](repeating: nil, count: maxID + 1)
    for m in members {
        if let id = m.value.intValue { out[id] = m.key }
    }
    return out
}

/// Whether the normalizer is NFC (true), absent (false); anything else is unsupported.
private func parseNormalizer(_ value: JSONValue, file: String, key: String) throws -> Bool {
    if value.isNull { return false }
    let type = value["type"]?.stringValue ?? value.kindName
    switch type {
    case "NFC":
        return true
    case "Sequence":
        guard case let .array(items)? = value["normalizers"] else {
            throw TokenizerError.invalidValue(file: file, key: "\(key).normalizers", reason: "missing or not an array")
        }
        var nfc = false
        for (k, item) in items.enumerated() where try parseNormalizer(item, file: file, key: "\(key).normalizers[\(k)]")
        {
            nfc = true
        }
        return nfc
    default:
        throw TokenizerError.unsupported(file: file, key: "\(key).type", value: type)
    }
}

/// The split pattern and the ByteLevel prefix-space flag of the pre-tokenizer.
private func parsePreTokenizer(_ value: JSONValue, file: String) throws -> (SplitPattern?, Bool) {
    let type = value["type"]?.stringValue ?? value.kindName
    switch type {
    case "ByteLevel":
        let useRegex = value["use_regex"]?.boolValue ?? true
        let prefix = value["add_prefix_space"]?.boolValue ?? false
        return (useRegex ? .gpt2 : nil, prefix)
    case "Sequence":
        guard case let .array(items)? = value["pretokenizers"] else {
            throw TokenizerError.invalidValue(
                file: file, key: "pre_tokenizer.pretokenizers", reason: "missing or not an array")
        }
        let types = items.map { $0["type"]?.stringValue ?? $0.kindName }
        if types == ["Digits", "ByteLevel"] {
            // SmolLM2: each digit alone, then the GPT-2 regex.
            guard items[0]["individual_digits"]?.boolValue == true else {
                throw TokenizerError.unsupported(
                    file: file, key: "pre_tokenizer.pretokenizers[0].individual_digits",
                    value: "\(items[0]["individual_digits"].map { "\($0)" } ?? "missing") (only true is supported)")
            }
            guard items[1]["use_regex"]?.boolValue ?? true else {
                throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.pretokenizers[1].use_regex", value: "false")
            }
            if items[1]["add_prefix_space"]?.boolValue == true {
                throw TokenizerError.unsupported(
                    file: file, key: "pre_tokenizer.pretokenizers[1].add_prefix_space", value: "true")
            }
            return (.gpt2Digits, false)
        }
        guard items.count == 2, types == ["Split", "ByteLevel"] else {
            throw TokenizerError.unsupported(
                file: file, key: "pre_tokenizer.pretokenizers",
                value: "[\(types.joined(separator: ", "))] (expected [Split, ByteLevel] or [Digits, ByteLevel])")
        }
        let split = items[0], byteLevel = items[1]
        guard let regex = split["pattern"]?["Regex"]?.stringValue else {
            throw TokenizerError.unsupported(
                file: file, key: "pre_tokenizer.pretokenizers[0].pattern",
                value: "\(split["pattern"].map { "\($0)" } ?? "missing") (only Regex patterns are supported)")
        }
        guard let pattern = SplitPattern(regex: regex) else {
            throw TokenizerError.unsupported(
                file: file, key: "pre_tokenizer.pretokenizers[0].pattern.Regex", value: regex)
        }
        let behavior = split["behavior"]?.stringValue ?? "(missing)"
        guard behavior == "Isolated" else {
            throw TokenizerError.unsupported(
                file: file, key: "pre_tokenizer.pretokenizers[0].behavior", value: behavior)
        }
        if split["invert"]?.boolValue == true {
            throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.pretokenizers[0].invert", value: "true")
        }
        if byteLevel["use_regex"]?.boolValue ?? true {
            throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.pretokenizers[1].use_regex", value: "true")
        }
        if byteLevel["add_prefix_space"]?.boolValue == true {
            throw TokenizerError.unsupported(
                file: file, key: "pre_tokenizer.pretokenizers[1].add_prefix_space", value: "true")
        }
        return (pattern, false)
    default:
        throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.type", value: type)
    }
}

/// One added-token object (tokenizer.json `added_tokens[k]` or config `added_tokens_decoder[id]`).
private func addedToken(_ item: JSONValue, id: Int?, file: String, key: String) throws -> AddedToken {
    guard let id, id >= 0 else {
        throw TokenizerError.invalidValue(file: file, key: "\(key).id", reason: "missing or not a non-negative integer")
    }
    guard id < TokenizerLimits.maxID else {
        throw TokenizerError.invalidValue(
            file: file, key: "\(key).id",
            reason: "\(id) is beyond the largest supported token id \(TokenizerLimits.maxID - 1)")
    }
    guard let content = item["content"]?.stringValue, !content.isEmpty else {
        throw TokenizerError.invalidValue(file: file, key: "\(key).content", reason: "missing or empty")
    }
    func flag(_ name: String, _ fallback: Bool) throws -> Bool {
        guard let v = item[name], !v.isNull else { return fallback }
        guard let b = v.boolValue else {
            throw TokenizerError.invalidValue(
                file: file, key: "\(key).\(name)", reason: "expected a boolean, found \(v.kindName)")
        }
        return b
    }
    let special = try flag("special", false)
    return AddedToken(
        id: id, content: content, special: special,
        singleWord: try flag("single_word", false), lstrip: try flag("lstrip", false),
        rstrip: try flag("rstrip", false), normalized: try flag("normalized", !special))
}

// MARK: - merges.txt

/// The merges of a `merges.txt` (lines `left right`; a `#version` line and blank lines are skipped)
/// with the 1-based line number of each.
private func readMergesText(_ url: URL) throws -> ([(String, String)], [Int]) {
    let file = url.path
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TokenizerError.unreadable(file: file, reason: readFailure(error, path: file))
    }
    var merges: [(String, String)] = []
    var lines: [Int] = []
    try data.withUnsafeBytes { raw in
        let bytes = raw.bindMemory(to: UInt8.self)
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<stop])
            start = end + 1
            if line.isEmpty { continue }
            guard let text = String(validating: line, as: UTF8.self) else {
                var col = 1
                while col <= line.count,
                    String(validating: UnsafeBufferPointer(rebasing: line[0..<col]), as: UTF8.self) != nil
                { col += 1 }
                throw TokenizerError.invalidUTF8(file: file, line: lineNumber, column: col)
            }
            if text.hasPrefix("#version") { continue }
            let parts = text.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.malformedMerge(file: file, line: lineNumber, text: text)
            }
            merges.append((String(parts[0]), String(parts[1])))
            lines.append(lineNumber)
        }
    }
    return (merges, lines)
}

// MARK: - tokenizer_config.json

/// The parts of tokenizer_config.json this module uses.
struct TokenizerConfig {
    let file: String
    let tokenizerClass: String?
    let eosToken: String?
    let padToken: String?
    let bosToken: String?
    let unkToken: String?
    let addPrefixSpace: Bool
    let chatTemplate: String?
    let addedTokens: [AddedToken]

    init(url: URL) throws {
        file = url.path
        let root = try readJSON(url)
        guard case .object = root else {
            throw TokenizerError.invalidValue(
                file: file, key: "(top level)", reason: "expected an object, found \(root.kindName)")
        }
        let file = self.file
        func tokenName(_ key: String) throws -> String? {
            guard let v = root[key], !v.isNull else { return nil }
            if let s = v.stringValue { return s }
            if let s = v["content"]?.stringValue { return s }
            throw TokenizerError.invalidValue(
                file: file, key: key, reason: "expected a string or {\"content\": …}, found \(v.kindName)")
        }
        tokenizerClass = root["tokenizer_class"]?.stringValue
        eosToken = try tokenName("eos_token")
        padToken = try tokenName("pad_token")
        bosToken = try tokenName("bos_token")
        unkToken = try tokenName("unk_token")
        addPrefixSpace = root["add_prefix_space"]?.boolValue ?? false
        switch root["chat_template"] {
        case nil, .null?:
            chatTemplate = nil
        case let .string(s)?:
            chatTemplate = s
        case let .array(items)?:
            // Named templates: [{"name": "default", "template": "..."}, ...]; take "default".
            chatTemplate = items.first { $0["name"]?.stringValue == "default" }?["template"]?.stringValue
        case let other?:
            throw TokenizerError.invalidValue(
                file: file, key: "chat_template", reason: "expected a string, found \(other.kindName)")
        }
        var added: [AddedToken] = []
        if let decoder = root["added_tokens_decoder"], !decoder.isNull {
            guard case let .object(members) = decoder else {
                throw TokenizerError.invalidValue(
                    file: file, key: "added_tokens_decoder", reason: "expected an object, found \(decoder.kindName)")
            }
            for m in members {
                guard let id = Int(m.key) else {
                    throw TokenizerError.invalidValue(
                        file: file, key: "added_tokens_decoder[\(m.key.debugDescription)]",
                        reason: "the key is not an integer id")
                }
                added.append(try addedToken(m.value, id: id, file: file, key: "added_tokens_decoder[\"\(m.key)\"]"))
            }
        }
        addedTokens = added
    }
}
