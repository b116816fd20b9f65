// The host API that scripts see: one global table `verity` with `verity.math.extract/equal/grade`
// (the verifier), `verity.tokens` (the tokenizer), `verity.log` (also `print`) and
// `verity.random` (seeded by the run), plus the confined `require`. The verifier and tokenizer are
// not linked here: the host passes them in as `HostServices` closures, and a missing service is a
// clear Lua error, never a stand-in. Not here: the sandbox's library list (CLuaShim).
import CLua
import CLuaShim
import Foundation

// MARK: - Services

/// What a grader says about one response.
public struct GradeResult: Sendable, Equatable {
    /// Whether the extracted answer is equivalent to the gold answer.
    public var correct: Bool
    /// The answer the grader extracted from the response, if any.
    public var extracted: String?

    /// A result from its two parts.
    public init(correct: Bool, extracted: String?) {
        self.correct = correct
        self.extracted = extracted
    }
}

/// The host's services behind `verity.math.*`, `verity.tokens` and `verity.log`; each closure
/// takes the grader profile name ("paper", "qwen-eval", "math-verify", "verity") where it matters.
public struct HostServices: Sendable {
    /// `verity.math.extract(text[, profile])`: the answer a grader extracts, or nil.
    public var extract: (@Sendable (_ text: String, _ profile: String) throws -> String?)?
    /// `verity.math.equal(gold, prediction[, profile])`: answer equivalence.
    public var equal: (@Sendable (_ gold: String, _ prediction: String, _ profile: String) throws -> Bool)?
    /// `verity.math.grade(response, gold[, profile])`: extraction plus equivalence.
    public var grade: (@Sendable (_ response: String, _ gold: String, _ profile: String) throws -> GradeResult)?
    /// `verity.tokens(text)`: number of tokens the run's tokenizer gives the text.
    public var countTokens: (@Sendable (_ text: String) throws -> Int)?
    /// `verity.log(...)` and `print(...)`: one line of script output (default: standard error).
    public var log: @Sendable (_ line: String) -> Void

    /// Services from closures; any may be nil (its Lua function then raises a clear error).
    public init(
        extract: (@Sendable (String, String) throws -> String?)? = nil,
        equal: (@Sendable (String, String, String) throws -> Bool)? = nil,
        grade: (@Sendable (String, String, String) throws -> GradeResult)? = nil,
        countTokens: (@Sendable (String) throws -> Int)? = nil,
        log: @escaping @Sendable (String) -> Void = { line in
            // Every line gets the prefix, so that a script cannot start a line of its own.
            let text = line.split(separator: "\n", omittingEmptySubsequences: false).map { "[lua] " + $0 }.joined(
                separator: "\n")
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    ) {
        self.extract = extract
        self.equal = equal
        self.grade = grade
        self.countTokens = countTokens
        self.log = log
    }
}

// MARK: - Script output

/// Text a script wrote, made safe for a terminal: control characters other than tab and newline
/// (ESC and so ANSI escape sequences, carriage return, backspace, C1 controls such as CSI, DEL)
/// become visible `\x1b`-style escapes, so that a script cannot move the cursor, recolour or
/// overwrite the host's own lines (a forged "ok").
public func neutralizeControlCharacters(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let v = scalar.value
        if (v < 0x20 && v != 0x09 && v != 0x0A) || v == 0x7F || (0x80...0x9F).contains(v) {
            out.append(contentsOf: String(format: "\\x%02x", v).unicodeScalars)
        } else {
            out.append(scalar)
        }
    }
    return String(out)
}

// MARK: - Installing the API

/// Runs once per state: defines `require`, `verity` and `print`, and returns `math.randomseed`.
private let prelude = """
    local find, host, allow_io = ...
    local loaded, loading = {}, {}
    local error, type, tostring, rawget = error, type, tostring, rawget
    local raw_setmetatable = setmetatable
    local hint = " (--allow-io opens io and os; modules load with require)"
    local function closed_library(name)
      local function refuse(_, key)
        error(name .. "." .. tostring(key) .. " is not available: the " .. name .. " library is closed in the sandbox" .. hint, 2)
      end
      return raw_setmetatable({}, { __index = refuse, __newindex = refuse, __metatable = false })
    end
    local function closed_function(name)
      return function() error(name .. " is not available in the sandbox" .. hint, 2) end
    end
    if not allow_io then
      io = closed_library("io")
      os = closed_library("os")
    end
    debug = closed_library("debug")
    package = closed_library("package")
    dofile = closed_function("dofile")
    loadfile = closed_function("loadfile")
    string.dump = closed_function("string.dump")
    -- Lua runs __gc finalizers with debug hooks off, so a looping finalizer would escape the
    -- instruction budget: refuse metatables that carry __gc (Lua only marks an object for
    -- finalization if its metatable has the field when setmetatable is called).
    function setmetatable(t, mt)
      if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        error("setmetatable: __gc finalizers are not allowed in the sandbox (they would run outside the instruction budget)", 2)
      end
      return raw_setmetatable(t, mt)
    end
    function require(name)
      if type(name) ~= "string" then
        error("bad argument #1 to 'require' (module name expected, got " .. type(name) .. ")", 2)
      end
      local m = loaded[name]
      if m ~= nil then return m end
      if loading[name] then error("require cycle: module '" .. name .. "' requires itself", 2) end
      local chunk, where, level = find(name)
      if not chunk then error(where, level) end
      loading[name] = true
      local done <close> = raw_setmetatable({}, { __close = function() loading[name] = nil end })
      local r = chunk(name, where)
      if r == nil then r = true end
      loaded[name] = r
      return r
    end
    verity = host
    print = host.log
    return math.randomseed
    """

