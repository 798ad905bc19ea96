import AudioFeatures
import Common
import Face
import Foundation
import Media
import Yams

/// The stages of a manifest, in pipeline order, with their parameters.
public struct PipelineStages: Sendable {
    public static let order = [DecodeStage.name, FaceStage.name, MelStage.name, AlignStage.name, ShardStage.name]

    public var decode = DecodeStage()
    public var face = FaceStage()
    public var mel = MelStage()
    public var align = AlignStage()
    public var shard = ShardStage()
    /// Optional, after `shard`: lip units from a sync encoder over the finished frame shards
    /// (keyed by its checkpoint, so it never re-keys the frame stages).
    public var lipUnits: LipUnitsStage?

    public init() {}

    /// Reads the `stages:` list: one single-key mapping per stage (`- face: {chin_margin: 0.2}`),
    /// every stage of `order` once and in that order.
    init(_ node: Node, file: String) throws {
        guard let list = node.sequence else {
            throw ManifestError(file, YAMLMapping.line(node), "manifest: key 'stages' must be a list")
        }
        var names: [String] = []
        for entry in list {
            guard let mapping = entry.mapping, mapping.count == 1, let name = mapping.keys.first?.string else {
                throw ManifestError(file, YAMLMapping.line(entry), "stages: each entry must be '- <stage>: {parameters}'")
            }
            let parameters = mapping.values.first
            let context = "stage '\(name)' parameters"
            if name == LipUnitsStage.name && names.count == PipelineStages.order.count && lipUnits == nil {
                let p = try decodeParameters(LipUnitsStage.Parameters.self, from: parameters, file: file, context: context)
                guard !p.checkpoint.isEmpty else {
                    throw ManifestError(file, YAMLMapping.line(entry), "\(context): 'checkpoint' is required")
                }
                lipUnits = LipUnitsStage(parameters: p)
                continue
            }
            guard names.count < PipelineStages.order.count, name == PipelineStages.order[names.count] else {
                let expected = PipelineStages.order.joined(separator: ", ")
                throw ManifestError(file, YAMLMapping.line(entry),
                                    "stages: unexpected stage '\(name)' (the stages are \(expected), in this order)")
            }
            switch name {
            case DecodeStage.name:
                let limit = try decodeParameters(DamageBound.self, from: parameters, file: file, context: context)
                guard (0...1).contains(limit.maxDamagedFraction) else {
                    throw ManifestError(file, YAMLMapping.line(parameters), "\(context): 'max_damaged_fraction' must be between 0 and 1")
                }
                decode = DecodeStage(damageLimit: limit)
            case FaceStage.name:
                let p = try FaceStage.readParameters(parameters, file: file, context: context)
                do { try p.validate() } catch {
                    throw ManifestError(file, YAMLMapping.line(parameters), "\(context): \(error)")
                }
                face = FaceStage(parameters: p)
            case MelStage.name: mel = MelStage(parameters: try decodeParameters(NoParameters.self, from: parameters, file: file, context: context))
            case AlignStage.name: align = AlignStage(parameters: try decodeParameters(NoParameters.self, from: parameters, file: file, context: context))
            default: shard = ShardStage(parameters: try decodeParameters(NoParameters.self, from: parameters, file: file, context: context))
            }
            names.append(name)
        }
        if names.count < PipelineStages.order.count {
            throw ManifestError(file, YAMLMapping.line(node),
                                "stages: missing stage '\(PipelineStages.order[names.count])' (the stages are \(PipelineStages.order.joined(separator: ", ")))")
        }
    }

    /// (stage name, output key) in order for an input with this content fingerprint.
    public func keys(fingerprint: String) -> [(stage: String, key: String)] {
        var out: [(stage: String, key: String)] = []
        var key = fingerprint
        for (name, next) in [(DecodeStage.name, decode.key(input:)), (FaceStage.name, face.key(input:)),
                             (MelStage.name, mel.key(input:)), (AlignStage.name, align.key(input:)),
                             (ShardStage.name, shard.key(input:))] {
            key = next(key)
            out.append((name, key))
        }
        return out
    }

