// VerityFixtures: locates the reference fixtures (made by transformers, tokenizers and PyTorch)
// that the test targets read. It holds no logic of its own; see README.md beside it.
import Foundation

/// Paths to the reference fixture folders bundled as resources.
public enum Fixtures {
    /// The root folder holding `tiny-qwen2/`, `qwen2.5-tokenizer/`, `rl-losses/`, `configs/`, `grader/`.
    public static var root: URL {
        guard let url = Bundle.module.resourceURL else {
            preconditionFailure("VerityFixtures resources are missing from the test bundle")
        }
        return url
    }

    /// A folder or file under the fixture root, e.g. `Fixtures.url("tiny-qwen2/config.json")`.
    public static func url(_ relative: String) -> URL {
        root.appendingPathComponent(relative)
    }

    /// The bytes of a fixture file.
    public static func data(_ relative: String) throws -> Data {
        try Data(contentsOf: url(relative))
    }
}
