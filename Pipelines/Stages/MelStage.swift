import AudioFeatures
import Common
import Foundation

/// `mel`: audio → log-mel [F, 80] (SPEC §1), on the audio's thread. Sets `item.logMel`.
public struct MelStage: ItemStage {
    public static let name = "mel"
    /// 2: the FFT as a 256-point complex transform + split (values move by ≤ 2e-6).
    public static let version = 2
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }

    public func run(_ audio: AudioClip, mel: MelSpectrogram) throws -> [Float] {
        guard audio.sampleRate == MelSpectrogram.sampleRate else { throw MelError.sampleRate(audio.sampleRate) }
        return mel.logMel(audio.samples)
    }

    public func makeProcessor() throws -> any StageProcessor { Processor(stage: self) }

    private final class Processor: StageProcessor {
        let stage: MelStage
        let mel = MelSpectrogram()
        init(stage: MelStage) { self.stage = stage }

        func begin(_ item: ItemStream) throws {
            guard let audio = item.audio else { preconditionFailure("mel runs after decode") }
            let (stage, mel) = (stage, mel)
            item.logMel = item.inBackground {
                let clip = try audio.value()
                return try attributed(to: MelStage.name) { try stage.run(clip, mel: mel) }
            }
        }
    }
}
