import Tensor

/// A2L masking (SPEC §3): non-overlapping spans of `spanLength` consecutive units covering
/// `ratio` of a window of T units (k = round(ratio·T / spanLength) spans, at least one), drawn
/// uniformly over all placements: the T − k·L unmasked units are split into k + 1 gaps by
/// choosing k of the T − k·L + k slots as span positions.
public struct SpanMasking: Codable, Equatable, Sendable {
    public var spanLength = 5
    public var ratio = 0.5
    public init() {}

    /// Spans of a window of `t` units.
    public func spanCount(_ t: Int) -> Int {
        min(t / spanLength, max(1, Int((ratio * Double(t) / Double(spanLength)).rounded())))
    }

    /// Start of each span, ascending; spans never overlap and lie inside 0..<t.
    public func draw(_ t: Int, rng: inout RandomGenerator) -> [Int] {
        let k = spanCount(t), slots = t - k * spanLength + k
        // k distinct slots out of `slots` (selection sampling, ascending)
        var chosen: [Int] = [], needed = k
        for s in 0..<slots where needed > 0 {
            if rng.int(below: slots - s) < needed { chosen.append(s); needed -= 1 }
        }
        // slot s_i preceded by i spans: the i-th span starts at s_i + i·(L − 1)
        return chosen.enumerated().map { $0.element + $0.offset * (spanLength - 1) }
    }

    /// Mask [t] (1 = masked) of the spans starting at `starts`.
    public func mask(_ t: Int, starts: [Int]) -> [Float] {
        var m = [Float](repeating: 0, count: t)
        for s in starts { for i in s..<(s + spanLength) { m[i] = 1 } }
        return m
    }
}
