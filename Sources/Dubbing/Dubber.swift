import AudioFeatures
import Common
import Face
import Foundation
import Media
import Models
import NN
import Tensor

/// What one `Dubber.dub` call did.
public struct DubSummary: Equatable, Sendable {
    public var out: String
    /// Output frames: the new speech's length at 25 fps.
    public var frames: Int
    /// Source frames played (forwards, then back and forth when the speech is longer).
    public var videoFrames: Int
    /// Output frames whose mouth was generated; the others passed through unchanged.
    public var faceFrames: Int
    /// Wall-clock seconds of the whole job (decode, track, generate, encode).
    public var seconds: Double
    /// Where those seconds went.
    public var times = DubTimes()

    public var passedThrough: Int { frames - faceFrames }
    public var framesPerSecond: Double { Double(frames) / max(seconds, 1e-9) }

    /// `dubbed out.mp4: 120 frames (4.80 s of speech) from 50 video frames; face in 118, 2 passed through unchanged; 9.1 s, 13.2 frames/s`
    public var line: String {
        String(format: "dubbed %@: %d frames (%.2f s of speech) from %d video frames; face in %d, %d passed through unchanged; %.1f s, %.1f frames/s",
               out, frames, Double(frames) / Double(MediaWriter.frameRate), videoFrames, faceFrames, passedThrough,
               seconds, framesPerSecond)
    }
}

/// Which face `Dubber` paints: the one the face stage keeps with `speaker: largest`, track
/// `index` of those `cals faces` lists (`FaceTrackSummary`), or per shot the one whose mouth moves
/// most in sync with the video's own audio, scored by the sync encoder checkpoint at
/// `syncCheckpoint` (the face stage's `speaker: active`).
public enum FaceChoice: Equatable, Sendable {
    case largest
    case track(Int)
    case active(syncCheckpoint: String)
}

/// Wall-clock seconds of each part of a dub, each measured on the thread that runs it. Parts on
/// different threads run at the same time (decoding beside tracking; decoding, the generator, and
/// paste-back with encoding beside each other), so they can add up to more than
/// `DubSummary.seconds`, which also holds audio decoding, mel and set-up.
public struct DubTimes: Equatable, Sendable {
    /// Video decoding, both passes.
    public var decode = 0.0
    /// Face detection, tracking and cropping.
    public var track = 0.0
    /// Lip units from the speech (A2L or the window encoder).
    public var lipUnits = 0.0
    /// The generator, reference alignment included.
    public var generate = 0.0
    /// Blending the generated faces back into the frames (and composing side-by-side panels).
    public var paste = 0.0
    /// H.264 + AAC encoding and muxing.
    public var encode = 0.0

    /// `time per part: decode 1.20 s, track 3.40 s, lip units 0.10 s, generator 5.00 s, paste-back 0.80 s, encode 2.00 s`
    public var line: String {
        String(format: "time per part: decode %.2f s, track %.2f s, lip units %.2f s, generator %.2f s, paste-back %.2f s, encode %.2f s",
               decode, track, lipUnits, generate, paste, encode)
    }

    /// Runs `body`, adding its wall-clock seconds to `part`.
    static func measure<T>(_ part: inout Double, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { part += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }
}

/// Puts new speech on a face video with a trained L2F run (`cals dub`):
///   speech (any file with audio) → 16 kHz mono → audio units [N, 80, 4] (N = its length at 25 fps)
///     → lip units [N, D] from the run's lip encoder (A2L), windows of T frames as in training
///   video → 25 fps frames (ping-pong to N when shorter) → face track + 128×128 crops
///   → generator on (reference crop ++ crop with lower half zeroed, lip unit), `batchSize` frames
///     at a time → lower half pasted back with a feathered mask through the inverse of the crop
///     transform (turned too with `crop_rotation`) → H.264 + the new speech as AAC.
/// The video is decoded twice (tracking, then output) so that only face crops stay in memory;
/// its frames are kept only when it is shorter than the speech and must play back and forth.
/// Decoding runs on a thread of its own in both passes, and the generator on another while the
/// calling thread pastes back and encodes (`Handoff`), so the cores are busy at once.
public final class Dubber {
    public let config: L2FCheckpoint.Use
    public let faceParameters: FaceParameters
    /// Frames per generator call (and windows per lip-encoder call).
    public var batchSize = 16
    /// The face to dub when the video shows several.
    public var face = FaceChoice.largest
    /// With `FaceChoice.active`: how every face track of the last dubbed video scored.
    public private(set) var trackScores: [TrackScore] = []
    let generator: Generator
    let lip: LipEncoder
    let detector: any FaceDetecting
    let context = Context(training: false)

