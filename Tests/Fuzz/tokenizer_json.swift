// libFuzzer target: the tokenizer's JSON parser (used for tokenizer.json, vocab.json and
// tokenizer_config.json) and the JSONL reader behind `verity tokenize --file`, on any bytes.
// A trap, a crash or a hang is a finding; a TokenizerError is the expected answer to garbage.
import Foundation
@testable import VerityTokenizer

let jsonlPath = FileManager.default.temporaryDirectory.appendingPathComponent("verity-fuzz-\(getpid()).jsonl")
let tokenizer: Tokenizer? = {
    let json =
        #"{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":true},"post_processor":null,"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","dropout":null,"unk_token":null,"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}"#
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("verity-fuzz-tokenizer-\(getpid()).json")
    try? Data(json.utf8).write(to: url)
    return try? Tokenizer(tokenizerJSON: url)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    _ = try? JSONParser(file: "fuzz.json").parse(bytes)
    if let tokenizer, (try? bytes.write(to: jsonlPath)) != nil {
        _ = try? tokenizer.encodeJSONLines(jsonlPath)
    }
    return 0
}