    /// Every stage's version and parameters, as stored in output attributes:
    /// `{"decode": {"version": 1, "parameters": {...}}, ...}` (keys sorted).
    public var description: String {
        let parts = [(DecodeStage.name, DecodeStage.version, decode.parametersJSON),
                     (FaceStage.name, FaceStage.version, face.parametersJSON),
                     (MelStage.name, MelStage.version, mel.parametersJSON),
                     (AlignStage.name, AlignStage.version, align.parametersJSON),
                     (ShardStage.name, ShardStage.version, shard.parametersJSON)]
        return "{" + parts.map { "\"\($0.0)\": {\"version\": \($0.1), \"parameters\": \($0.2)}" }
            .joined(separator: ", ") + "}"
    }
}

/// The rows one video gives: every kept face frame with its crop, audio unit, box and segment.
public struct ItemOutput: Sendable {
    public var cropSize: Int
    /// N crops of S×S RGB, S = cropSize, spooled on disk (read a row with `crops.crop(row)`).
    public var crops: CropSpool
    /// [N, 80, 4] float32: the audio unit of each row.
    public var mel: [Float]
    /// [N, 4] int32: smoothed face box (x, y, width, height) in source pixels.
    public var boxes: [Int32]
    /// [N] int32: segment number (0, 1, … in order).
    public var segments: [Int32]
    /// [N] int64: the row's frame on the source's 25 fps timeline (shards' `frame_index`); for an
    /// interval item (`SourceItem.frames`), counted from the interval's first frame.
    public var frameIndices: [Int64]
    /// 25 fps frames decoded from the source (kept or not).
    public var decodedFrameCount: Int
    /// Packets read and packets that failed to decode, per stream.
    public var videoDamage = StreamDamage()
    public var audioDamage = StreamDamage()

    public var rowCount: Int { segments.count }
    /// Bytes of frames + mel (what the shard target size counts).
    public var byteCount: Int { rowCount * cropSize * cropSize * 3 + mel.count * 4 }

    /// (segment, first row, row count) for each segment, in row order.
    public var segmentRanges: [RowRange] {
        var out: [RowRange] = []
        for (row, s) in segments.enumerated() {
            if let last = out.last, last.segment == Int(s) { out[out.count - 1].rowCount += 1 } else {
                out.append(RowRange(segment: Int(s), firstRow: row, rowCount: 1))
            }
        }
        return out
    }
}

/// Which stage an item failed in, and why (the one-line `InputError` reason).
public struct StageFailure: Error, CustomStringConvertible {
    public let stage: String
    public let error: Error
    public var description: String { "\(error)" }
}

/// An item that took longer than its time limit: a reason that may pass (a raised
/// `item_time_limit` retries it), unlike the `InputError`s of a bad file.
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public let path: String
    public let seconds: Double
    public var description: String { "\(path): took longer than the time limit of \(Int(seconds)) s" }
}

/// Runs decode → face (+crop) → mel → align on one video: the single per-item path used by
/// both `cals extract` and the preprocess runner. Owns a face detector and a mel transform, so
/// use one per thread.
public final class ItemPipeline {
    public let stages: PipelineStages
    /// Where the crops of an item wait on disk until the item is done (see `CropSpool`).
    public let spoolFolder: String
    private let detector: any FaceDetecting
    private let melSpectrogram = MelSpectrogram()

    public init(stages: PipelineStages, spoolFolder: String = NSTemporaryDirectory()) throws {
        self.stages = stages
        self.spoolFolder = spoolFolder
        detector = try stages.face.makeDetector()
    }

