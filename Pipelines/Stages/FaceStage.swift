import AudioFeatures
import Common
import Face
import Foundation
import Models
import Shards
import Yams

extension FaceParameters: DefaultConstructible {}

/// `face` (with `crop`): frames → face tracks per shot → 128×128 crops (FaceTrackProcessor).
/// Adds the item's rows (crop, box, segment, frame index) as the tracker gives them, and with a
/// detector that finds landmarks (cnn) the column `landmarks5` [N, 5, 2] float32: each row's
/// smoothed five points (x, y) in source pixels. Haar finds none: its shards have no such column.
/// The item's detection hints (`DetectionHints`: VoxCeleb2's face boxes), when the dataset gives
/// them, lead the tracker to the face to follow.
///
/// With `speaker: active` every face is tracked and, per shot, only the track whose mouth moves
/// most in sync with the item's audio becomes a segment (`ActiveSpeakerSelection`): scored by
/// the sync encoder of `sync_checkpoint` (`SyncScore.track`: confidence at offset 0 against
/// ±7 frames of offset, weighted by the track's speech windows); every track's score goes to the
/// ledger with the item.
public struct FaceStage: ItemStage {
    public static let name = "face"
    public static let version = FaceParameters.version
    public let parameters: FaceParameters
    public init(parameters: FaceParameters = FaceParameters()) { self.parameters = parameters }

    /// The sync encoder that scores face tracks with `speaker: active` (nil otherwise), checked
    /// against the content hash taken when the manifest was read.
    public func loadSyncEncoder() throws -> SyncEncoder? {
        guard parameters.speaker == FaceParameters.activeSpeaker else { return nil }
        let path = parameters.syncCheckpoint
        guard try fileChecksum(path) == parameters.syncCheckpointHash else {
            throw InputError(path, "sync checkpoint changed since the manifest was read (content hash \(parameters.syncCheckpointHash))")
        }
        return try SyncEncoder.load(checkpoint: path)
    }

    /// A new detector of the kind `parameters.detector` names (one per thread).
    public func makeDetector() throws -> any FaceDetecting {
        try parameters.detector.makeDetector()
    }

    public func tracker(detector: any FaceDetecting, hints: [Int: Box] = [:]) throws -> FaceTrackProcessor {
        try FaceTrackProcessor(detector: detector, parameters: parameters, hints: hints)
    }

    /// Reads the stage's manifest mapping: `detector` (default `cnn`) names a registered
    /// detector; the other keys are FaceParameters' own and that detector's parameters, side by
    /// side (`- face: {detector: haar, min_neighbors: 4, chin_margin: 0.2}`). With `speaker:
    /// active`, `sync_checkpoint` must name a readable checkpoint: its content hash is taken here.
    public static func read(_ node: Node?, file: String, context: String) throws -> FaceStage {
        guard let node, node.null == nil else { return FaceStage() }
        var mapping = try YAMLMapping(node, file: file, context: context)
        let name = try mapping.string("detector", default: MTCNNFaceDetector.name)
        guard let detector = FaceDetectorChoice(named: name) else {
            throw mapping.error("detector", "is '\(name)', not one of \(FaceDetectors.names.joined(separator: ", "))")
        }
        var fields = try readFields(like: FaceParameters(), from: &mapping, except: ["detector", "syncCheckpointHash"])
        fields.merge(try readFields(like: detector.parameters, from: &mapping)) { own, _ in own }
        fields["detector"] = name
        try mapping.finish()
        var parameters = try JSONDecoder().decode(FaceParameters.self, from: JSONSerialization.data(withJSONObject: fields))
        do {
            try parameters.validate()
            if parameters.speaker == FaceParameters.activeSpeaker {
                guard parameters.cropSize == SyncEncoder.cropWidth else {
                    throw FaceParameterError("speaker active scores \(SyncEncoder.cropWidth)-pixel crops; crop_size is \(parameters.cropSize)")
                }
                parameters.syncCheckpointHash = try fileChecksum(parameters.syncCheckpoint)
            }
        } catch {
            throw ManifestError(file, YAMLMapping.line(node), "\(context): \(error)")
        }
        return FaceStage(parameters: parameters)
    }

