import Common
import Dataset
import Face
import Foundation
import Models
import NN
import Tensor

/// Metrics of one system over a split (SPEC §4) against the real frames: PSNR and mouth PSNR of
/// the mean squared error pooled over all frames (so one frame identical to the truth does not make
/// the whole mean +∞; only a perfect system scores +∞), SSIM averaged over frames, and the mean over
/// clips of the sync distance and confidence from OUR sync encoder (not comparable with published
/// LSE-D / LSE-C), and LMD averaged over frames (nil without a landmark model).
public struct L2FScores: Codable, Equatable {
    public var psnr = 0.0, ssim = 0.0, mouthPSNR = 0.0
    public var syncDistance = 0.0, syncConfidence = 0.0
    public var lmd: Double?
}

/// Generated frames, the copy-the-reference baselines and the real video, scored alike. Like the
/// generator's output, a baseline keeps each target frame's visible upper half (the pose prior
/// both are given) and puts the reference frame's lower half below it: the reference as it is,
/// and moved onto the target by ReferenceAlignment (what a generator trained with aligned
/// references is given). The baselines and the real video are nil when they were not scored.
public struct L2FEvaluation: Codable, Equatable {
    public var split: String
    /// The speakers scored; nil = all.
    public var speakers: [String]?
    public var clips: Int, frames: Int
    public var generated: L2FScores, copyReference: L2FScores?, copyAlignedReference: L2FScores?
    /// Real video's own sync distance / confidence (its PSNR/SSIM fields are against itself: ∞ / 1).
    public var real: L2FScores?
    public var syncNote = "sync distance/confidence from our own sync encoder; not comparable with published LSE-D/LSE-C"
    public var lmdNote: String?

