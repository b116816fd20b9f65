// Placeholder test for VerityTokenizer: checks that the shared fixtures are bundled. Replaced by real tests.
import XCTest
import VerityFixtures

final class VerityTokenizerFixturesPresentTests: XCTestCase {
    func testFixtureConfigIsBundled() throws {
        let data = try Fixtures.data("tiny-qwen2/config.json")
        XCTAssertGreaterThan(data.count, 100)
    }
}
