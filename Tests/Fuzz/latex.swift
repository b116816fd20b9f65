// libFuzzer target: the grader's answer extraction and LaTeX/math parsing (VerityVerify) on any
// bytes, under every grading profile. A trap, a crash or a hang is a finding.
import VerityVerify

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLatex(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let half = text.firstIndex(of: "\u{1}").map { String(text[..<$0]) } ?? text
    for profile in GradingProfile.allCases {
        let grader = Grader(profile: profile)
        _ = grader.extract(text)
        _ = grader.equal(gold: half, prediction: text)
        _ = grader.grade(response: text, gold: half)
    }
    return 0
}
