// Statistics: the one median every benchmark reports (repeats on a shared 2-core machine drift, so
// medians, never means or bests).
import Foundation

/// The median of `values` (the mean of the two middle values for an even count; NaN when empty).
public func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
