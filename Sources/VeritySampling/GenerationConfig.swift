// GenerationConfig: the parts of a Hugging Face generation_config.json the sampler uses (EOS ids
// and the default sampling settings). A missing file is not an error (many checkpoints lack it);
// a malformed one is, naming the file and key. It is not a full GenerationConfig.
import Foundation
import VerityJSON

// MARK: - Generation config

/// `generation_config.json`: EOS ids and default sampling settings.
public struct GenerationConfig: Sendable, Equatable {
    /// `eos_token_id` as a list (HF allows an int or a list).
    public var eosTokenIds: [Int] = []
    /// `temperature`, if given.
    public var temperature: Double?
    /// `top_p`, if given.
    public var topP: Double?
    /// `top_k`, if given.
    public var topK: Int?
    /// `do_sample`, if given.
    public var doSample: Bool?

    /// An empty config.
    public init() {}

    /// Reads `directory/generation_config.json`; an absent file gives an empty config.
    public static func load(directory: URL) throws -> GenerationConfig {
        let url = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return GenerationConfig() }
        return try decode(data, file: url.path)
    }

    /// Decodes generation_config.json bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String) throws -> GenerationConfig {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw SamplingError.badFile(
                file: file, line: nil, detail: "not valid JSON: \(JSONDiagnostics.syntaxError(in: data) ?? "\(error)")")
        }
        guard let o = any as? [String: Any] else {
            throw SamplingError.badFile(file: file, line: nil, detail: "not a JSON object")
        }
        var g = GenerationConfig()
        switch o["eos_token_id"] {
        case nil, is NSNull: break
        case let n as NSNumber: g.eosTokenIds = [n.intValue]
        case let a as [Any]:
            g.eosTokenIds = try a.map { e in
                guard let n = e as? NSNumber else {
                    throw SamplingError.badFile(file: file, line: nil, detail: "eos_token_id: \(e) is not an integer")
                }
                return n.intValue
            }
        case let other?:
            throw SamplingError.badFile(
                file: file, line: nil, detail: "eos_token_id: \(other) is not an integer or a list")
        }
        g.temperature = (o["temperature"] as? NSNumber)?.doubleValue
        g.topP = (o["top_p"] as? NSNumber)?.doubleValue
        g.topK = (o["top_k"] as? NSNumber)?.intValue
        g.doSample = (o["do_sample"] as? NSNumber)?.boolValue
        return g
    }
}
