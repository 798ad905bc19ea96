import Foundation
import Models

/// The context experiments on fixed evaluation windows (SPEC context finding).
extension A2LEvaluationSet {
    /// Window curve: for w = 0…(T−1)/2 the audio outside ±w frames of the middle frame is zeroed
    /// and the unit error is scored at the middle frame only. Pretraining scores masked (zeroed)
    /// steps only by default, so the curve is measured twice: `masked` with the middle frame's own audio
    /// zeroed too (what the model was trained to predict: its unit from the context within ±w),
    /// and `withAudio` with it kept (the literal variant; an unmasked step is trained only with
    /// `scoredSteps = .all`).
    public func windowCurve(_ model: A2L) -> [(w: Int, masked: A2LScore, withAudio: A2LScore)] {
        let middle = (frames - 1) / 2
        let scored = (0..<frames).map { $0 == middle ? Float(1) : 0 }
        return (0...middle).map { w in
            let keep = (middle - w)...(middle + w)
            let zeroed = (0..<frames).map { keep.contains($0) ? Float(0) : 1 }
            var masked = zeroed
            masked[middle] = 1
            return (w, score(model, scored: { _ in scored }, zeroed: { _ in masked }),
                    score(model, scored: { _ in scored }, zeroed: { _ in zeroed }))
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

/// Where the window curve levels off: the first w whose error is within `tolerance` (relative)
/// of the curve's minimum.
public func levelOff(_ errors: [Double], tolerance: Double = 0.05) -> Int {
    guard let low = errors.min() else { return 0 }
    return errors.firstIndex { $0 <= (1 + tolerance) * low } ?? 0
}
