// BFloat16: float32 to bfloat16 by round-to-nearest-even, the one rounding of the package's Swift
// code (bf16 checkpoints; the C decode kernels pack bf16 panels with the same rule, tested equal).
import Foundation

/// bfloat16 bits of x, rounded to nearest even (NaN stays NaN) — the rounding torch's .to(bfloat16) uses.
public func floatToBFloat16(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    let b = x.bitPattern
    let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// x rounded to the nearest bfloat16 value, as float32.
public func roundToBFloat16(_ x: Float) -> Float { Float(bitPattern: UInt32(floatToBFloat16(x)) << 16) }
