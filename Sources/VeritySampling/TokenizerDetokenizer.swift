// The tokenizer's streaming decoder as the engine's incremental detokenizer, so stop strings and
// the `text` of each sample come from VerityTokenizer's byte-level decode (never a split UTF-8
// sequence; pieces plus the final flush equal the full decode).
import VerityTokenizer

extension StreamingDecoder: IncrementalDetokenizer {
    /// Appends one sampled id and returns the text it completes.
    public mutating func append(_ id: Int32) -> String { push(Int(id)) }
}

extension Tokenizer {
    /// A fresh incremental detokenizer for one sample, in the form `RolloutEngine.generate` takes.
    public func detokenizerFactory(skipSpecialTokens: Bool = false) -> () -> any IncrementalDetokenizer {
        { self.streamingDecoder(skipSpecialTokens: skipSpecialTokens) }
    }
}
