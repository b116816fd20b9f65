// Script files and script output as the host treats them (issue 13, item 9): a recipe with a
// UTF-8 byte-order mark or a shebang line loads as `lua` would load it, with the file's own line
// numbers; what a script prints cannot carry terminal escape sequences or start a line that
// looks like the host's own.
import Foundation
import VerityLua
import XCTest

final class ScriptTextTests: XCTestCase {
    func run(_ text: String) throws -> (LuaState, Result<LuaValue, Error>) {
        let tmp = try TempFolder()
        let url = try tmp.write("recipe.lua", text)
        let state = try LuaState(services: testServices())
        return (state, Result { try state.run(file: url, displayName: "recipe.lua") })
    }

    func testByteOrderMarkAndShebangLoad() throws {
        for prefix in ["\u{FEFF}", "#!/usr/bin/env lua\n", "\u{FEFF}#!/usr/bin/env verity check\n"] {
            let (_, r) = try run(prefix + "return 41 + 1\n")
            XCTAssertEqual(try r.get(), .integer(42), prefix.debugDescription)
        }
    }

    func testShebangKeepsLineNumbers() throws {
        let (_, r) = try run("#!/usr/bin/env lua\nlocal x = 1\nerror('line three')\n")
        guard case .failure(let e as LuaError) = r else { return XCTFail("\(r)") }
        XCTAssertEqual(e.line, 3, "\(e)")
        XCTAssertTrue(e.description.contains("recipe.lua:3:"), e.description)
    }

    func testPrintedEscapeSequencesAreNeutralised() throws {
        let logs = CallLog()
        _ = try runLua(
            #"print("\27[2K\rrecipe x.lua: ok\27[0m", "\u{9B}x", "a\tb\127")"#, services: testServices(logs: logs))
        let line = try XCTUnwrap(logs.all.first)
        XCTAssertFalse(
            line.unicodeScalars.contains {
                $0.value == 0x1B || $0.value == 0x0D || $0.value == 0x9B || $0.value == 0x7F
            }, line)
        XCTAssertEqual(line, "\\x1b[2K\\x0drecipe x.lua: ok\\x1b[0m\t\\x9bx\ta\tb\\x7f")
    }

    func testNeutraliseKeepsOrdinaryText() {
        XCTAssertEqual(neutralizeControlCharacters("héllo\tworld\n∑ 2"), "héllo\tworld\n∑ 2")
        XCTAssertEqual(neutralizeControlCharacters("\u{1B}]0;title\u{07}"), "\\x1b]0;title\\x07")
    }
}
