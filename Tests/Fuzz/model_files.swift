// libFuzzer target: the readers of a checkpoint folder's untrusted files, on any bytes: the
// safetensors header (8-byte length, JSON header, offsets checked against the file) and
// config.json (ModelConfig.decode). A trap, a crash or a hang is a finding; a ModelError is the
// expected answer to garbage.
import Foundation
@testable import VerityModel

let path = FileManager.default.temporaryDirectory.appendingPathComponent("verity-fuzz-\(getpid()).safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    _ = try? ModelConfig.decode(bytes, file: "fuzz/config.json")
    if (try? bytes.write(to: path)) != nil, let file = try? SafeTensorsFile(url: path) {
        for name in file.entries.keys.sorted().prefix(4) { _ = try? file.tensor(name) }
    }
    return 0
}
