import Common
import Foundation
import NN
import Tensor

/// Sync distance and confidence of one clip in the manner of LSE-D / LSE-C (SPEC §4), from OUR
/// sync encoder, so the values are not comparable with published SyncNet numbers.
/// Offset convention: offset k means the audio matching video frame t is at t + k (the audio is
/// late by k frames).
public struct SyncScore: Equatable {
    /// The offset with the smallest mean distance.
    public let offset: Int
    /// LSE-D style: mean Euclidean distance between embeddings at `offset`.
    public let distance: Float
    /// LSE-C style: median − minimum of the mean distances over all offsets.
    public let confidence: Float
    /// Mean distance at offsets −M…M.
    public let meanDistances: [Float]
    /// Median of `meanDistances`: both confidences are measured down from it.
    public let medianDistance: Float

    /// The score of mean distances at offsets −M…M (2M + 1 values, M ≥ 0).
    public init(meanDistances mean: [Float]) {
        precondition(mean.count % 2 == 1, "mean distances are not at offsets −M…M")
        let best = mean.indices.min { mean[$0] < mean[$1] }!
        offset = best - mean.count / 2
        distance = mean[best]
        medianDistance = mean.sorted()[mean.count / 2]
        confidence = medianDistance - mean[best]
        meanDistances = mean
    }

    /// Offsets searched, ±frames, when a face track is scored (`track`): narrower than `cals
    /// sync-score`'s ±15, so that a short shot still pools many windows (a track of T frames has
    /// T − 4 − 2M), which steadies the median distance the confidence is measured from.
    public static let trackOffsets = 7

    /// Window count at which a track's confidence counts half (`trackConfidence`).
    public static let trackWindowPrior = 10.0

    /// LSE-C style confidence at offset 0: median − distance at offset 0 of the mean distances.
    /// Positive when the audio fits the mouth better in sync than off it; near 0 or below for a
    /// mouth that moves with other speech.
    public var confidenceInSync: Float {
        medianDistance - meanDistances[meanDistances.count / 2]
    }

    /// How surely a face track speaks the audio, from its score over `windows` speech windows:
    /// the confidence in sync (offset 0, not the best offset: a face whose mouth moves with other
    /// speech still finds its best offset somewhere among ±M by chance), shrunk towards 0 by
    /// windows / (windows + `trackWindowPrior`), since over few windows it is mostly noise (its
    /// windows overlap by 4 of 5 frames) and a short broken-off track would otherwise beat a long one.
    public static func trackConfidence(_ score: SyncScore, windows: Int) -> Double {
        let w = Double(windows)
        return Double(score.confidenceInSync) * w / (w + trackWindowPrior)
    }

    /// The score of one face track (the active speaker, `speaker: active`): its crops (each
    /// 128×128×3, in frame order) against the audio units of its frames (`frameIndices` into
    /// `units`, [N, 80, 4] for the whole video), at offsets ±min(`trackOffsets`, (T − 5) / 2) for
    /// T frames, over the windows with speech only (`OffsetSimilarities.speechWindows`: in silence
    /// every face's mouth matches the audio alike): `trackConfidence` and the best offset. Nil when
    /// the track is too short for ±1 (fewer than 7 frames) or has no speech window.
    public static func track(_ model: SyncEncoder, crops: [[UInt8]], frameIndices: [Int], units: [Float],
                             source: String) throws -> (confidence: Double, offset: Int)? {
        precondition(crops.count == frameIndices.count, "one frame index per crop")
        let unitSize = 80 * 4, cropSize = 128 * 128 * 3
        let m = min(trackOffsets, (crops.count - 5) / 2)
        guard m >= 1 else { return nil }
        guard let last = frameIndices.max(), frameIndices.allSatisfy({ $0 >= 0 }), (last + 1) * unitSize <= units.count else {
            throw InputError(source, "face track frames \(frameIndices.min() ?? 0)-\(frameIndices.max() ?? 0) lie outside the audio's \(units.count / unitSize) units")
        }
        var frames: [UInt8] = [], mel: [Float] = []
        frames.reserveCapacity(crops.count * cropSize)
        mel.reserveCapacity(crops.count * unitSize)
        for (crop, index) in zip(crops, frameIndices) {
            guard crop.count == cropSize else { throw InputError(source, "face crops are \(crop.count) bytes; the sync encoder reads 128×128×3") }
            frames += crop
            mel += units[(index * unitSize)..<((index + 1) * unitSize)]
        }
        let similarities = try OffsetSimilarities(model: model, frames: frames, mel: mel, maxOffset: m, source: source)
        let speech = similarities.speechWindows(mel: mel)
        guard !speech.isEmpty else { return nil }
        let score = similarities.score(among: speech)
        return (trackConfidence(score, windows: speech.count), score.offset)
    }

    /// The score of windows pooled from several scored parts (blocks of a long clip, segments
    /// of an item): their mean distances weighted by their window counts. Nil without windows.
    public static func pooled(_ parts: [(meanDistances: [Float], windows: Int)]) -> SyncScore? {
        let scored = parts.filter { $0.windows > 0 }
        let total = scored.reduce(0) { $0 + $1.windows }
        guard let k = scored.first?.meanDistances.count else { return nil }
        var mean = [Float](repeating: 0, count: k)
        for part in scored {
            precondition(part.meanDistances.count == k, "pooled parts have different offset ranges")
            for j in 0..<k { mean[j] += part.meanDistances[j] * Float(part.windows) / Float(total) }
        }
        return SyncScore(meanDistances: mean)
    }
}

