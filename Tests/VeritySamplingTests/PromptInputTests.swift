// Prompt input that used to be read wrongly (issue 13, items 5 and 9): an empty item in
// --prompt-ids was dropped, and a CRLF prompts file was read as one line.
import Foundation
import XCTest
@testable import VeritySampling

final class PromptInputTests: XCTestCase {
    func testEmptyIdItemIsAnError() {
        for text in ["1,,2", "1,2,", ""] {
            XCTAssertThrowsError(try PromptInput.parseIds(text), text) { e in
                guard case SamplingError.badParameter(let name, _, _)? = e as? SamplingError else {
                    return XCTFail("\(e)")
                }
                XCTAssertEqual(name, "--prompt-ids")
            }
        }
        XCTAssertEqual(try PromptInput.parseIds("1, 2,3"), [1, 2, 3])
    }

    func testCRLFPromptsFileReadsLikeLF() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("verity-prompts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lf = dir.appendingPathComponent("lf.jsonl"), crlf = dir.appendingPathComponent("crlf.jsonl")
        try Data("{\"prompt_ids\": [1, 2]}\n{\"prompt_ids\": [3]}\n".utf8).write(to: lf)
        try Data("{\"prompt_ids\": [1, 2]}\r\n{\"prompt_ids\": [3]}\r\n".utf8).write(to: crlf)
        XCTAssertEqual(try PromptInput.readJSONL(crlf), try PromptInput.readJSONL(lf))
        XCTAssertEqual(try PromptInput.readJSONL(crlf), [[1, 2], [3]])
        try Data("{\"prompt_ids\": [1]}\r\n{\"prompt_ids\": [x]}\r\n".utf8).write(to: crlf)
        XCTAssertThrowsError(try PromptInput.readJSONL(crlf)) { e in
            XCTAssertTrue("\(e)".contains("crlf.jsonl:2:"), "\(e)")
        }
    }
}

final class PromptFileMessageTests: XCTestCase {
    func testBadJSONLineNamesFileLineAndColumn() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-bad-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("{\"prompt_ids\": [1]}\n{\"prompt_ids\": [1, }\n".utf8).write(to: url)
        XCTAssertThrowsError(try PromptInput.readJSONL(url)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("\(url.lastPathComponent):2: not valid JSON (column "), text)
            XCTAssertFalse(text.contains("correct format"), text)
        }
    }
}
