// Plain-words diagnostics for the files users hand the engine: where a JSON text stops being
// JSON (line and column, instead of Foundation's "The data is not in the correct format"), and
// why a file cannot be read (instead of "NSCocoaErrorDomain error 256"). Not a parser: the
// callers parse with Foundation and ask here only when that fails.
import Foundation

/// Diagnostics for JSON texts and unreadable files.
public enum JSONDiagnostics {
    /// Why `data` is not JSON, as "line L, column C: reason", or nil when it is valid JSON.
    public static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            let debug = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
            // Foundation reports "... around character N." (a byte offset from 0).
            var reason = debug
            var offset: Int? = nil
            if let r = debug.range(of: "around character ") {
                let digits = debug[r.upperBound...].prefix { $0.isNumber }
                offset = Int(digits)
                reason = String(debug[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            if reason.hasSuffix(".") { reason.removeLast() }
            if reason.isEmpty { reason = "not valid JSON" }
            guard let offset else { return reason.lowercasedFirst }
            let (line, column) = location(ofByte: offset, in: data)
            return "line \(line), column \(column): \(reason.lowercasedFirst)"
        }
    }

    /// The 1-based line and column (in bytes) of a byte offset.
    public static func location(ofByte offset: Int, in data: Data) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for (i, b) in data.enumerated() {
            if i >= offset { break }
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// Why reading `path` failed, in plain words ("no such file", "is a directory", ...).
    public static func readProblem(_ error: Error, path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "is a directory, not a file" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        var e = error as NSError
        while let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError { e = underlying }
        if e.domain == NSPOSIXErrorDomain, let text = strerror(Int32(e.code)) { return String(cString: text) }
        return "cannot be read"
    }
}

extension String {
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