/// Cosine similarities between every scorable video window of a clip and the audio windows at
/// offsets −M…M. A video window centred on t is scorable when the audio windows t−M … t+M lie
/// inside the clip with their ±2 units: M + 2 ≤ t ≤ T − 3 − M.
public struct OffsetSimilarities {
    public let maxOffset: Int
    public let centres: [Int]
    /// [W, 2M + 1]: cosines[w·(2M+1) + M + k] = cos(video(centres[w]), audio(centres[w] + k))
    public let cosines: [Float]

    /// Fewest frames a clip needs for ±M.
    public static func minimumFrames(maxOffset m: Int) -> Int { 2 * m + 5 }

    /// Embeds the clip (frames [T, 128, 128, 3], units [T, 80, 4]) in eval mode, `chunk` windows at a time.
    public init(model: SyncEncoder, frames: [UInt8], mel: [Float], maxOffset m: Int, source: String, chunk: Int = 64) throws {
        let t = frames.count / (128 * 128 * 3)
        guard t >= Self.minimumFrames(maxOffset: m) else {
            throw InputError(source, "clip of \(t) frames is too short for offsets ±\(m): needs at least \(Self.minimumFrames(maxOffset: m)) frames")
        }
        let audioCentres = Array(2...(t - 3)), videoCentres = Array((m + 2)...(t - 3 - m))
        let ctx = Context(training: false)
        let audio = mel.withUnsafeBufferPointer { u in
            embedInChunks(audioCentres, chunk) { model.embedAudio(SyncEncoder.audioInput(mel: u, centres: $0), ctx) }
        }
        let video = frames.withUnsafeBufferPointer { embedVisualInChunks(model, frames: $0, centres: videoCentres, chunk: chunk) }
        let d = model.config.outputDim, k = 2 * m + 1
        var cosines = [Float](repeating: 0, count: videoCentres.count * k)
        for (w, c) in videoCentres.enumerated() {
            for j in 0..<k {
                let a = (c - m + j - 2) * d, v = w * d   // audio row of centre c − m + j
                var dot: Float = 0
                for i in 0..<d { dot += video[v + i] * audio[a + i] }
                cosines[w * k + j] = dot
            }
        }
        self.init(maxOffset: m, centres: videoCentres, cosines: cosines)
    }

    /// Similarities already computed (cosines [centres.count, 2M + 1]).
    public init(maxOffset: Int, centres: [Int], cosines: [Float]) {
        precondition(cosines.count == centres.count * (2 * maxOffset + 1), "cosines are not [\(centres.count), \(2 * maxOffset + 1)]")
        self.maxOffset = maxOffset
        self.centres = centres
        self.cosines = cosines
    }

    /// Fraction of windows whose most similar audio window is at offset 0 (chance 1 / (2M + 1)).
    public var accuracy: Double { accuracy(tolerance: 0) }

    /// Fraction of windows whose most similar audio window is within ±`tolerance` frames of offset
    /// 0 (SyncNet's paper counts ±1 as correct); only the windows `among` (indices into `centres`)
    /// when given.
    public func accuracy(tolerance: Int, among: [Int]? = nil) -> Double {
        let k = 2 * maxOffset + 1, windows = among ?? Array(centres.indices)
        let hits = windows.filter { w in abs(Self.argmax(cosines[(w * k)..<((w + 1) * k)]) - maxOffset) <= tolerance }.count
        return Double(hits) / Double(max(windows.count, 1))
    }

    /// Exact accuracy with SyncNet's context protocol: the similarities of `context` consecutive
    /// windows (a context of `context` + 4 frames) are summed per offset before the argmax, for
    /// every run of that many windows; 1 = `accuracy`. Nil when the clip has fewer windows.
    public func accuracy(context: Int) -> Double? {
        let k = 2 * maxOffset + 1, runs = centres.count - context + 1
        guard context >= 1, runs >= 1 else { return nil }
        var sum = [Float](repeating: 0, count: k), hits = 0
        for w in 0..<centres.count {
            for j in 0..<k { sum[j] += cosines[w * k + j] }
            if w >= context { for j in 0..<k { sum[j] -= cosines[(w - context) * k + j] } }
            if w >= context - 1 && Self.argmax(sum[...]) == maxOffset { hits += 1 }
        }
        return Double(hits) / Double(runs)
    }

    private static func argmax(_ row: ArraySlice<Float>) -> Int {
        row.indices.max { row[$0] < row[$1] }! - row.startIndex
    }

    /// Indices of the windows whose five audio units all carry speech: each unit's loudest mel bin
    /// within 40 dB (4 in log10 units) of the clip's loudest. In silence every offset looks alike,
    /// so no encoder can pick the true one there.
    public func speechWindows(mel: [Float]) -> [Int] {
        let unit = 80 * 4, t = mel.count / unit
        let loudest = (0..<t).map { u in mel[(u * unit)..<((u + 1) * unit)].max()! }
        let floor = loudest.max()! - 4
        return centres.indices.filter { w in (centres[w] - 2...centres[w] + 2).allSatisfy { loudest[$0] >= floor } }
    }

    /// Distances √(2 − 2cos) (embeddings are unit vectors) averaged over windows per offset.
    public var score: SyncScore { score(among: Array(centres.indices)) }

    /// The same over the windows `among` only (indices into `centres`).
    public func score(among windows: [Int]) -> SyncScore {
        let k = 2 * maxOffset + 1
        var mean = [Float](repeating: 0, count: k)
        for w in windows { for j in 0..<k { mean[j] += max(0, 2 - 2 * cosines[w * k + j]).squareRoot() } }
        return SyncScore(meanDistances: mean.map { $0 / Float(max(windows.count, 1)) })
    }
}
