import Common
import Dataset
import Models

/// Offset accuracy of a sync encoder on a set of clips (SPEC §3 evaluation), window by window and
/// clip by clip.
public struct SyncAccuracy: Encodable {
    public var clips = 0, windows = 0
    /// Windows whose best audio window is the true one among 2M + 1.
    public var exact = 0.0
    /// Windows whose best audio window is within ±1 frame of the true one.
    public var withinOne = 0.0
    /// Exact, over the windows with speech in all five audio units only (`speechWindows`).
    public var speechExact = 0.0, speechWindows = 0
    /// Exact over runs of `contextWindows` consecutive windows, similarities summed (SyncNet's
    /// context protocol; 11 windows = 15 frames = 0.6 s), over the clips long enough for one run.
    public var contextExact = 0.0, contextRuns = 0
    public static let contextWindows = 11
    /// Clips whose mean-distance minimum (the sync-score offset) is at 0.
    public var clipOffsetCorrect = 0.0
    /// Mean over clips of the LSE-D / LSE-C style scores at the best offset.
    public var distance = 0.0, confidence = 0.0

    /// Scores `clips` (each at least 2M + 5 frames) with `model` in eval mode.
    public init(model: SyncEncoder, clips: [ProcessedDataset.Clip], maxOffset: Int) throws {
        for clip in clips {
            let rows = try clip.rows(0..<clip.rowCount)
            let s = try OffsetSimilarities(model: model, frames: rows.frames, mel: rows.mel, maxOffset: maxOffset, source: clip.id)
            let n = Double(s.centres.count), score = s.score
            exact += s.accuracy * n
            withinOne += s.accuracy(tolerance: 1) * n
            windows += s.centres.count
            let speech = s.speechWindows(mel: rows.mel)
            speechExact += s.accuracy(tolerance: 0, among: speech) * Double(speech.count)
            speechWindows += speech.count
            if let c = s.accuracy(context: Self.contextWindows) {
                let runs = s.centres.count - Self.contextWindows + 1
                contextExact += c * Double(runs)
                contextRuns += runs
            }
            clipOffsetCorrect += score.offset == 0 ? 1 : 0
            distance += Double(score.distance)
            confidence += Double(score.confidence)
            self.clips += 1
        }
        let w = Double(max(windows, 1)), c = Double(max(self.clips, 1))
        (exact, withinOne, clipOffsetCorrect, distance, confidence) = (exact / w, withinOne / w, clipOffsetCorrect / c, distance / c, confidence / c)
        speechExact /= Double(max(speechWindows, 1))
        contextExact /= Double(max(contextRuns, 1))
    }
}