extension LuaState {
    /// Builds the `verity` table and runs the prelude.
    func installHostAPI() throws {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let chunk = try load(source: prelude, name: "=[verity prelude]")
        push(chunk)
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostFindModule() ?? 0 }
        lua_createtable(L, 0, 6)
        lua_createtable(L, 0, 3)
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostExtract() ?? 0 }
        lua_setfield(L, -2, "extract")
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostEqual() ?? 0 }
        lua_setfield(L, -2, "equal")
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostGrade() ?? 0 }
        lua_setfield(L, -2, "grade")
        lua_setfield(L, -2, "math")
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostTokens() ?? 0 }
        lua_setfield(L, -2, "tokens")
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostLog() ?? 0 }
        lua_setfield(L, -2, "log")
        verity_pushhostfn(L) { L in LuaState.host(L)?.hostRandom() ?? 0 }
        lua_setfield(L, -2, "random")
        push("5.4")
        lua_setfield(L, -2, "lua_version")
        lua_pushboolean(L, options.allowIO ? 1 : 0)
        try protectedCall(nargs: 3, nresults: 1)
        if lua_type(L, -1) == LUA_TFUNCTION { reseedMath = popFunction() }
    }

    // MARK: - Host functions (called from Lua; they push results and never raise)

    /// Pushes an error message for the trampoline to raise; returns the marker.
    private func fail(_ message: String) -> Int32 {
        push(message)
        return -1
    }

    /// Argument `i` as a string (numbers are accepted and converted), or an error message.
    private func stringArgument(_ i: Int32, of function: String, what: String) -> Result<String, HostFailure> {
        if let s = string(at: i) { return .success(s) }
        return .failure(
            HostFailure(message: "bad argument #\(i) to '\(function)' (\(what) expected, got \(typeName(at: i)))"))
    }

    /// Optional profile argument, defaulting to the state's grader profile.
    private func profileArgument(_ i: Int32, of function: String) -> Result<String, HostFailure> {
        if lua_type(L, i) <= LUA_TNIL { return .success(graderProfile) }
        return stringArgument(i, of: function, what: "grader profile name")
    }

    private func missing(_ function: String, _ what: String) -> Int32 {
        fail("\(function) is not available: this host was started without \(what)")
    }

    func hostExtract() -> Int32 {
        let name = "verity.math.extract"
        guard let extract = services.extract else { return missing(name, "a verifier") }
        do {
            let text = try stringArgument(1, of: name, what: "string").get()
            let profile = try profileArgument(2, of: name).get()
            if let answer = try extract(text, profile) { push(answer) } else { lua_pushnil(L) }
            return 1
        } catch {
            return fail("\(name): \(error)")
        }
    }

    func hostEqual() -> Int32 {
        let name = "verity.math.equal"
        guard let equal = services.equal else { return missing(name, "a verifier") }
        do {
            let gold = try stringArgument(1, of: name, what: "gold answer string").get()
            let prediction = try stringArgument(2, of: name, what: "predicted answer string").get()
            let profile = try profileArgument(3, of: name).get()
            lua_pushboolean(L, try equal(gold, prediction, profile) ? 1 : 0)
            return 1
        } catch {
            return fail("\(name): \(error)")
        }
    }

    func hostGrade() -> Int32 {
        let name = "verity.math.grade"
        guard let grade = services.grade else { return missing(name, "a verifier") }
        do {
            let response = try stringArgument(1, of: name, what: "response string").get()
            let gold = try stringArgument(2, of: name, what: "gold answer string").get()
            let profile = try profileArgument(3, of: name).get()
            let result = try grade(response, gold, profile)
            lua_pushboolean(L, result.correct ? 1 : 0)
            if let e = result.extracted { push(e) } else { lua_pushnil(L) }
            return 2
        } catch {
            return fail("\(name): \(error)")
        }
    }

    func hostTokens() -> Int32 {
        let name = "verity.tokens"
        guard let count = services.countTokens else { return missing(name, "a tokenizer") }
        do {
            let text = try stringArgument(1, of: name, what: "string").get()
            lua_pushinteger(L, lua_Integer(try count(text)))
            return 1
        } catch {
            return fail("\(name): \(error)")
        }
    }

    func hostLog() -> Int32 {
        let n = lua_gettop(L)
        var parts: [String] = []
        for i in stride(from: Int32(1), through: n, by: 1) {
            switch lua_type(L, i) {
            case LUA_TSTRING, LUA_TNUMBER:
                lua_pushvalue(L, i)  // convert a copy, keep the argument intact
                parts.append(string(at: -1) ?? "")
                lua_settop(L, -2)
            case LUA_TBOOLEAN: parts.append(lua_toboolean(L, i) != 0 ? "true" : "false")
            case LUA_TNIL: parts.append("nil")
            default: parts.append("<\(typeName(at: i))>")
            }
        }
        services.log(neutralizeControlCharacters(parts.joined(separator: "\t")))
        return 0
    }

    func hostRandom() -> Int32 {
        let n = lua_gettop(L)
        if n == 0 {
            lua_pushnumber(L, random.nextUnit())
            return 1
        }
        var isNum: Int32 = 0
        let a = lua_tointegerx(L, 1, &isNum)
        guard isNum != 0 else {
            return fail("bad argument #1 to 'verity.random' (integer expected, got \(typeName(at: 1)))")
        }
        var lo: Int64 = 1, hi: Int64 = a
        if n >= 2 {
            let b = lua_tointegerx(L, 2, &isNum)
            guard isNum != 0 else {
                return fail("bad argument #2 to 'verity.random' (integer expected, got \(typeName(at: 2)))")
            }
            lo = a
            hi = b
        }
        guard lo <= hi else { return fail("bad argument to 'verity.random' (interval [\(lo), \(hi)] is empty)") }
        lua_pushinteger(L, random.next(in: lo, hi))
        return 1
    }

    // MARK: - require

    /// `find(name)` for the prelude's `require`: pushes (chunk, display name) or (nil, message, level).
    func hostFindModule() -> Int32 {
        guard let name = string(at: 1) else {
            lua_pushnil(L)
            push("module name expected")
            lua_pushinteger(L, 2)
            return 3
        }
        switch resolveModule(name) {
        case .failure(let failure):
            lua_pushnil(L)
            push(failure.message)
            lua_pushinteger(L, 2)
            return 3
        case .success(let (url, display)):
            do {
                try loadChunk(url: url, displayName: display)
                push(display)
                return 2
            } catch let error as LuaError {
                if case .syntax(_, _, let message) = error { pendingSyntaxError = error; _ = message }
                lua_pushnil(L)
                push(syntaxMessage(error))
                lua_pushinteger(L, 0)
                return 3
            } catch {
                lua_pushnil(L)
                push("\(error)")
                lua_pushinteger(L, 2)
                return 3
            }
        }
    }

    private func syntaxMessage(_ error: LuaError) -> String {
        if case .syntax(_, _, let message) = error { return message }
        return error.description
    }

    /// Where `require(name)` loads from: the first root holding `name` as `a/b.lua` or
    /// `a/b/init.lua`, with symbolic links resolved and required to stay inside that root.
    func resolveModule(_ name: String) -> Result<(URL, String), HostFailure> {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        let wordOK: (Substring) -> Bool = { part in
            !part.isEmpty
                && part.unicodeScalars.allSatisfy {
                    ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
                        || $0 == "-"
                }
        }
        let allowed = roots.map { $0.display.isEmpty ? "the recipe's folder" : $0.display }.joined(separator: ", ")
        guard parts.allSatisfy(wordOK) else {
            return .failure(
                HostFailure(
                    message:
                        "require '\(name)' refused: a module name is dotted words (like 'rewards.boxed_equal') resolved only within \(allowed); paths are not allowed"
                ))
        }
        let relative = parts.joined(separator: "/")
        for root in roots {
            let rootReal = root.url.resolvingSymlinksInPath().standardizedFileURL.path
            for suffix in [".lua", "/init.lua"] {
                let candidate = root.url.appendingPathComponent(relative + suffix)
                guard FileManager.default.fileExists(atPath: candidate.path) else { continue }
                let real = candidate.resolvingSymlinksInPath().standardizedFileURL.path
                guard real.hasPrefix(rootReal.hasSuffix("/") ? rootReal : rootReal + "/") else {
                    return .failure(
                        HostFailure(
                            message:
                                "require '\(name)' refused: \(root.display)\(relative + suffix) leads outside its root")
                    )
                }
                return .success((candidate, root.display + relative + suffix))
            }
        }
        return .failure(HostFailure(message: "module '\(name)' not found in \(allowed)"))
    }
}

/// A message a host function turns into a Lua error.
struct HostFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
