// Where a recipe key is written, and the error texts of recipe issues: a light scan of the recipe's
// Lua source maps each dotted key path to its own line (the key's table's line when it has none),
// and `RecipeIssue.error` names the key, `file:line` or the `--set` flag, and what is wrong. Not
// here: finding the issues (RecipeDecoder.swift, Recipe.swift).
import Foundation

// MARK: - Lines of keys

/// Where each key of a recipe is written: a light scan of the Lua source (comments and strings
/// skipped) that follows table constructors, so `rollout = { temperature = 0.6 }` maps
/// `rollout.temperature` to its own line, not to the first `temperature =` in the file. Keys of
/// the table after `return` win over keys of other tables.
struct RecipeKeyLines {
    private var returned: [String: Int] = [:]
    private var other: [String: Int] = [:]
    /// The line of the `{` after `return` at the chunk's top level.
    private var rootLine: Int?

    /// Scans `source`.
    init(source: String) {
        let s = Array(source.utf8)
        var i = 0, line = 1
        // One frame per open `{`: its dotted path (nil: an unnamed table inside another) and the
        // key whose value is being written.
        struct Frame { var path: [String]?; var pending: String?; var inReturn: Bool }
        var stack = [Frame(path: [], pending: nil, inReturn: false)]
        var previous: UInt8 = UInt8(ascii: "{")  // last significant token: a punctuation byte, or 0 for a word
        var lastWord = ""
        var candidate: (name: String, line: Int)?  // a word that began a field, waiting for `=`

        func isWordStart(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        func isWord(_ c: UInt8) -> Bool { isWordStart(c) || (c >= 48 && c <= 57) }
        /// Length of `[==[` at `j` (level + 2), or nil.
        func longOpen(_ j: Int) -> Int? {
            guard j < s.count, s[j] == UInt8(ascii: "[") else { return nil }
            var k = j + 1
            while k < s.count, s[k] == UInt8(ascii: "=") { k += 1 }
            return k < s.count && s[k] == UInt8(ascii: "[") ? k - j + 1 : nil
        }
        /// Skips a long bracket opened at `j` with `width` bytes; returns the index after it.
        func skipLong(_ j: Int, width: Int) -> Int {
            let level = width - 2
            var k = j + width
            while k < s.count {
                if s[k] == 10 { line += 1 }
                if s[k] == UInt8(ascii: "]") {
                    var e = k + 1, n = 0
                    while e < s.count, s[e] == UInt8(ascii: "="), n < level { e += 1; n += 1 }
                    if n == level, e < s.count, s[e] == UInt8(ascii: "]") { return e + 1 }
                }
                k += 1
            }
            return k
        }

        while i < s.count {
            let c = s[i]
            if c == 10 { line += 1; i += 1; continue }
            if c == 32 || c == 9 || c == 13 { i += 1; continue }
            if c == UInt8(ascii: "-"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "-") {
                if let w = longOpen(i + 2) {
                    i = skipLong(i + 2, width: w)
                } else {
                    while i < s.count, s[i] != 10 { i += 1 }
                }
                continue
            }
            if let w = longOpen(i) { i = skipLong(i, width: w); previous = 0; candidate = nil; continue }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                var k = i + 1
                while k < s.count, s[k] != c, s[k] != 10 {
                    if s[k] == UInt8(ascii: "\\"), k + 1 < s.count {
                        if s[k + 1] == 10 { line += 1 }
                        k += 1
                    }
                    k += 1
                }
                i = k + 1
                previous = 0
                candidate = nil
                continue
            }
            if isWordStart(c) {
                var k = i
                while k < s.count, isWord(s[k]) { k += 1 }
                let word = String(decoding: s[i..<k], as: UTF8.self)
                candidate =
                    (previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",") || previous == UInt8(ascii: ";"))
                        && stack.count > 1 ? (word, line) : nil
                lastWord = word
                previous = 0
                i = k
                continue
            }
            if c == UInt8(ascii: "=") {
                let next = i + 1 < s.count ? s[i + 1] : 0
                if next == UInt8(ascii: "=") { i += 2; previous = UInt8(ascii: "="); candidate = nil; continue }
                if let (name, at) = candidate, var top = stack.popLast() {
                    if let path = top.path {
                        let key = (path + [name]).joined(separator: ".")
                        if top.inReturn {
                            if returned[key] == nil { returned[key] = at }
                        } else if other[key] == nil {
                            other[key] = at
                        }
                    }
                    top.pending = name
                    stack.append(top)
                }
                candidate = nil
                previous = c
                i += 1
                continue
            }
            if c == UInt8(ascii: "{") {
                let parent = stack[stack.count - 1]
                let path: [String]?
                var inReturn = parent.inReturn
                if stack.count == 1 {
                    path = []  // a table at the chunk's top level: the recipe, or a local holding it
                    inReturn = previous == 0 && lastWord == "return"
                    if inReturn, rootLine == nil { rootLine = line }
                } else if let name = parent.pending, let p = parent.path {
                    path = p + [name]
                } else {
                    path = nil
                }
                stack.append(Frame(path: path, pending: nil, inReturn: inReturn))
            } else if c == UInt8(ascii: "}") {
                if stack.count > 1 { stack.removeLast() }
            } else if c == UInt8(ascii: ",") || c == UInt8(ascii: ";") {
                stack[stack.count - 1].pending = nil
            }
            candidate = nil
            lastWord = ""
            previous = c
            i += 1
        }
    }

    /// The line of `path` (string keys), or of its nearest enclosing key that has one, or of the
    /// returned table itself.
    func line(of path: [String]) -> Int? {
        var p = path
        while !p.isEmpty {
            let key = p.joined(separator: ".")
            if let l = returned[key] ?? other[key] { return l }
            p.removeLast()
        }
        return rootLine
    }
}

// MARK: - Messages

extension RecipeIssue {
    /// The error for people: the key path, `file:line` (or the `--set` flag), and what is wrong.
    func error(file: String, lines: RecipeKeyLines, overrides: [String: String]) -> LuaError {
        let keys = RecipeIssue.keys(path)
        let dotted = keys.joined(separator: ".")
        let shown = RecipeIssue.display(path)
        var line: Int?
        var place = file
        if overrides[dotted] != nil {
            place = "\(file) (set by --set \(dotted))"
        } else {
            // A missing key has no line of its own: point at its table.
            if case .missing = kind {
                line = lines.line(of: Array(keys.dropLast()))
            } else {
                line = lines.line(of: keys)
            }
            if let line { place = "\(file):\(line)" }
        }
        let message: String
        switch kind {
        case .unknownKey(let suggestions):
            message =
                "unknown key `\(shown)` in \(place)"
                + (suggestions.isEmpty
                    ? "" : "; did you mean " + suggestions.map { "`\($0)`" }.joined(separator: " or ") + "?")
        case .wrongType(let expected, let got):
            message = "wrong type for `\(shown)` in \(place): expected \(expected), got \(got)"
        case .missing(let expected):
            message = "missing key `\(shown)` in \(place): expected \(expected)"
        case .invalid(let expected, let got, let hint):
            message =
                "invalid value for `\(shown)` in \(place): expected \(expected), got \(got)"
                + (hint.map { "; \($0)" } ?? "")
        case .commandLine(let expected):
            message = "--set \(dotted): \(expected) cannot be given on the command line; edit the recipe instead"
        case .listEntry(let got):
            message =
                "\(shown.isEmpty ? "the recipe" : "`\(shown)`") in \(place) has a list entry (\(got)); expected only named keys"
        }
        return .recipe(file: file, line: line, message: message)
    }
}
