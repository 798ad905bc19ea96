import AudioFeatures
import Foundation

/// `align`: log-mel + video frame count → audio units [N, 80, 4], one per video frame; keeps
/// the unit of each row in `item.mel`.
public struct AlignStage: ItemStage {
    public static let name = "align"
    public static let version = 1
    public let parameters: NoParameters
    public init(parameters: NoParameters = NoParameters()) { self.parameters = parameters }

    public func run(logMel: [Float], videoFrameCount: Int) -> [Float] {
        MelSpectrogram.audioUnits(logMel: logMel, videoFrameCount: videoFrameCount)
    }

    public func makeProcessor() throws -> any StageProcessor { Processor(stage: self) }

    private final class Processor: StageProcessor {
        let stage: AlignStage
        init(stage: AlignStage) { self.stage = stage }

        func finish(_ item: ItemStream) throws {
            guard let logMel = item.logMel else { preconditionFailure("align runs after mel") }
            let units = stage.run(logMel: try logMel.value(), videoFrameCount: item.decodedFrameCount)
            // The unit of each row: [N, 80, 4].
            let unitSize = MelSpectrogram.melBinCount * MelSpectrogram.framesPerUnit
            var mel: [Float] = []
            mel.reserveCapacity(item.rowCount * unitSize)
            units.withUnsafeBufferPointer { u in
                for index in item.frameIndices {
                    mel += UnsafeBufferPointer(rebasing: u[Int(index) * unitSize ..< (Int(index) + 1) * unitSize])
                }
            }
            item.mel = mel
        }
    }
}