    /// A fixed-width table of the rows scored.
    public var table: String {
        func f(_ x: Double) -> String { x.isInfinite ? "inf" : String(format: "%.3f", x) }
        let who = speakers.map { ", speakers " + $0.joined(separator: ",") } ?? ""
        var lines = ["L2F evaluation on split '\(split)'\(who): \(clips) clips, \(frames) frames (\(syncNote))",
                     "system            PSNR    SSIM  mouth PSNR  sync dist  sync conf" + (generated.lmd == nil ? "" : "     LMD")]
        let rows = [("generated", generated), ("copy reference", copyReference), ("copy aligned", copyAlignedReference), ("real video", real)]
        for case let (name, s?) in rows {
            lines.append(name.padding(toLength: 14, withPad: " ", startingAt: 0)
                         + ([f(s.psnr), f(s.ssim), f(s.mouthPSNR), f(s.syncDistance), f(s.syncConfidence)] + (s.lmd.map { [f($0)] } ?? []))
                            .enumerated().map { $0.element.leftPad([8, 8, 12, 11, 11, 8][$0.offset]) }.joined())
        }
        if let lmdNote { lines.append(lmdNote) }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

/// Evaluates a generator on every clip of `split` ("all": any split) of `speakers` (nil: all), as
/// the run's `config` trained it: each clip is cut into windows of T frames (a remainder shorter
/// than T is dropped), each voiced from its audio with the run's context, the reference is the
/// clip's middle frame (moved onto each target frame first when the run aligned references), and the
/// sync offsets searched are ±min(15, (frames − 5)/2). With `landmarks`, LMD (SPEC §4) is the
/// mean over frames of the mean distance between the 20 mouth landmarks of a frame and of the
/// real frame, in pixels of the crop, each found in the fixed box `FaceLandmarks.cropBox`.
/// `baselines: false` scores the generated frames alone: the baselines and the real video are the
/// same for every checkpoint of a run, and cost three quarters of the scoring.
public func evaluateL2F(generator: Generator, lip: LipEncoder, sync: SyncEncoder, config: L2FCheckpoint.Use, data: ProcessedDataset, split: String, speakers: [String]? = nil,
                        landmarks: ShapePredictor? = nil, baselines: Bool = true) throws -> L2FEvaluation {
    let t = config.frames
    let clips = data.clips.filter {
        (split == "all" || $0.split == split) && (speakers?.contains($0.speaker) ?? true) && $0.rowCount >= max(t, 7)
    }
    guard !clips.isEmpty else {
        throw InputError(data.outFolder, "no clip of split '\(split)'\(speakers.map { " of speakers " + $0.joined(separator: ",") } ?? "") "
                         + "with at least \(max(t, 7)) frames")
    }
    let side = generator.config.imageSize, frameBytes = side * side * 3
    let ctx = Context(training: false)
    // per system (generated, then with baselines: copy reference, copy aligned reference, real):
    // Σ MSE, Σ mouth MSE, Σ SSIM over frames; Σ sync over clips
    let systemCount = baselines ? 4 : 1
    var mse = [Double](repeating: 0, count: systemCount), mouthMSE = mse, ssim = mse, distance = mse, confidence = mse, lmd = mse
    let landmarkBox = FaceLandmarks.cropBox(side: side)
    /// The landmarks of `frames` [N, side, side, 3] (one image when N = 1).
    func shapes(_ frames: [UInt8], _ predictor: ShapePredictor) -> [[SIMD2<Double>]] {
        (0..<(frames.count / frameBytes)).map { i in
            predictor.landmarks(in: RGBImage(width: side, height: side, pixels: Array(frames[(i * frameBytes)..<((i + 1) * frameBytes)])),
                                box: landmarkBox)
        }
    }
    var frameCount = 0
    for clip in clips {
        let n = clip.rowCount / t * t
        let rows = try clip.rows(0..<n)
        let units = try clip.audio(for: 0..<clip.rowCount, context: 0).mel     // the whole clip's audio, read once
        let middle = try clip.rows((clip.rowCount / 2)..<(clip.rowCount / 2 + 1)).frames
        let references = Array(repeatElement(middle, count: n).joined())
        lazy var aligned = ReferenceAlignment.aligned(references, to: rows.frames, side: side)   // only when used
        let given = config.alignReferences ? aligned : references     // what the generator was trained with
        var fake: [UInt8] = []
        for w in 0..<(n / t) {
            let window = (w * t * frameBytes)..<((w + 1) * t * frameBytes)
            let audio = WindowAudio(units: units, window: (w * t)..<((w + 1) * t), context: config.audioContext)
            fake += withoutGrad { () -> [UInt8] in
                let batch = L2FBatch.make(frames: [Array(rows.frames[window])], references: [Array(given[window])],
                                          audio: [audio], lip: lip([audio], ctx), alignReferences: false)
                return quantisedFrames(generator(batch.identity, lip: batch.lip, ctx))
            }
        }
        let videos = baselines ? [fake, pastingLowerHalves(of: references, under: rows.frames, side: side),
                                  pastingLowerHalves(of: aligned, under: rows.frames, side: side), rows.frames] : [fake]
        let maxOffset = min(15, (n - 5) / 2)
        if let landmarks {
            let real = shapes(rows.frames, landmarks)
            for (k, video) in videos.enumerated() {
                let shape = video == rows.frames ? real : shapes(video, landmarks)     // the real video: found once
                for i in 0..<n { lmd[k] += FaceLandmarks.meanDistance(shape[i], real[i]) }
            }
        }
        for (k, video) in videos.enumerated() {
            video.withUnsafeBufferPointer { videoPixels in rows.frames.withUnsafeBufferPointer { realPixels in
                for i in 0..<n {
                    let frame = (i * frameBytes)..<((i + 1) * frameBytes)
                    let a = UnsafeBufferPointer(rebasing: videoPixels[frame]), b = UnsafeBufferPointer(rebasing: realPixels[frame])
                    mse[k] += ImageMetrics.meanSquaredError(a, b, width: side, height: side)
                    ssim[k] += ImageMetrics.ssim(a, b, width: side, height: side)
                    mouthMSE[k] += ImageMetrics.meanSquaredError(a, b, width: side, height: side, region: .mouth(side: side))
                }
            } }
            let score = try OffsetSimilarities(model: sync, frames: video, mel: rows.mel, maxOffset: maxOffset,
                                               source: clip.id).score
            distance[k] += Double(score.distance)
            confidence[k] += Double(score.confidence)
        }
        frameCount += n
    }
    let (f, c) = (Double(frameCount), Double(clips.count))
    let means = (0..<systemCount).map { k in
        L2FScores(psnr: ImageMetrics.psnr(meanSquaredError: mse[k] / f), ssim: ssim[k] / f,
                  mouthPSNR: ImageMetrics.psnr(meanSquaredError: mouthMSE[k] / f),
                  syncDistance: distance[k] / c, syncConfidence: confidence[k] / c,
                  lmd: landmarks == nil ? nil : lmd[k] / f)
    }
    var result = L2FEvaluation(split: split, speakers: speakers, clips: clips.count, frames: frameCount, generated: means[0],
                               copyReference: baselines ? means[1] : nil, copyAlignedReference: baselines ? means[2] : nil,
                               real: baselines ? means[3] : nil)
    if landmarks != nil {
        result.lmdNote = "LMD: mean distance (px of the \(side)×\(side) crop) between mouth landmarks 49-68 of dlib's 68-point model"
            + " and those of the real frame, found in the fixed box x \(landmarkBox.x), y \(landmarkBox.y), side \(landmarkBox.width)"
    }
    return result
}

/// A copy-the-reference baseline: frames [N, S, S, 3] uint8 with rows S/2…S−1 of frame i
/// replaced by those of reference i (same layout, S even).
public func pastingLowerHalves(of references: [UInt8], under frames: [UInt8], side: Int) -> [UInt8] {
    let frameBytes = side * side * 3, half = frameBytes / 2
    precondition(references.count == frames.count && frames.count % frameBytes == 0,
                 "\(references.count) reference bytes for \(frames.count) bytes of \(side)×\(side) frames")
    var out = frames
    for start in stride(from: 0, to: frames.count, by: frameBytes) {
        out.replaceSubrange((start + half)..<(start + frameBytes), with: references[(start + half)..<(start + frameBytes)])
    }
    return out
}
