// Plugin contracts: the four kinds of Lua function a recipe names (reward, prompt, loss mix,
// schedule) plus chat formats, each wrapped in a Swift type whose call checks what the script
// returned and reports a contract error naming the plugin, its file and line, what was expected
// and what came back. Calls read results straight off the Lua stack (no copies of whole tables)
// so a reward call stays in microseconds. Not here: which plugins a recipe uses (Recipe.swift).
import CLua
import CLuaShim
import Foundation

// MARK: - Shared checks

/// Loss terms a loss mix may weight (the trainer measures these each step).
public let knownLossTerms = ["pg", "kl", "entropy", "value", "sft"]

extension LuaState {
    /// A short description of the value at `index` for contract messages ("a string (\"x\")").
    func describe(at index: Int32) -> String {
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE: return "nil"
        case LUA_TNUMBER:
            let d = lua_tonumberx(L, index, nil)
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            lua_pushvalue(L, index)
            defer { lua_settop(L, -2) }
            return "the number \(string(at: -1) ?? "?")"
        case LUA_TSTRING:
            let s = string(at: index) ?? ""
            let short = s.count > 40 ? String(s.prefix(40)) + "..." : s
            return "a string (\(luaQuote(short)))"
        case LUA_TBOOLEAN: return "a boolean (\(lua_toboolean(L, index) != 0))"
        default: return "a \(typeName(at: index))"
        }
    }

    /// A finite number at `index`, or nil.
    func finiteNumber(at index: Int32) -> Double? {
        guard lua_type(L, index) == LUA_TNUMBER else { return nil }
        let d = lua_tonumberx(L, index, nil)
        return d.isFinite ? d : nil
    }

    /// Reads a table of name -> finite number at `index` (raw, no metamethods).
    func numberMap(at index: Int32, kind: String, function: LuaFunction, what: String) throws -> [String: Double] {
        let idx = lua_absindex(L, index)
        var out: [String: Double] = [:]
        lua_pushnil(L)
        while lua_next(L, idx) != 0 {
            guard lua_type(L, -2) == LUA_TSTRING else {
                let key = describe(at: -2)
                lua_settop(L, -3)
                throw contract(kind, function, "\(what) with key \(key), expected names (strings) as keys")
            }
            lua_pushvalue(L, -2)
            let key = string(at: -1) ?? ""
            lua_settop(L, -2)
            guard let v = finiteNumber(at: -1) else {
                let got = describe(at: -1)
                lua_settop(L, -3)
                throw contract(kind, function, "\(what) `\(key)` = \(got), expected a finite number")
            }
            out[key] = v
            lua_settop(L, -2)
        }
        return out
    }

    /// A contract error for plugin `kind` defined by `function`.
    func contract(_ kind: String, _ function: LuaFunction, _ detail: String) -> LuaError {
        .contract(
            plugin: kind, location: function.location, message: "\(kind) in \(function.location) returned \(detail)")
    }
}

// MARK: - Reward

/// What a reward plugin receives: one decoded response and its example.
public struct RewardSample {
    /// The decoded response (without the prompt).
    public var response: String
    /// The example's gold answer (`answer` field, or a label the recipe supplies).
    public var answer: String
    /// The example's question (`problem` field).
    public var problem: String
    /// The rendered prompt the response continues.
    public var prompt: String
    /// The whole JSONL object as a Lua table (build once per example with `LuaState.makeTable`).
    public var example: LuaTableRef
    /// Why decoding stopped: "stop", "length", ...
    public var finishReason: String
    /// Number of response tokens.
    public var tokens: Int

    /// A sample from its fields.
    public init(
        response: String, answer: String, problem: String, prompt: String, example: LuaTableRef,
        finishReason: String, tokens: Int
    ) {
        self.response = response
        self.answer = answer
        self.problem = problem
        self.prompt = prompt
        self.example = example
        self.finishReason = finishReason
        self.tokens = tokens
    }
}

/// A reward's number and the extra named metrics it returned.
public struct RewardResult: Equatable {
    /// The scalar reward.
    public var reward: Double
    /// Extra metrics (averaged into the step's metrics by the trainer).
    public var metrics: [String: Double]

    /// A result from its parts.
    public init(reward: Double, metrics: [String: Double] = [:]) {
        self.reward = reward
        self.metrics = metrics
    }
}

/// `reward = function(sample) -> number[, metrics]`.
public struct RewardPlugin {
    /// The Lua function.
    public let function: LuaFunction

    /// Wraps a function handle.
    public init(_ function: LuaFunction) { self.function = function }