    /// Loads the generator and lip encoder of the L2F checkpoint at `checkpoint`; faces are
    /// tracked and cropped with `faceParameters` (use those the run's dataset was made with).
    public init(checkpoint: String, faceParameters: FaceParameters = FaceParameters()) throws {
        (config, generator, lip) = try L2FCheckpoint.load(checkpoint)
        let side = generator.config.imageSize
        guard side == faceParameters.cropSize else {
            throw InputError(checkpoint, "generator makes \(side)×\(side) faces but the face crops are "
                             + "\(faceParameters.cropSize)×\(faceParameters.cropSize)")
        }
        self.faceParameters = faceParameters
        detector = try faceParameters.detector.makeDetector()
    }

    /// x264 settings of the output: the fastest preset (at veryfast the encoder took as long as
    /// the generator), at a CRF that keeps the PSNR against the frames at least that of veryfast
    /// at CRF 18, the writer's default.
    static let outputPreset = "ultrafast", outputCRF = 20

    /// The panels of a side-by-side output, left to right.
    public static let panelLabels = ["real", "copy the reference", "generated"]

    /// Dubs `video` with the speech of `speech` into `out` (written under a temporary name and
    /// renamed when complete; nothing is left behind on failure). With `sideBySide` each output
    /// frame is three labelled panels instead (`panelLabels`): the source frame as it is, the
    /// copy-the-reference baseline (the face's reference crop pasted back as the generated one
    /// is) and the dubbed frame. `progress` makes a progress reporter for a phase (label, total
    /// frames).
    public func dub(video: String, speech: String, out: String, sideBySide: Bool = false,
                    progress: (String, Int) -> Common.Progress? = { _, _ in nil }) throws -> DubSummary {
        let start = Date()
        let audio = try decodeAudio(path: speech, sampleRate: MelSpectrogram.sampleRate)
        let samplesPerFrame = MelSpectrogram.sampleRate / MediaWriter.frameRate
        let n = (audio.samples.count + samplesPerFrame - 1) / samplesPerFrame
        guard n > 0 else { throw InputError(speech, "the audio stream has no samples") }
        let units = try MelSpectrogram().audioUnits(audio, videoFrameCount: n)   // [N, 80, 4]
        var times = DubTimes()
        let lipUnits = DubTimes.measure(&times.lipUnits) { self.lipUnits(units, frames: n) }   // [N, D]
        let track = try self.track(video, upTo: n, times: &times, progress: progress("dub: track", n))
        let source = try SourceFrames(path: video, count: track.faces.count, keep: track.faces.count < n)

        let panels = sideBySide ? Dubber.panelLabels.count : 1
        let writer = try MediaWriter(path: out, width: panels * source.decoder.width, height: source.decoder.height,
                                     audioSampleRate: MelSpectrogram.sampleRate, quality: Dubber.outputCRF,
                                     preset: Dubber.outputPreset)
        try writer.appendAudio(audio.samples)
        // Three threads at once: the source frames are decoded ahead (`frames`), the generator
        // works ahead on a second (`generated`), and this one pastes back and encodes. The
        // decoding and generator times are added up on their threads and read here once the last
        // frame has gone through.
        var decodeTime = 0.0, generateTime = 0.0
        let faces = track.faces, references = track.references   // [video frames], crops by segment
        let frames = Handoff<RGBImage>(name: "cals.dub.decode", depth: batchSize) { put in
            for i in 0..<n {
                try put(try DubTimes.measure(&decodeTime) { try source.frame(Dubber.pingPong(i, count: faces.count)) })
            }
        }
        let side = generator.config.imageSize, d = generator.config.lipDim
        let batches = stride(from: 0, to: n, by: batchSize).map { $0..<min(n, $0 + batchSize) }   // output frames
        // Per batch: the generated faces [K, S, S, 3] of its K frames with a face. The thread runs
        // with this one's engine settings (its own would be the defaults).
        let settings = Engine.settings
        let generated = Handoff<[UInt8]>(name: "cals.dub.generate", depth: 2) { [self] put in
            try Engine.withSettings(settings) {
                for rows in batches {
                    let batch = rows.map { faces[Dubber.pingPong($0, count: faces.count)] }
                    var lipRows = [Float]()
                    for (i, face) in zip(rows, batch) where face != nil { lipRows += lipUnits[(i * d)..<((i + 1) * d)] }
                    try put(DubTimes.measure(&generateTime) { generate(batch.compactMap { $0 }, references: references, lip: lipRows) })
                }
            }
        }
        let reporter = progress("dub: generate", n)
        var faceFrames = 0
        for rows in batches {
            guard let crops = try generated.next() else { throw InputError(video, "the generator stopped early") }
            var k = 0
            for i in rows {
                guard let real = try frames.next() else { throw InputError(video, "frames missing on the second decoding pass") }
                let output = try DubTimes.measure(&times.paste) { () throws -> RGBImage in
                    var frame = real, copied = real
                    if let face = faces[Dubber.pingPong(i, count: faces.count)] {
                        let crop = RGBImage(width: side, height: side,
                                            pixels: Array(crops[(k * side * side * 3)..<((k + 1) * side * side * 3)]))
                        try frame.blendLowerHalf(of: crop, into: face.cropRegion)
                        if sideBySide {
                            let reference = RGBImage(width: side, height: side, pixels: references[face.segment]!)
                            try copied.blendLowerHalf(of: reference, into: face.cropRegion)
                        }
                        k += 1
                    }
                    return sideBySide ? try .sideBySide([real, copied, frame], labels: Dubber.panelLabels) : frame
                }
                try DubTimes.measure(&times.encode) { try writer.append(output) }
            }
            faceFrames += k
            reporter?.advance(by: rows.count)
        }
        try DubTimes.measure(&times.encode) { try writer.finish() }
        reporter?.finish()
        times.decode += decodeTime
        times.generate += generateTime
        return DubSummary(out: out, frames: n, videoFrames: track.faces.count, faceFrames: faceFrames,
                          seconds: Date().timeIntervalSince(start), times: times)
    }

