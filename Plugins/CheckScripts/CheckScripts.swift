// CheckScripts: the command plugin behind `swift package check-scripts [FILE.lua ...]`. It runs
// verity-luac over every .lua under Scripts/ (or the files given) and fails with each syntax
// error as `file:line: error: message`. It only checks syntax; `verity check RECIPE.lua` loads,
// validates and dry-runs a recipe.
import Foundation
import PackagePlugin

@main
struct CheckScripts: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var files = arguments
        if files.isEmpty {
            let root = context.package.directoryURL.appendingPathComponent("Scripts")
            if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
                for case let url as URL in walker where url.pathExtension == "lua" { files.append(url.path) }
            }
            files.sort()
        }
        let process = Process()
        process.executableURL = try context.tool(named: "verity-luac").url
        process.arguments = files
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            Diagnostics.error("check-scripts: Lua syntax errors (listed above)")
            throw CheckScriptsError.failed
        }
        print("check-scripts: \(files.count) Lua file(s) passed the syntax check")
    }

    enum CheckScriptsError: Error { case failed }
}
