import Foundation
import Shards
import Tensor

/// A batch of A2L windows: input audio units [B, T, 320] with some steps zeroed, true lip
/// units [B, T, 1024], mask [B, T] of the steps scored (1 = scored). In training the zeroed and
/// the scored steps are the same masked spans.
public struct A2LBatch {
    public var input: Tensor
    public var target: Tensor
    public var mask: Tensor

    /// Stacks windows (audio [T·320], units [T·1024]); steps with `zeroed[s] != 0` get zero
    /// audio; `scored` [T] becomes the mask.
    public init(_ windows: [(audio: [Float], units: [Float], zeroed: [Float], scored: [Float])], frames t: Int) {
        let b = windows.count, a = ShardFormat.melUnitSize, u = ShardFormat.lipUnitSize
        input = Tensor(shape: [b, t, a]); target = Tensor(shape: [b, t, u]); mask = Tensor(shape: [b, t])
        input.withUnsafeMutableBufferPointer { inputBuffer in target.withUnsafeMutableBufferPointer { targetBuffer in
        mask.withUnsafeMutableBufferPointer { maskBuffer in
        let I = inputBuffer.baseAddress!, Y = targetBuffer.baseAddress!, M = maskBuffer.baseAddress!
        for (i, w) in windows.enumerated() {
            w.audio.withUnsafeBufferPointer { src in
                for s in 0..<t {
                    let dst = I + (i * t + s) * a
                    if w.zeroed[s] != 0 { dst.update(repeating: 0, count: a) } else { dst.update(from: src.baseAddress! + s * a, count: a) }
                }
            }
            w.units.withUnsafeBufferPointer { (Y + i * t * u).update(from: $0.baseAddress!, count: t * u) }
            w.scored.withUnsafeBufferPointer { (M + i * t).update(from: $0.baseAddress!, count: t) }
        }
        } } }
    }
}
