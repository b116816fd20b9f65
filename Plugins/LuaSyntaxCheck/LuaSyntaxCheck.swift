// LuaSyntaxCheck: a build tool plugin for the VerityScripts target. It runs verity-luac over every
// .lua file under the target's folder (Scripts/) so that a script with a syntax error fails
// `swift build` with `file:line: error: message`. Its output is a small generated Swift file (a
// stamp) compiled into the target, which makes the check run whenever a script changes. It does
// not run any script.
import Foundation
import PackagePlugin

@main
struct LuaSyntaxCheck: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let root = module.directoryURL
        var scripts: [URL] = []
        if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "lua" { scripts.append(url) }
        }
        scripts.sort { $0.path < $1.path }
        let stamp = context.pluginWorkDirectoryURL.appendingPathComponent("LuaSyntaxChecked.swift")
        return [
            .buildCommand(
                displayName: "Syntax-checking \(scripts.count) Lua scripts in \(target.name)",
                executable: try context.tool(named: "verity-luac").url,
                arguments: ["--stamp", stamp.path] + scripts.map(\.path),
                inputFiles: scripts,
                outputFiles: [stamp])
        ]
    }
}