    /// Calls the reward on one sample and checks its contract.
    public func callAsFunction(_ sample: RewardSample, in state: LuaState) throws -> RewardResult {
        let L = state.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        state.push(function)
        lua_createtable(L, 0, 8)
        state.push(sample.response)
        lua_setfield(L, -2, "response")
        state.push(sample.answer)
        lua_setfield(L, -2, "answer")
        state.push(sample.problem)
        lua_setfield(L, -2, "problem")
        state.push(sample.prompt)
        lua_setfield(L, -2, "prompt")
        state.push(sample.example)
        lua_setfield(L, -2, "example")
        state.push(sample.finishReason)
        lua_setfield(L, -2, "finish_reason")
        lua_pushinteger(L, lua_Integer(sample.tokens))
        lua_setfield(L, -2, "tokens")
        try state.protectedCall(nargs: 1, nresults: 2)
        guard let reward = state.finiteNumber(at: top + 1) else {
            let got = state.describe(at: top + 1)
            let expected = got == "NaN" || got.hasSuffix("inf") ? "a finite number" : "a number"
            throw state.contract("reward", function, "\(got), expected \(expected)")
        }
        var metrics: [String: Double] = [:]
        switch lua_type(L, top + 2) {
        case LUA_TNIL, LUA_TNONE: break
        case LUA_TTABLE:
            metrics = try state.numberMap(at: top + 2, kind: "reward", function: function, what: "a metric")
        default:
            throw state.contract(
                "reward", function,
                "\(state.describe(at: top + 2)) as its second value, expected a table of named metrics or nothing")
        }
        return RewardResult(reward: reward, metrics: metrics)
    }
}

// MARK: - Prompt and chat format

/// One chat message.
public struct ChatMessage: Equatable, Sendable {
    /// "system", "user", "assistant", ...
    public var role: String
    /// The message text.
    public var content: String

    /// A message from role and content.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// What a prompt plugin returns.
public enum PromptOutput: Equatable {
    /// Finished prompt text (no chat format applied).
    case text(String)
    /// Chat messages, rendered by the recipe's chat format.
    case messages([ChatMessage])
}

/// `prompt = function(example) -> string | { {role=..., content=...}, ... }`.
public struct PromptPlugin {
    /// The Lua function.
    public let function: LuaFunction
    /// Contract name used in messages ("prompt", "eval.prompt").
    public let kind: String

    /// Wraps a function handle.
    public init(_ function: LuaFunction, kind: String = "prompt") {
        self.function = function
        self.kind = kind
    }

    /// Calls the plugin on an example and checks its contract.
    public func callAsFunction(_ example: LuaTableRef, in state: LuaState) throws -> PromptOutput {
        let L = state.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        state.push(function)
        state.push(example)
        try state.protectedCall(nargs: 1, nresults: 1)
        let idx = top + 1
        if lua_type(L, idx) == LUA_TSTRING { return .text(state.string(at: idx) ?? "") }
        guard lua_type(L, idx) == LUA_TTABLE else {
            throw state.contract(
                kind, function,
                "\(state.describe(at: idx)), expected a string or a list of {role=..., content=...} messages")
        }
        return .messages(try state.messages(at: idx, kind: kind, function: function))
    }
}

extension LuaState {
    /// Reads a list of `{role=..., content=...}` tables.
    func messages(at idx: Int32, kind: String, function: LuaFunction) throws -> [ChatMessage] {
        let n = Int(lua_rawlen(L, idx))
        guard n > 0 else {
            throw contract(kind, function, "an empty table, expected a string or a non-empty list of messages")
        }
        var out: [ChatMessage] = []
        for i in 1...n {
            lua_rawgeti(L, idx, lua_Integer(i))
            defer { lua_settop(L, -2) }
            guard lua_type(L, -1) == LUA_TTABLE else {
                throw contract(
                    kind, function, "\(describe(at: -1)) as message \(i), expected a table {role=..., content=...}")
            }
            var fields: [String] = []
            for key in ["role", "content"] {
                push(key)
                lua_rawget(L, -2)
                defer { lua_settop(L, -2) }
                guard lua_type(L, -1) == LUA_TSTRING, let s = string(at: -1) else {
                    throw contract(kind, function, "message \(i) with \(key) = \(describe(at: -1)), expected a string")
                }
                fields.append(s)
            }
            out.append(ChatMessage(role: fields[0], content: fields[1]))
        }
        return out
    }
}

/// `chat_format = function(messages, add_generation_prompt) -> string`.
public struct ChatFormatPlugin {
    /// The Lua function.
    public let function: LuaFunction

