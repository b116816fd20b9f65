// LuaState: one sandboxed Lua 5.4 state, owned by one thread. It creates the state through the
// C shim (capped allocator, instruction budget), opens only the safe libraries, installs the
// `verity` host table and a `require` confined to the allowed roots, loads chunks in text mode
// under display names relative to the recipe, records the SHA-256 of every script it loads, and
// turns Lua errors into `LuaError`. Not here: plugin contracts (Plugins.swift) and recipes
// (Recipe.swift). Not thread-safe: make one state per thread that runs scripts.
import CLua
import CLuaShim
import Foundation
import VerityCore
import VerityJSON
import VerityScripts

// MARK: - Options

/// Limits and permissions of a Lua state.
public struct LuaOptions: Sendable, Equatable {
    /// Lua VM instructions one call from the host may run (0 = unlimited).
    public var instructionBudget: Int
    /// Bytes the state may hold while a script runs (0 = unlimited).
    public var memoryLimit: Int
    /// Opens the io and os libraries (off by default; recorded in the run folder when on).
    public var allowIO: Bool
    /// Extra roots for `require`, as the user named them (`--lib`).
    public var libraryRoots: [String]
    /// Wall-clock seconds one call from the host may run, C work such as pattern matching
    /// included (0 = unlimited).
    public var timeLimit: Double

    /// Defaults: 50 million instructions and 5 seconds per call, 256 MiB, no io/os, no extra roots.
    public init(
        instructionBudget: Int = 50_000_000, memoryLimit: Int = 256 << 20,
        allowIO: Bool = false, libraryRoots: [String] = [], timeLimit: Double = 5
    ) {
        self.instructionBudget = instructionBudget
        self.memoryLimit = memoryLimit
        self.allowIO = allowIO
        self.libraryRoots = libraryRoots
        self.timeLimit = timeLimit
    }
}

// MARK: - Validating limits

extension LuaOptions {
    /// The largest memory cap accepted, in MiB (1 TiB): larger values would overflow in bytes.
    public static let maxMemoryMB = 1 << 20
    /// The largest instruction budget accepted (about 10^15, days of Lua time).
    public static let maxInstructions = 1 << 50
    /// The largest wall-clock limit accepted, in seconds (one day).
    public static let maxSeconds = 86_400.0

    /// Options from the command line's `--lua-instructions`, `--lua-memory-mb` and `--lua-seconds`.
    /// 0 switches a guard off on purpose; a negative, overflowing or non-finite value is refused
    /// with a message naming the flag instead of switching the guard off by accident.
    public static func fromFlags(
        instructions: Int, memoryMB: Int, seconds: Double, allowIO: Bool = false,
        libraryRoots: [String] = []
    ) throws -> LuaOptions {
        guard (0...maxInstructions).contains(instructions) else {
            throw LuaError.state(
                message:
                    "--lua-instructions \(instructions): expected 0 (unlimited) or a count of up to \(maxInstructions)")
        }
        guard (0...maxMemoryMB).contains(memoryMB) else {
            throw LuaError.state(
                message: "--lua-memory-mb \(memoryMB): expected 0 (unlimited) or a size in MiB of up to \(maxMemoryMB)")
        }
        guard seconds.isFinite, seconds >= 0, seconds <= maxSeconds else {
            throw LuaError.state(
                message:
                    "--lua-seconds \(seconds): expected 0 (unlimited) or a number of seconds of up to \(Int(maxSeconds))"
            )
        }
        let options = LuaOptions(
            instructionBudget: instructions, memoryLimit: memoryMB << 20, allowIO: allowIO,
            libraryRoots: libraryRoots, timeLimit: seconds)
        try options.validate()
        return options
    }

    /// Refuses limits that would switch a guard off by accident: a negative budget or memory cap,
    /// or a time limit that is negative or not finite (0 means unlimited for each).
    public func validate() throws {
        guard instructionBudget >= 0 else {
            throw LuaError.state(message: "instruction budget \(instructionBudget) is negative (0 means unlimited)")
        }
        guard memoryLimit >= 0 else {
            throw LuaError.state(message: "memory cap of \(memoryLimit) bytes is negative (0 means unlimited)")
        }
        guard timeLimit.isFinite, timeLimit >= 0 else {
            throw LuaError.state(
                message: "wall-clock limit of \(timeLimit) s is negative or not finite (0 means unlimited)")
        }
    }
}

/// A folder `require` may load from, with the prefix its files are shown under.
public struct ScriptRoot: Sendable, Equatable {
    /// The folder on disk.
    public var url: URL
    /// Prefix of display names (`Scripts/`, the recipe's folder as the user wrote it, ...).
    public var display: String

    /// A root from its folder and display prefix.
    public init(url: URL, display: String) {
        self.url = url
        self.display = display.isEmpty || display.hasSuffix("/") ? display : display + "/"
    }