    public func makeProcessor() throws -> any StageProcessor {
        Processor(stage: self, detector: try makeDetector(), syncEncoder: try loadSyncEncoder())
    }

    private final class Processor: StageProcessor {
        let stage: FaceStage
        let detector: any FaceDetecting
        let syncEncoder: SyncEncoder?
        var tracker: FaceTrackProcessor?
        /// With `speaker: active`: the shots' tracks waiting to be scored.
        var selection: ActiveSpeakerSelection?
        /// [R, 5, 2] for the R rows kept so far, while every one of them has landmarks.
        var landmarks: [Float] = []
        var rowsWithoutLandmarks = 0

        init(stage: FaceStage, detector: any FaceDetecting, syncEncoder: SyncEncoder?) {
            self.stage = stage
            self.detector = detector
            self.syncEncoder = syncEncoder
        }

        func begin(_ item: ItemStream) throws {
            guard let video = item.video else { preconditionFailure("the decode stage opens the video before the face stage begins") }
            let hints = try DetectionHints.boxes(item.metadata, width: video.width, height: video.height, file: item.path)
            tracker = try stage.tracker(detector: detector, hints: hints)
            selection = syncEncoder.map { model in
                ActiveSpeakerSelection { [unowned item] frames in try Self.score(frames, model, item) }
            }
            landmarks = []
            rowsWithoutLandmarks = 0
        }

        func push(_ frame: RGBImage, _ item: ItemStream) throws {
            try keep(try tracker?.push(frame) ?? [], item)
        }

        func finish(_ item: ItemStream) throws {
            try keep(try tracker?.finish() ?? [], item)
            if let selection {
                try keep(try selection.finish(), item, selected: true)
                item.trackScores = selection.scores
            }
            tracker = nil
            selection = nil
            let minimum = stage.parameters.minSegmentLength
            if item.decodedFrameCount < minimum {
                throw StageFailure(stage: DecodeStage.name, error: InputError(
                    item.path, "too short: \(item.decodedFrameCount) frames at 25 fps, one window needs \(minimum)"))
            }
            if item.rowCount == 0 { throw InputError(item.path, "no face found in \(minimum) or more consecutive frames") }
            // A detector gives landmarks for every face or for none.
            if rowsWithoutLandmarks == 0 { item.addColumn("landmarks5", rowShape: [5, 2], values: landmarks) }
        }

        /// The sync confidence (`SyncScore.track`) and best offset of one face track against the item's audio.
        static func score(_ frames: [TrackedFrame], _ model: SyncEncoder, _ item: ItemStream) throws -> (confidence: Double, offset: Int)? {
            guard let logMel = item.logMel else { preconditionFailure("the mel stage begins before frames are pushed") }
            let indices = frames.map(\.index)
            let units = MelSpectrogram.audioUnits(logMel: try logMel.value(), videoFrameCount: (indices.max() ?? 0) + 1)
            return try SyncScore.track(model, crops: frames.map(\.crop.pixels), frameIndices: indices, units: units, source: item.path)
        }

        /// Appends the rows of `tracked`; with `speaker: active` the tracker's frames pass through
        /// the selection first (`selected`: they come from it).
        private func keep(_ tracked: [TrackedFrame], _ item: ItemStream, selected: Bool = false) throws {
            if let selection, !selected { return try keep(try selection.push(tracked), item, selected: true) }
            for t in tracked {
                try item.appendRow(crop: t.crop, box: [t.box.x, t.box.y, t.box.width, t.box.height], segment: t.segment,
                                   frameIndex: t.index)
                if let points = t.landmarks, points.count == 5 {
                    for p in points { landmarks += [Float(p.x), Float(p.y)] }
                } else {
                    rowsWithoutLandmarks += 1
                }
            }
        }
    }
}