    /// Wraps a function handle.
    public init(_ function: LuaFunction) { self.function = function }

    /// Renders messages to prompt text.
    public func callAsFunction(_ messages: [ChatMessage], addGenerationPrompt: Bool, in state: LuaState) throws
        -> String
    {
        let L = state.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        state.push(function)
        state.push(
            .table(
                LuaTable(
                    items: messages.map {
                        .table(LuaTable(fields: ["role": .string($0.role), "content": .string($0.content)]))
                    })))
        lua_pushboolean(L, addGenerationPrompt ? 1 : 0)
        try state.protectedCall(nargs: 2, nresults: 1)
        guard lua_type(L, top + 1) == LUA_TSTRING, let text = state.string(at: top + 1) else {
            throw state.contract("chat_format", function, "\(state.describe(at: top + 1)), expected a string")
        }
        return text
    }
}

// MARK: - Loss mix and schedules

/// `loss = function(step, terms) -> { pg = 1.0, kl = 0.001, entropy = -0.001, ... }`.
public struct LossMixPlugin {
    /// The Lua function.
    public let function: LuaFunction

    /// Wraps a function handle.
    public init(_ function: LuaFunction) { self.function = function }

    /// Coefficients for this step, given last step's measured terms (name -> value).
    public func callAsFunction(step: Int, terms: [String: Double], in state: LuaState) throws -> [String: Double] {
        let L = state.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        state.push(function)
        lua_pushinteger(L, lua_Integer(step))
        lua_createtable(L, 0, Int32(terms.count))
        for (k, v) in terms {
            lua_pushnumber(L, v)
            lua_setfield(L, -2, k)
        }
        try state.protectedCall(nargs: 2, nresults: 1)
        guard lua_type(L, top + 1) == LUA_TTABLE else {
            throw state.contract(
                "loss", function,
                "\(state.describe(at: top + 1)), expected a table of coefficients such as { pg = 1.0, kl = 0.001 }")
        }
        let mix = try state.numberMap(at: top + 1, kind: "loss", function: function, what: "a coefficient")
        guard !mix.isEmpty else {
            throw state.contract(
                "loss", function, "an empty table, expected at least one coefficient such as { pg = 1.0 }")
        }
        for key in mix.keys.sorted() where !knownLossTerms.contains(key) {
            let hint = nearestName(key, among: knownLossTerms).map { "; did you mean `\($0)`?" } ?? ""
            throw state.contract(
                "loss", function,
                "an unknown term `\(key)`, expected terms among \(knownLossTerms.joined(separator: ", "))\(hint)")
        }
        return mix
    }
}

/// `schedule = function(step, total) -> number` (learning rate, temperature, any coefficient).
public struct SchedulePlugin {
    /// The Lua function.
    public let function: LuaFunction
    /// Contract name used in messages ("schedules.lr", ...).
    public let kind: String
    /// The smallest value the schedule may return (0 for a learning rate or a temperature), or nil.
    public let minimum: Double?

    /// Wraps a function handle.
    public init(_ function: LuaFunction, kind: String, minimum: Double? = nil) {
        self.function = function
        self.kind = kind
        self.minimum = minimum
    }

    /// The scheduled value at `step` of `total`.
    public func callAsFunction(step: Int, total: Int, in state: LuaState) throws -> Double {
        let L = state.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        state.push(function)
        lua_pushinteger(L, lua_Integer(step))
        lua_pushinteger(L, lua_Integer(total))
        try state.protectedCall(nargs: 2, nresults: 1)
        guard let v = state.finiteNumber(at: top + 1) else {
            let got = state.describe(at: top + 1)
            throw state.contract(kind, function, "\(got), expected a finite number")
        }
        if let minimum, v < minimum {
            throw state.contract(
                kind, function,
                "\(state.describe(at: top + 1)) at step \(step) of \(total), expected a number ≥ \(String(format: "%g", minimum))"
            )
        }
        return v
    }
}

// MARK: - Names

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
public func nearestName(_ name: String, among candidates: [String]) -> String? {
    var best: (name: String, distance: Int)?
    for c in candidates {
        let d = editDistance(name, c)
        if d < (best?.distance ?? Int.max) { best = (c, d) }
    }
    guard let (candidate, distance) = best else { return nil }
    let allowed = max(2, min(name.count, candidate.count) / 3)
    return distance <= allowed ? candidate : nil
}

/// Levenshtein distance over Unicode scalars.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var previous = Array(0...y.count)
    var current = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        current[0] = i
        for j in 1...y.count {
            let cost = x[i - 1] == y[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[y.count]
}