    /// The bundled library (the `VerityScripts` resources), shown as `Scripts/`.
    public static var bundled: ScriptRoot? {
        VerityScripts.root.map { ScriptRoot(url: $0, display: "Scripts/") }
    }
}

/// A script the state loaded: its display name, file and SHA-256.
public struct LoadedScript: Sendable, Equatable {
    /// Name shown in messages (relative to the recipe or `Scripts/`).
    public var displayName: String
    /// The file on disk.
    public var url: URL
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
}

// MARK: - State

/// A sandboxed Lua state; see the file comment. Use from one thread only.
public final class LuaState {
    let L: OpaquePointer
    /// The limits and permissions the state was made with.
    public let options: LuaOptions
    /// Verifier, tokenizer and log closures behind `verity.math.*`, `verity.tokens`, `verity.log`.
    public var services: HostServices
    /// Grader profile used when a script calls `verity.math.*` without one.
    public var graderProfile: String = "paper"
    /// Folders `require` searches, in order.
    public private(set) var roots: [ScriptRoot]
    /// Every script loaded so far, in load order.
    public private(set) var loadedScripts: [LoadedScript] = []
    var random: Xoshiro256
    /// `math.randomseed` as the sandbox opened it (scripts may replace the global).
    var reseedMath: LuaFunction?
    /// A syntax error met by `require` during the current call, re-thrown as `.syntax`.
    var pendingSyntaxError: LuaError?
    /// The script `run(file:)` is running (the location of last resort for an error with none).
    var runningFile: String?
    private var registryIndex: Int32 { verity_registryindex() }

    /// Creates a state. `recipeRoot` (the recipe's folder) is searched first by `require`, then
    /// `options.libraryRoots`, then the bundled `Scripts/`.
    public init(
        options: LuaOptions = LuaOptions(), services: HostServices = HostServices(),
        recipeRoot: ScriptRoot? = nil, includeBundled: Bool = true
    ) throws {
        try options.validate()
        guard let L = verity_newstate(options.memoryLimit, Int64(options.instructionBudget), nil) else {
            throw LuaError.state(message: "cannot allocate a Lua state")
        }
        self.L = L
        verity_set_time_limit(L, options.timeLimit)
        self.options = options
        self.services = services
        self.random = Xoshiro256(seed: 0)
        var roots: [ScriptRoot] = []
        if let recipeRoot { roots.append(recipeRoot) }
        for lib in options.libraryRoots {
            roots.append(ScriptRoot(url: URL(fileURLWithPath: lib).standardizedFileURL, display: lib))
        }
        if includeBundled, let bundled = ScriptRoot.bundled { roots.append(bundled) }
        self.roots = roots
        verity_set_host(L, Unmanaged.passUnretained(self).toOpaque())
        guard verity_open_sandbox(L, options.allowIO ? 1 : 0) == LUA_OK else {
            let message = string(at: -1) ?? "?"
            throw LuaError.state(message: "cannot open the Lua libraries: \(message)")
        }
        try installHostAPI()
    }

    deinit { verity_close(L) }

    /// The state behind a raw pointer handed to a host function.
    static func host(_ L: OpaquePointer?) -> LuaState? {
        guard let L, let raw = verity_host(L) else { return nil }
        return Unmanaged<LuaState>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The standard libraries the C layer opened: the keys of the registry's `_LOADED` table, read through the C
    /// API. The prelude hides io and os from scripts whatever this holds; this is the layer under it, which no
    /// sandboxed script can observe, so tests of the C gate read it here.
    var openedLibraries: Set<String> {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var names: Set<String> = []
        guard lua_getfield(L, registryIndex, "_LOADED") == LUA_TTABLE else { return names }
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, let name = string(at: -2) { names.insert(name) }
            lua_settop(L, -2)
        }
        return names
    }

    /// Bytes the state holds now.
    public var memoryUsed: Int { Int(verity_memory_used(L)) }

    /// The most bytes the state has held at once since it was made.
    public var memoryPeak: Int { Int(verity_memory_peak(L)) }

    /// Seeds `verity.random` and Lua's `math.random` from the run's seed.
    public func seed(_ seed: UInt64) throws {
        random = Xoshiro256(seed: seed)
        if let reseed = reseedMath {
            _ = try call(reseed, [.integer(Int64(bitPattern: seed))])
        }
    }

    func release(ref: Int32) {
        luaL_unref(L, registryIndex, ref)
    }

    // MARK: - Loading

