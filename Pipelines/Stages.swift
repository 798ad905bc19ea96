import AudioFeatures
import Common
import Face
import Foundation
import Media
import Yams

/// For stages whose numbers are all fixed by SPEC §1: nothing to set, only the version keys them.
public struct NoParameters: Codable, Equatable, Sendable, DefaultConstructible {
    public init() {}
}

extension FaceParameters: DefaultConstructible {}

extension DamageBound: DefaultConstructible {}

/// `decode`: video file → 25 fps RGB frames (streamed) and 16 kHz mono audio.
public struct DecodeStage: Stage {
    public static let name = "decode"
    public static let version = 1
    public let parameters: NoParameters
    /// How much decode damage an item may have (`decode: {max_damaged_fraction: 0.02, strict: false}`;
    /// `cals preprocess --strict` sets `strict`). Not part of the decode stage's key: it decides
    /// which items pass, not what their rows are, so changing it must not re-decode a whole
    /// dataset. Each item's damage is recorded in the ledger and the shard instead, and items
    /// quarantined for damage are retried by `--retry-quarantined`.
    public var damageLimit = DamageBound()
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }
    public init(damageLimit: DamageBound) { self.damageLimit = damageLimit; parameters = NoParameters() }

    /// Opens the video stream (only timeline frames `frames`, when given); throws `InputError`
    /// for unreadable files and files without audio.
    public func openVideo(_ path: String, frames: Range<Int>? = nil, timeLimit: TimeInterval) throws -> VideoDecoder {
        let decoder = try VideoDecoder(path: path, frames: frames, timeLimit: timeLimit)
        guard decoder.hasAudio else { throw InputError(path, "no audio stream") }
        return decoder
    }

    public func audio(_ path: String, frames: Range<Int>? = nil, timeLimit: TimeInterval) throws -> AudioClip {
        try decodeAudio(path: path, sampleRate: MelSpectrogram.sampleRate, frames: frames, timeLimit: timeLimit)
    }
}

/// `face` (with `crop`): frames → face tracks per shot → 128×128 crops (FaceTrackProcessor).
public struct FaceStage: Stage {
    public static let name = "face"
    public static let version = FaceParameters.version
    public let parameters: FaceParameters
    public init(parameters: FaceParameters = FaceParameters()) { self.parameters = parameters }

    /// A new detector of the kind `parameters.detector` names (one per thread).
    public func makeDetector() throws -> any FaceDetecting {
        try parameters.detector.makeDetector()
    }

    public func tracker(detector: any FaceDetecting) throws -> FaceTrackProcessor {
        try FaceTrackProcessor(detector: detector, parameters: parameters)
    }

    /// Reads the stage's manifest mapping: `detector` (default `haar`) names a registered
    /// detector; the other keys are FaceParameters' own and that detector's parameters, side by
    /// side (`- face: {detector: haar, min_neighbors: 4, chin_margin: 0.2}`).
    static func readParameters(_ node: Node?, file: String, context: String) throws -> FaceParameters {
        guard let node, node.null == nil else { return FaceParameters() }
        var mapping = try YAMLMapping(node, file: file, context: context)
        let name = try mapping.string("detector", default: HaarFaceDetector.name)
        guard let detector = FaceDetectorChoice(named: name) else {
            throw mapping.error("detector", "is '\(name)', not one of \(FaceDetectors.names.joined(separator: ", "))")
        }
        var fields = try readFields(like: FaceParameters(), from: &mapping, except: ["detector"])
        fields.merge(try readFields(like: detector.parameters, from: &mapping)) { own, _ in own }
        fields["detector"] = name
        try mapping.finish()
        return try JSONDecoder().decode(FaceParameters.self, from: JSONSerialization.data(withJSONObject: fields))
    }
}

/// `mel`: audio → log-mel [F, 80] (SPEC §1).
public struct MelStage: Stage {
    public static let name = "mel"
    /// 2: the FFT as a 256-point complex transform + split (values move by ≤ 2e-6).
    public static let version = 2
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }

    public func run(_ audio: AudioClip, mel: MelSpectrogram) throws -> [Float] {
        guard audio.sampleRate == MelSpectrogram.sampleRate else { throw MelError.sampleRate(audio.sampleRate) }
        return mel.logMel(audio.samples)
    }
}

/// `align`: log-mel + video frame count → audio units [N, 80, 4], one per video frame.
public struct AlignStage: Stage {
    public static let name = "align"
    public static let version = 1
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }

    public func run(logMel: [Float], videoFrameCount: Int) -> [Float] {
        MelSpectrogram.audioUnits(logMel: logMel, videoFrameCount: videoFrameCount)
    }
}

/// `shard`: segments → HDF5 shards (SPEC §2); its key is the key of an item's rows.
public struct ShardStage: Stage {
    public static let name = "shard"
    public static let version = 1
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }
}
