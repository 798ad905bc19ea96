/// Seeded random numbers (xoshiro256**, seeded by SplitMix64), so every run with the same seed
/// draws the same weights, masks and dropout patterns. The state is four words and can be saved
/// in a checkpoint (`state`) to resume exactly.
public struct RandomGenerator {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        state = (splitMix64(&s), splitMix64(&s), splitMix64(&s), splitMix64(&s))
    }

    public init(state: [UInt64]) {
        precondition(state.count == 4, "RandomGenerator state has 4 words")
        self.state = (state[0], state[1], state[2], state[3])
    }

    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0; state.3 ^= state.1; state.1 ^= state.2; state.0 ^= state.3
        state.2 ^= t; state.3 = rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300), u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

@inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

@inline(__always) func splitMix64(_ s: inout UInt64) -> UInt64 {
    s &+= 0x9E37_79B9_7F4A_7C15
    var z = s
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Where this process's samples sit in the global batch of a data-parallel step: sample s of its
/// tensors (dimension 0) is position first + s·stride of the global batch (`BatchSampler`'s shares
/// are strided). Dropout masks are indexed by the element's place in the global batch's tensor, so
/// a sample gets the same mask whatever process holds it; one process (first 0, stride 1) gets
/// the masks it always got.
public struct BatchPositions: Sendable, Equatable {
    public let first: Int, stride: Int

    public init(first: Int, stride: Int) { (self.first, self.stride) = (first, stride) }

    public static let whole = BatchPositions(first: 0, stride: 1)

    /// How far the mask index of every element of local sample `s` is shifted: its global position
    /// minus `s`, times the elements per sample.
    @inline(__always) func shift(sample s: Int, perSample: Int) -> Int { (first + s * (stride - 1)) * perSample }
}

/// Which elements dropout keeps: a decision that depends only on (key, index), so backward
/// recomputes it instead of storing a mask, and the pattern does not depend on threading.
/// 32-bit hash (lowbias32) of the index mixed with the key: integer ops that vectorise.
struct DropoutMask {
    let seed: UInt32, threshold: UInt32

    /// Drops with probability p; draw `key` from the run's RandomGenerator.
    init(p: Float, key: UInt64) {
        seed = UInt32(truncatingIfNeeded: key ^ (key >> 32))
        threshold = UInt32(min(Double(p) * 4_294_967_296, 4_294_967_295))
    }

    @inline(__always) func keeps(_ index: Int) -> Bool {
        var x = (UInt32(truncatingIfNeeded: index) &* 0x9E37_79B9) ^ seed
        x ^= x >> 16; x &*= 0x7FEB_352D; x ^= x >> 15; x &*= 0x846C_A68B; x ^= x >> 16
        return x >= threshold
    }

    /// `scale` where kept, 0 where dropped: a select (no branch), so mask loops vectorise.
    @inline(__always) func factor(_ index: Int, _ scale: Float) -> Float { keeps(index) ? scale : 0 }

    /// Splits `range` of a tensor with `perSample` elements per sample into its runs within one
    /// sample: `body(run, shift)`, element i of the run having mask index i + shift.
    @inline(__always) static func runs(_ range: Range<Int>, perSample: Int, positions: BatchPositions,
                                       _ body: (Range<Int>, Int) -> Void) {
        var start = range.lowerBound
        while start < range.upperBound {
            let s = start / perSample, end = min(range.upperBound, (s + 1) * perSample)
            body(start..<end, positions.shift(sample: s, perSample: perSample))
            start = end
        }
    }
}

import Foundation
