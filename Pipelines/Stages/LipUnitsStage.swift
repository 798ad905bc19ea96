import Common
import Foundation
import Models
import Shards
import Training

/// `lip_units` (SPEC §1, after `shard`): a 1024-d lip-motion unit for every frame of every frame
/// shard of the output folder, from the visual stream of a sync encoder checkpoint over the 5
/// mouth frames centred on the frame (edges of each item repeat). Unit shards live in
/// `<out>/lip_units/<checkpoint content hash>/<frame shard name>`, aligned row for row with
/// their frame shard; a new checkpoint gives a new folder beside the old, and frame shards that
/// already have their units for this checkpoint are skipped. Frame shards are never touched.
public struct LipUnitsStage: Stage {
    public static let name = "lip_units"
    public static let version = 1

    public struct Parameters: Codable, Equatable, Sendable, DefaultConstructible {
        /// Sync encoder checkpoint (`cals train sync`), relative to the working directory.
        public var checkpoint = ""
        /// Store float16 units instead of float32.
        public var float16 = false
        public init() {}
    }

    public let parameters: Parameters
    public init(parameters: Parameters = Parameters()) { self.parameters = parameters }

    /// Windows embedded per forward pass.
    static let chunk = 64

    /// Writes the missing unit shards for the frame shards of `<outFolder>/shards`; returns the
    /// paths written. `say` gets one line per shard.
    @discardableResult
    public func run(outFolder: String, say: (String) -> Void) throws -> [String] {
        let checkpoint = parameters.checkpoint
        guard !checkpoint.isEmpty else { throw InputError("lip_units", "parameter 'checkpoint' is required") }
        let hash = try fileChecksum(checkpoint)
        let model = try SyncCheckpoint.loadModel(checkpoint)
        guard model.config.outputDim == ShardFormat.lipUnitSize else {
            throw InputError(checkpoint, "encoder gives \(model.config.outputDim)-d units; lip-unit shards hold \(ShardFormat.lipUnitSize)")
        }
        let shards = (outFolder as NSString).appendingPathComponent("shards")
        let unitFolder = Self.folder(outFolder: outFolder, checkpointHash: hash)
        try FileManager.default.createDirectory(atPath: unitFolder, withIntermediateDirectories: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: shards)
            .filter { $0.hasPrefix("shard-") && $0.hasSuffix(".h5") }.sorted()
        var written: [String] = []
        for name in names {
            let target = (unitFolder as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: target) { continue }
            let reader = try ShardReader(path: (shards as NSString).appendingPathComponent(name))
            let writer = try LipUnitWriter(path: target, frameShard: name, checkpoint: hash, creator: "cals lip_units v\(Self.version)",
                                           half: parameters.float16)
            for item in reader.items {
                let frames = try reader.frames(rows: item.rows)
                try writer.append(units: frames.withUnsafeBufferPointer { f in
                    embedVisualInChunks(model, frames: f, centres: Array(0..<item.rowCount), chunk: Self.chunk)
                })
            }
            let summary = try writer.finish()
            say("lip_units: \(name): \(summary.rows) units (checkpoint \(hash))")
            written.append(target)
        }
        return written
    }

    /// `<out>/lip_units/<checkpoint hash>`
    public static func folder(outFolder: String, checkpointHash: String) -> String {
        ((outFolder as NSString).appendingPathComponent(name) as NSString).appendingPathComponent(checkpointHash)
    }
}
