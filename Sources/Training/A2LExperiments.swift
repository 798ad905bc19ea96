import Foundation
import Models

/// The context experiments on fixed evaluation windows (SPEC context finding).
extension A2LEvaluationSet {
    /// Window curve: for w = 0…(T−1)/2, the audio outside ±w frames of the middle frame is
    /// zeroed and the unit error is scored at the middle frame only.
    public func windowCurve(_ model: A2L) -> [(w: Int, score: A2LScore)] {
        let middle = (frames - 1) / 2
        return (0...middle).map { w in
            let keep = (middle - w)...(middle + w)
            let zeroed = (0..<frames).map { keep.contains($0) ? Float(0) : 1 }
            let scored = (0..<frames).map { $0 == middle ? Float(1) : 0 }
            return (w, score(model, scored: { _ in scored }, zeroed: { _ in zeroed }))
        }
    }

    /// Gap test: `gap` consecutive frames centred in the window have their audio zeroed; the
    /// unit error is scored inside the gap.
    public func gapScore(_ model: A2L, gap: Int = 7) -> A2LScore {
        let first = (frames - gap) / 2
        let inGap = (0..<frames).map { (first..<(first + gap)).contains($0) ? Float(1) : 0 }
        return score(model, scored: { _ in inGap }, zeroed: { _ in inGap })
    }
}

/// The smallest w after which the curve stays within `tolerance` of its total fall: the first w
/// with error(w) − min ≤ tolerance · (error(0) − min) for it and every wider window.
public func levelOff(_ errors: [Double], tolerance: Double = 0.05) -> Int {
    guard let low = errors.min(), let first = errors.first else { return 0 }
    let limit = low + tolerance * (first - low)
    var w = errors.count - 1
    while w > 0 && errors[w - 1] <= limit { w -= 1 }
    return w
}
