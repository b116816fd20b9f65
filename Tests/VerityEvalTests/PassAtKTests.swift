import XCTest
@testable import VerityEval
final class PlaceholderTests: XCTestCase { func testNothing() {} }