    /// The generator's faces [K, S, S, 3] uint8 for K tracked faces and their lip units [K, D]:
    /// identity input = the face's segment reference (moved onto the crop if the run was trained
    /// so) ++ its crop with the lower half zeroed.
    func generate(_ faces: [TrackedFrame], references: [Int: [UInt8]], lip: [Float]) -> [UInt8] {
        guard !faces.isEmpty else { return [] }
        let targets = Array(faces.map(\.crop.pixels).joined())
        var refs = Array(faces.map { references[$0.segment]! }.joined())
        if config.alignReferences { refs = ReferenceAlignment.aligned(refs, to: targets, side: generator.config.imageSize) }
        return withoutGrad {
            let identity = targets.withUnsafeBufferPointer { t in
                refs.withUnsafeBufferPointer { Generator.identityInput(target: t, reference: $0, size: generator.config.imageSize) }
            }
            let lipUnits = Tensor(shape: [faces.count, generator.config.lipDim], values: lip)
            return quantisedFrames(generator(identity, lip: lipUnits, context))                // [K, S, S, 3]
        }
    }

    /// Lip units [N, D] of audio units [N, 80, 4], as training and evaluation make them: the lip
    /// encoder over windows of T = config.frames units, each with the run's audio context on both
    /// sides (within 0 ..< N). Windows start at 0, T, 2T, …; the last one is moved back to end at
    /// N (overlapping its predecessor, whose units it replaces there), and speech shorter than T
    /// is one window.
    func lipUnits(_ units: [Float], frames n: Int) -> [Float] {
        let t = min(config.frames, n), d = generator.config.lipDim
        let starts = stride(from: 0, to: n, by: t).map { min($0, n - t) }
        var out = [Float](repeating: 0, count: n * d)
        for chunk in stride(from: 0, to: starts.count, by: batchSize) {
            let windows = Array(starts[chunk..<min(starts.count, chunk + batchSize)])
            let audio = windows.map { WindowAudio(units: units, window: $0..<($0 + t), context: config.audioContext) }
            let values = withoutGrad { lip(audio, context).values }                 // [B·T, D]
            for (w, s) in windows.enumerated() {
                out.replaceSubrange((s * d)..<((s + t) * d), with: values[(w * t * d)..<((w + 1) * t * d)])
            }
        }
        return out
    }

    /// The source frame shown at output frame `i` when a video of `count` frames plays forwards,
    /// backwards, forwards, … (0 1 2 3 2 1 0 1 …; the turning frames are not repeated).
    public static func pingPong(_ i: Int, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let period = 2 * (count - 1), k = i % period
        return k < count ? k : period - k
    }

    /// The face of each of the first `limit` frames of a video (nil where none was tracked) and a
    /// reference crop per face segment (the segment's middle frame, as evaluation uses the clip's
    /// middle frame). Holds crops only, not frames.
    struct FaceTrack {
        var faces: [TrackedFrame?] = []
        var references: [Int: [UInt8]] = [:]
    }