    /// Processes `path`, giving up with `TimeLimitExceeded` after `timeLimit` seconds. Errors
    /// are `StageFailure`s naming the stage; an `EnvironmentError` (the spool's disk) is thrown
    /// as it is, since it is no fault of the item. Audio decoding and mel run on a second thread
    /// while the video is decoded and tracked. The crops go to an unlinked spool in
    /// `spoolFolder`, or to a new file at `spoolPath` that stays (a worker's item file).
    /// `frames`: only those 25 fps timeline frames of the file and their audio (an interval item).
    public func process(_ path: String, frames: Range<Int>? = nil, timeLimit: TimeInterval,
                        spoolPath: String? = nil) throws -> ItemOutput {
        let deadline = Date().addingTimeInterval(timeLimit)
        let fail = StageFailure.init(stage:error:)

        let decoder: VideoDecoder
        do { decoder = try stages.decode.openVideo(path, frames: frames, timeLimit: timeLimit) } catch { throw fail(DecodeStage.name, error) }

        // Audio → log-mel beside the video loop.
        let audio = AudioTask(path: path, frames: frames, stages: stages, mel: melSpectrogram, timeLimit: timeLimit)
        defer { audio.wait() }

        let tracker: FaceTrackProcessor
        do { tracker = try stages.face.tracker(detector: detector) } catch { throw fail(FaceStage.name, error) }
        let cropSize = stages.face.parameters.cropSize
        let spool = try spoolPath.map { try CropSpool(creating: $0, size: cropSize) }
            ?? CropSpool(folder: spoolFolder, size: cropSize)
        var out = ItemOutput(cropSize: cropSize, crops: spool, mel: [], boxes: [], segments: [], frameIndices: [],
                             decodedFrameCount: 0)
        func keep(_ tracked: [TrackedFrame]) throws {
            for t in tracked {
                try out.crops.append(t.crop)
                out.boxes += [t.box.x, t.box.y, t.box.width, t.box.height]
                out.segments.append(Int32(t.segment))
                out.frameIndices.append(Int64(t.index))
            }
        }
        // The spool's errors are the machine's: thrown as they are, not as the item's failure.
        func stage(_ name: String, _ body: () throws -> Void) throws {
            do { try body() } catch let error as EnvironmentError { throw error } catch { throw fail(name, error) }
        }
        while true {
            let frame: RGBImage?
            do { frame = try decoder.nextFrame() } catch { throw fail(DecodeStage.name, error) }
            guard let frame else { break }
            out.decodedFrameCount += 1
            try stage(FaceStage.name) { try keep(try tracker.push(frame)) }
            if Date() > deadline { throw fail(DecodeStage.name, TimeLimitExceeded(path: path, seconds: timeLimit)) }
        }
        try stage(FaceStage.name) { try keep(try tracker.finish()) }
        out.videoDamage = decoder.damage

        let minimum = stages.face.parameters.minSegmentLength
        if out.decodedFrameCount < minimum {
            throw fail(DecodeStage.name, InputError(path, "too short: \(out.decodedFrameCount) frames at 25 fps, one window needs \(minimum)"))
        }
        if out.rowCount == 0 {
            throw fail(FaceStage.name, InputError(path, "no face found in \(minimum) or more consecutive frames"))
        }
        let (logMel, audioDamage) = try audio.result().get()
        out.audioDamage = audioDamage
        do {
            try stages.decode.damageLimit.check(out.videoDamage, stream: "video", path: path)
            try stages.decode.damageLimit.check(out.audioDamage, stream: "audio", path: path)
        } catch { throw fail(DecodeStage.name, error) }
        let units = stages.align.run(logMel: logMel, videoFrameCount: out.decodedFrameCount)
        // Keep the unit of each kept frame: [N, 80, 4].
        let unitSize = MelSpectrogram.melBinCount * MelSpectrogram.framesPerUnit
        out.mel.reserveCapacity(out.rowCount * unitSize)
        units.withUnsafeBufferPointer { u in
            for index in out.frameIndices {
                out.mel += UnsafeBufferPointer(rebasing: u[Int(index) * unitSize ..< (Int(index) + 1) * unitSize])
            }
        }
        return out
    }
}

/// Decodes a file's audio and computes its log-mel on a thread of its own.
private final class AudioTask: @unchecked Sendable {
    private let done = DispatchGroup()
    private var logMel: Result<([Float], StreamDamage), StageFailure>?

    init(path: String, frames: Range<Int>?, stages: PipelineStages, mel: MelSpectrogram, timeLimit: TimeInterval) {
        done.enter()
        Thread.detachNewThread { [self] in
            defer { done.leave() }
            let audio: AudioClip
            do { audio = try stages.decode.audio(path, frames: frames, timeLimit: timeLimit) } catch {
                logMel = .failure(StageFailure(stage: DecodeStage.name, error: error)); return
            }
            do { logMel = .success((try stages.mel.run(audio, mel: mel), audio.damage)) } catch {
                logMel = .failure(StageFailure(stage: MelStage.name, error: error))
            }
        }
    }

    func wait() { done.wait() }

    /// Waits, then gives the log-mel [F, 80] and the audio stream's damage, or the failure.
    func result() -> Result<([Float], StreamDamage), StageFailure> {
        done.wait()
        return logMel!
    }
}
