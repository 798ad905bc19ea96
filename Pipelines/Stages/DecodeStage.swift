import AudioFeatures
import Common
import Foundation
import Media
import Yams

extension DamageBound: DefaultConstructible {}

/// `decode`: video file → 25 fps RGB frames (streamed) and 16 kHz mono audio (decoded on a
/// thread of its own). Sets `item.video`, `item.audio` and the streams' damage.
public struct DecodeStage: ItemStage {
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

    /// The manifest's `decode` mapping is the damage limit.
    public static func read(_ node: Node?, file: String, context: String) throws -> DecodeStage {
        let limit = try decodeParameters(DamageBound.self, from: node, file: file, context: context)
        guard (0...1).contains(limit.maxDamagedFraction) else {
            throw ManifestError(file, YAMLMapping.line(node), "\(context): 'max_damaged_fraction' must be between 0 and 1")
        }
        return DecodeStage(damageLimit: limit)
    }

    /// Opens the video stream (only timeline frames `frames`, when given); throws `InputError`
    /// for unreadable files and files without audio.
    public func openVideo(_ path: String, frames: Range<Int>? = nil, timeLimit: TimeInterval) throws -> VideoDecoder {
        let decoder = try VideoDecoder(path: path, frames: frames, timeLimit: timeLimit)
        guard decoder.hasAudio else { throw InputError(path, "no audio stream") }
        return decoder
    }

    public func makeProcessor() throws -> any StageProcessor { Processor(stage: self) }

    private final class Processor: StageProcessor {
        let stage: DecodeStage
        init(stage: DecodeStage) { self.stage = stage }

        func begin(_ item: ItemStream) throws {
            item.video = try stage.openVideo(item.path, frames: item.frames, timeLimit: item.timeLimit)
            let (path, frames, timeLimit) = (item.path, item.frames, item.timeLimit)
            item.audio = item.inBackground {
                try attributed(to: DecodeStage.name) {
                    try decodeAudio(path: path, sampleRate: MelSpectrogram.sampleRate, frames: frames, timeLimit: timeLimit)
                }
            }
        }

        func finish(_ item: ItemStream) throws {
            item.videoDamage = item.video?.damage ?? StreamDamage()
            item.audioDamage = try item.audio?.value().damage ?? StreamDamage()
            try stage.damageLimit.check(item.videoDamage, stream: "video", path: item.path)
            try stage.damageLimit.check(item.audioDamage, stream: "audio", path: item.path)
        }
    }
}
