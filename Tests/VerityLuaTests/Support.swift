// Test support for VerityLua: temporary recipe folders, a test-double grader injected through
// HostServices (exact string compare of the last \boxed{} content; a test double, not a grader),
// and small assertion helpers. No tests here.
import Foundation
import VerityLua
import XCTest

/// A temporary folder removed at deinit.
final class TempFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-lua-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes a file under the folder and returns its URL.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> URL {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file
    }
}

/// The content of the last `\boxed{...}` (braces matched), or nil.
func lastBoxed(_ text: String) -> String? {
    guard let r = text.range(of: "\\boxed{", options: .backwards) else { return nil }
    var depth = 1
    var i = r.upperBound
    while i < text.endIndex {
        if text[i] == "{" {
            depth += 1
        } else if text[i] == "}" {
            depth -= 1
            if depth == 0 { return String(text[r.upperBound..<i]) }
        }
        i = text.index(after: i)
    }
    return nil
}

/// Records every call the test double receives (profile included).
final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    func add(_ s: String) { lock.lock(); entries.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return entries }
}

/// HostServices with the exact-compare test double and a log sink.
func testServices(calls: CallLog = CallLog(), logs: CallLog = CallLog()) -> HostServices {
    HostServices(
        extract: { text, profile in
            calls.add("extract \(profile)"); return lastBoxed(text)
        },
        equal: { gold, prediction, profile in
            calls.add("equal \(profile)"); return gold == prediction
        },
        grade: { response, gold, profile in
            calls.add("grade \(profile)")
            let e = lastBoxed(response)
            return GradeResult(correct: e == gold, extracted: e)
        },
        countTokens: { text in text.split(separator: " ").count },
        log: { logs.add($0) })
}

/// Runs a source string in a fresh state, under the watchdog, and returns its results.
func runLua(
    _ source: String, options: LuaOptions = LuaOptions(), services: HostServices = testServices(),
    name: String = "test.lua", file: StaticString = #filePath, line: UInt = #line
) throws -> [LuaValue] {
    try underWatchdog(file: file, line: line) {
        let state = try LuaState(options: options, services: services)
        return try state.call(try state.load(source: source, name: name))
    }
}

// MARK: - Watchdog

/// How long a script under test may run before the watchdog fails the test. Every runaway test stops its script
/// within a small fraction of this on a loaded machine; a broken budget or memory cap fails here in seconds
/// instead of hanging the suite.
let watchdogSeconds: Double = 20

/// Thrown when the watchdog gives up on a body.
struct WatchdogTimeout: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "watchdog: still running after \(seconds) s" }
}

/// A value handed between the test thread and the watchdog's worker (guarded by the semaphore's ordering).
private final class Handoff<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body` on its own thread and waits at most `seconds` for it. On time out the test fails and this throws,
/// leaving the runaway thread behind (it dies with the test process); a Lua state is never shared between the two.
func underWatchdog<T>(
    _ seconds: Double = watchdogSeconds, file: StaticString = #filePath, line: UInt = #line,
    _ body: @escaping () throws -> T
) throws -> T {
    let work = Handoff(body)
    let result = Handoff<Result<T, Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        result.value = Result { try work.value() }
        done.signal()
    }
    thread.stackSize = 64 << 20
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success, let r = result.value else {
        XCTFail(
            "watchdog: the script was still running after \(seconds) s (budget or cap not enforced?)", file: file,
            line: line)
        throw WatchdogTimeout(seconds: seconds)
    }
    return try r.get()
}

/// Asserts that `body` throws a LuaError and returns it for further checks.
func expectLuaError(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> LuaError? {
    do {
        _ = try body()
        XCTFail("expected a LuaError, got success", file: file, line: line)
    } catch let e as LuaError {
        return e
    } catch {
        XCTFail("expected a LuaError, got \(error)", file: file, line: line)
    }
    return nil
}

/// The repository's data folder (tests run from the package root).
var repositoryRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