    func track(_ path: String, upTo limit: Int, times: inout DubTimes, progress: Common.Progress?) throws -> FaceTrack {
        let decoder = try VideoDecoder(path: path)
        var wanted: Int? = nil
        var parameters = faceParameters
        var selection: ActiveSpeakerSelection? = nil
        switch face {
        case .largest: break
        case .track(let index):
            wanted = index
            parameters = faceParameters.trackingAllFaces
        case .active(let checkpoint):
            parameters = faceParameters.trackingAllFaces
            selection = try Self.activeSpeakerSelection(video: path, checkpoint: checkpoint)
        }
        let tracker = try FaceTrackProcessor(detector: detector, parameters: parameters)
        progress?.setTotal(min(limit, max(1, decoder.estimatedFrameCount)))
        // Frames are decoded, and their analysis copies for the detector made, on a thread of its
        // own, ahead of the tracker. `decodeTime` and `analyseTime` are added up there and read
        // here after the last frame.
        var decodeTime = 0.0, analyseTime = 0.0
        let analysisSide = parameters.detectionLongSide
        let frames = Handoff<FaceFrame>(name: "cals.dub.decode", depth: 8) { put in
            for _ in 0..<limit {
                guard let frame = try DubTimes.measure(&decodeTime, { try decoder.nextFrame() }) else { return }
                try put(DubTimes.measure(&analyseTime) { try FaceFrame(frame, analysisLongSide: analysisSide) })
            }
        }
        var track = FaceTrack()
        func keep(_ tracked: [TrackedFrame]) throws {
            for face in try selection?.push(tracked) ?? tracked where wanted == nil || face.segment == wanted {
                track.faces[face.index] = face
            }
        }
        while let frame = try frames.next() {
            track.faces.append(nil)
            try keep(try DubTimes.measure(&times.track) { try tracker.push(frame) })
            progress?.advance()
        }
        try keep(try DubTimes.measure(&times.track) { try tracker.finish() })
        if let selection {
            for face in try selection.finish() { track.faces[face.index] = face }
            trackScores = selection.scores
        }
        times.decode += decodeTime
        times.track += analyseTime
        progress?.finish()
        guard !track.faces.isEmpty else { throw InputError(path, "no video frames") }
        let segments = Dictionary(grouping: track.faces.compactMap { $0 }, by: \.segment)
        guard !segments.isEmpty else {
            let part = track.faces.count == limit ? " of the first \(limit) (the speech's length)" : ""
            if let wanted { throw InputError(path, "no face track \(wanted) in the frames\(part) (`cals faces` lists them)") }
            throw InputError(path, "no face found in \(faceParameters.minSegmentLength) or more consecutive frames\(part)")
        }
        for (segment, faces) in segments { track.references[segment] = faces[faces.count / 2].crop.pixels }
        return track
    }
}

extension Dubber {
    /// The selection of the speaking face among the face tracks of `video`: each scored against
    /// the video's own audio by the sync encoder at `checkpoint`.
    static func activeSpeakerSelection(video: String, checkpoint: String) throws -> ActiveSpeakerSelection {
        let model = try SyncEncoder.load(checkpoint: checkpoint)
        let audio = try decodeAudio(path: video, sampleRate: MelSpectrogram.sampleRate)
        guard audio.sampleRate == MelSpectrogram.sampleRate else { throw MelError.sampleRate(audio.sampleRate) }
        let logMel = MelSpectrogram().logMel(audio.samples)
        return ActiveSpeakerSelection { tracked in
            let indices = tracked.map(\.index)
            // Audio units up to the track's last frame ([N, 80, 4]; past the audio's end, silence).
            let units = MelSpectrogram.audioUnits(logMel: logMel, videoFrameCount: (indices.max() ?? 0) + 1)
            return try SyncScore.track(model, crops: tracked.map(\.crop.pixels), frameIndices: indices, units: units, source: video)
        }
    }
}

/// The first `count` frames of a video, decoded a second time in order (after tracking), for
/// output in ping-pong order: frames are kept in memory only when `keep` (the video plays back
/// because the speech is longer), otherwise each is dropped once written.
final class SourceFrames {
    let decoder: VideoDecoder
    let count: Int
    let keep: Bool
    private var kept: [RGBImage] = []

    init(path: String, count: Int, keep: Bool) throws {
        decoder = try VideoDecoder(path: path)
        (self.count, self.keep) = (count, keep)
    }

    /// Frame `index`: the next one in decoding order, or (when kept) any one decoded before.
    func frame(_ index: Int) throws -> RGBImage {
        if index < kept.count { return kept[index] }
        guard index == decoder.frameIndex, index < count, let frame = try decoder.nextFrame() else {
            throw InputError(decoder.path, "frame \(index) is not there on the second decoding pass")
        }
        if keep { kept.append(frame) }
        return frame
    }
}
