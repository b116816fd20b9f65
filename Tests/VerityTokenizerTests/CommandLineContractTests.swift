// The library side of the command-line contract: `verity tokenize --file FILE` reads one JSON
// string per line and writes one `{"ids":[…]}` object per line; ids must equal the reference.
import VerityJSON
import Foundation
import XCTest
import VerityFixtures
@testable import VerityTokenizer

final class CommandLineContractTests: XCTestCase {
    func testJSONLinesFileEncodesLikeReference() throws {
        let tokenizer = try Loaded.qwenJSON.get()
        let reference = try Loaded.qwenReference.get()
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("texts.jsonl")
        try Data(reference.encode.map { jsonStringLiteral($0.text) + "\n" }.joined().utf8).write(to: url)
        let ids = try tokenizer.encodeJSONLines(url)
        XCTAssertEqual(ids, reference.encode.map(\.ids))
        XCTAssertEqual(Tokenizer.idsJSONLine([9707, 1879]), #"{"ids":[9707,1879]}"#)
    }

    func testJSONLinesFileErrorsNameFileAndLine() throws {
        let tokenizer = try Loaded.tiny.get()
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("bad.jsonl")
        try Data("\"fine\"\n{\"not\": \"a string\"}\n".utf8).write(to: url)
        XCTAssertThrowsError(try tokenizer.encodeJSONLines(url)) { error in
            XCTAssertEqual(
                error as? TokenizerError,
                .invalidValue(file: url.path, key: "line 2", reason: "expected a JSON string, found an object"))
        }
        try Data("\"fine\"\n\"unterminated\n".utf8).write(to: url)
        XCTAssertThrowsError(try tokenizer.encodeJSONLines(url)) { error in
            guard let e = error as? JSONLinesError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.file, url.path)
            XCTAssertEqual(e.line, 2)
        }
    }
}
