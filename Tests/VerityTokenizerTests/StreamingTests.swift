// Incremental detokenization: feeding ids one at a time never splits a UTF-8 sequence (no chunk
// holds a replacement character the full decode lacks) and the chunks concatenate to the full
// decode of the reference ids (tiny-qwen2 spells emoji and CJK as several byte tokens).
import Foundation
import XCTest
import VerityFixtures
@testable import VerityTokenizer

final class StreamingTests: XCTestCase {
    func testChunksNeverSplitCharactersAndConcatenateToDecode() throws {
        let tokenizer = try Loaded.tiny.get()
        let reference = try Loaded.tinyReference.get()
        var heldBack = 0
        for c in reference.tokenization {
            var stream = tokenizer.streamingDecoder()
            var chunks: [String] = []
            for id in c.ids {
                let chunk = stream.push(id)
                if chunk.isEmpty && stream.hasPendingBytes { heldBack += 1 }
                chunks.append(chunk)
            }
            chunks.append(stream.finish())
            XCTAssertEqual(chunks.joined(), c.decoded, c.text.debugDescription)
            XCTAssertEqual(chunks.joined(), tokenizer.decode(c.ids))
            for chunk in chunks {
                XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}"), "split UTF-8 in \(c.text.debugDescription)")
            }
        }
        XCTAssertGreaterThan(heldBack, 5, "the fixture must split characters across tokens")
    }

    func testBatchPushEqualsSinglePushes() throws {
        let tokenizer = try Loaded.qwenJSON.get()
        let reference = try Loaded.qwenReference.get()
        for c in reference.encode {
            var a = tokenizer.streamingDecoder(skipSpecialTokens: true)
            let whole = a.push(contentsOf: c.ids) + a.finish()
            XCTAssertEqual(whole, c.decoded_skip_special)
        }
    }

    func testCompletePrefixLength() {
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xE4, 0xBD]), 1)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xE4, 0xBD, 0xA0]), 4)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x98]), 0)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xE0, 0x80]), 2, "invalid second byte: emit now")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xFF]), 1)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([]), 0)
    }

    /// The scan's lowest position (three bytes back): a four-byte character split after its third byte has its lead
    /// exactly there, one more byte back is out of reach, and a run of continuation bytes reaching past it is emitted.
    func testCompletePrefixLengthAtTheLowestPosition() {
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xF0, 0x9F, 0x98]), 1, "lead at n-3: held back")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x98, 0x80]), 4, "complete at n-4")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x98, 0x80, 0xF0]), 4, "a new lead at n-1")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0x9F, 0x98, 0x80]), 4, "no lead within reach")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x9F, 0x98, 0x80]), 3, "continuations only")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xF4, 0x90, 0x80]), 4, "F4 past U+10FFFF: emit")
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xE0, 0xA0]), 1, "E0 A0: a valid start")
    }
}