    /// Reads and compiles a script (text mode) and pushes its chunk function; records its hash.
    func loadChunk(url: URL, displayName: String) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LuaError.file(
                path: displayName,
                message: "cannot read the script: \(JSONDiagnostics.readProblem(error, path: url.path))")
        }
        var bytes = LuaState.chunkText(data)
        bytes.append(0)
        let status = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                verity_loadtext(L, chars.baseAddress, chars.count - 1, "@" + displayName)
            }
        }
        guard status == LUA_OK else {
            let message = string(at: -1) ?? "cannot load"
            lua_settop(L, -2)
            let line = splitLuaLocation(message)?.line
            throw LuaError.syntax(file: displayName, line: line, message: message)
        }
        let digest = SHA256.hex(data)
        if !loadedScripts.contains(where: { $0.displayName == displayName && $0.sha256 == digest }) {
            loadedScripts.append(LoadedScript(displayName: displayName, url: url, sha256: digest))
        }
    }

    /// A script file's bytes as the `lua` command loads them: a UTF-8 byte-order mark is dropped,
    /// and a first line starting with `#` (a shebang) is emptied, its newline kept so that line
    /// numbers stay those of the file.
    static func chunkText(_ data: Data) -> [UInt8] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.first == UInt8(ascii: "#") {
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            bytes.removeSubrange(0..<end)
        }
        return bytes
    }

    /// Compiles Lua source text held in memory (tests, `--set` helpers); nothing is recorded.
    public func load(source: String, name: String) throws -> LuaFunction {
        var bytes = Array(source.utf8)
        bytes.append(0)
        let status = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                verity_loadtext(L, chars.baseAddress, chars.count - 1, name.hasPrefix("=") ? name : "@" + name)
            }
        }
        guard status == LUA_OK else {
            let message = string(at: -1) ?? "cannot load"
            lua_settop(L, -2)
            throw LuaError.syntax(file: name, line: splitLuaLocation(message)?.line, message: message)
        }
        return popFunction()
    }

    /// Runs a script file and returns its first result (a recipe's table, a module's value).
    public func run(file url: URL, displayName: String) throws -> LuaValue {
        try loadChunk(url: url, displayName: displayName)
        runningFile = displayName
        defer { runningFile = nil }
        try protectedCall(nargs: 0, nresults: 1)
        let value = self.value(at: -1)
        lua_settop(L, -2)
        return value
    }

    // MARK: - Calling

    /// Calls a function with plain arguments and returns all its results.
    public func call(_ function: LuaFunction, _ args: [LuaValue] = []) throws -> [LuaValue] {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        push(function)
        for a in args { push(a) }
        try protectedCall(nargs: Int32(args.count), nresults: LUA_MULTRET)
        let n = lua_gettop(L) - top
        return (0..<n).map { value(at: top + 1 + $0) }
    }

    /// Runs the function and arguments on the stack under the guards; throws `LuaError`.
    func protectedCall(nargs: Int32, nresults: Int32) throws {
        pendingSyntaxError = nil
        let status = verity_pcall(L, nargs, nresults)
        if status != LUA_OK { throw popError(status: status) }
    }

    /// Pops the error message of a failed call and classifies it.
    func popError(status: Int32) -> LuaError {
        let message = string(at: -1) ?? "(error object is not a string)"
        lua_settop(L, -2)
        verity_push_traceback(L)
        let traceback = string(at: -1) ?? ""
        lua_settop(L, -2)
        let source = String(cString: verity_error_source(L))
        let line = Int(verity_error_line(L))
        let file: String? = source.isEmpty ? runningFile : source
        let where_ = line > 0 ? line : nil
        if let pending = pendingSyntaxError, case .syntax(_, _, let text) = pending, message.contains(text) {
            pendingSyntaxError = nil
            return pending
        }
        switch verity_error_stop(L) {
        case Int32(VERITY_STOP_INSTRUCTIONS.rawValue):
            return .budget(kind: .instructions, limit: options.instructionBudget, file: file, line: where_)
        case Int32(VERITY_STOP_MEMORY.rawValue):
            return .budget(kind: .memory, limit: options.memoryLimit, file: file, line: where_)
        case Int32(VERITY_STOP_TIME.rawValue):
            return .budget(
                kind: .time(seconds: options.timeLimit), limit: Int(options.timeLimit.rounded(.up)), file: file,
                line: where_)
        default:
            if let loc = splitLuaLocation(message) {
                return .runtime(file: loc.file, line: loc.line, message: message, traceback: traceback)
            }
            return .runtime(file: file, line: where_, message: message, traceback: traceback)
        }
    }

    // MARK: - Stack

    /// Pushes a plain value (functions by reference).
    func push(_ value: LuaValue) {
        switch value {
        case .nil, .other: lua_pushnil(L)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, i)
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s): push(s)
        case .function(let f): push(f)
        case .table(let t):
            lua_createtable(L, Int32(t.items.count), Int32(t.fields.count))
            for (i, item) in t.items.enumerated() {
                push(item)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            for (k, v) in t.fields {
                push(k)
                push(v)
                lua_rawset(L, -3)
            }
        }
    }

    /// Pushes a function handle.
    func push(_ function: LuaFunction) {
        precondition(function.state === self, "a LuaFunction was used with another LuaState")
        lua_rawgeti(L, registryIndex, lua_Integer(function.ref))
    }

    /// Pushes a table handle.
    func push(_ table: LuaTableRef) {
        precondition(table.state === self, "a LuaTableRef was used with another LuaState")
        lua_rawgeti(L, registryIndex, lua_Integer(table.ref))
    }

    /// Pushes a string (bytes as UTF-8).
    func push(_ s: String) {
        var s = s
        s.withUTF8 { buf in
            _ = buf.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, buf.count) }
        }
    }

    /// Pushes a JSON value as a Lua table / scalar (null becomes nil).
    func push(json: JSONValue) {
        switch json {
        case .null: lua_pushnil(L)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, i)
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s): push(s)
        case .array(let a):
            lua_createtable(L, Int32(a.count), 0)
            for (i, v) in a.enumerated() {
                push(json: v)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
        case .object(let o):
            lua_createtable(L, 0, Int32(o.count))
            for (k, v) in o {
                push(k)
                push(json: v)
                lua_rawset(L, -3)
            }
        }
    }

    /// Builds a Lua table from JSON once and keeps it in the registry for many calls.
    public func makeTable(_ json: JSONValue) -> LuaTableRef {
        push(json: json)
        return LuaTableRef(ref: luaL_ref(L, registryIndex), state: self)
    }

    /// Pops the function on top of the stack into a handle.
    func popFunction() -> LuaFunction {
        var line: Int32 = -1
        let source = String(cString: verity_function_source(L, -1, &line))
        let ref = luaL_ref(L, registryIndex)
        return LuaFunction(ref: ref, file: source.isEmpty ? "[C]" : source, line: Int(line), state: self)
    }

    /// The string at a stack index when it is a string or a number (numbers are converted).
    func string(at index: Int32) -> String? {
        let t = lua_type(L, index)
        guard t == LUA_TSTRING || t == LUA_TNUMBER else { return nil }
        var length = 0
        guard let p = lua_tolstring(L, index, &length) else { return nil }
        return p.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Lua's type name of the value at a stack index.
    func typeName(at index: Int32) -> String {
        String(cString: lua_typename(L, lua_type(L, index)))
    }

    /// Copies the value at a stack index into Swift (tables by raw iteration, no metamethods).
    func value(at index: Int32, depth: Int = 0) -> LuaValue {
        let idx = lua_absindex(L, index)
        switch lua_type(L, idx) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, idx) != 0 { return .integer(lua_tointegerx(L, idx, nil)) }
            return .number(lua_tonumberx(L, idx, nil))
        case LUA_TSTRING: return .string(string(at: idx) ?? "")
        case LUA_TFUNCTION:
            lua_pushvalue(L, idx)
            return .function(popFunction())
        case LUA_TTABLE:
            guard depth < 32, lua_checkstack(L, 4) != 0 else { return .other("table nested too deeply") }
            var fields: [String: LuaValue] = [:]
            var numbered: [Int64: LuaValue] = [:]
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                let v = value(at: -1, depth: depth + 1)
                if lua_type(L, -2) == LUA_TNUMBER, lua_isinteger(L, -2) != 0 {
                    numbered[lua_tointegerx(L, -2, nil)] = v
                } else if lua_type(L, -2) == LUA_TSTRING {
                    // Copy the key without converting it in place (lua_next needs it intact).
                    lua_pushvalue(L, -2)
                    fields[string(at: -1) ?? ""] = v
                    lua_settop(L, -2)
                } else {
                    fields["[\(typeName(at: -2))]"] = v
                }
                lua_settop(L, -2)
            }
            var items: [LuaValue] = []
            var i: Int64 = 1
            while let v = numbered.removeValue(forKey: i) {
                items.append(v)
                i += 1
            }
            for (k, v) in numbered { fields["[\(k)]"] = v }
            return .table(LuaTable(fields: fields, items: items))
        default:
            return .other(typeName(at: idx))
        }
    }
}

// MARK: - Seeded random numbers

/// xoshiro256** (Blackman and Vigna, 2018), seeded through SplitMix64: the generator behind
/// `verity.random`, seeded by the run.
struct Xoshiro256 {
    var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        s = (g.next(), g.next(), g.next(), g.next())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in [lo, hi] (lo <= hi), without modulo bias.
    mutating func next(in lo: Int64, _ hi: Int64) -> Int64 {
        let span = UInt64(bitPattern: hi &- lo)
        if span == UInt64.max { return Int64(bitPattern: next()) }
        let n = span + 1
        let limit = UInt64.max - UInt64.max % n
        var r = next()
        while r >= limit { r = next() }
        return lo &+ Int64(bitPattern: r % n)
    }
}
