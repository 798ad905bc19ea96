import Dataset
import Foundation
import Models
import NN
import Tensor
import TestSupport
import Training
import XCTest

/// The training loop's seams: the rank's share of each batch, the primary rank alone writing, and
/// configs of older checkpoints (the gradient hook: L2FTrainingTests, on the two-objective step).
final class TrainingLoopTests: XCTestCase {
    /// Every rank of 2 draws the whole batch and keeps its share: the shares of two samplers with
    /// the same seed, interleaved, are what one sampler yields, and they are disjoint.
    func testTwoRanksPartitionWhatOneSamplerYields() throws {
        for (size, seed) in [(4, UInt64(1)), (7, UInt64(9))] {
            func draws(_ sampler: BatchSampler) -> [[Int]] {
                var rng = RandomGenerator(seed: seed)
                return (0..<3).map { _ in sampler.share(ofBatch: size) { rng.int(below: 1_000_000) } }   // 3 batches
            }
            let whole = draws(.single)
            let shares = try (0..<2).map { try draws(BatchSampler(rank: $0, worldSize: 2)) }
            for (b, batch) in whole.enumerated() {
                XCTAssertEqual(batch.count, size)
                XCTAssertEqual(shares[0][b].count + shares[1][b].count, size)
                var interleaved: [Int] = []
                for i in 0..<size { interleaved.append(shares[i % 2][b][i / 2]) }
                XCTAssertEqual(interleaved, batch, "batch \(b) of \(size)")
            }
        }
    }

    /// The sync trainer's batch on ranks 0 and 1 of 2 are the single process's clips 0, 2, … and
    /// 1, 3, … (augmented alike), and the random states stay equal; rank 1 writes nothing.
    func testSyncTrainerRanksReadDisjointSharesAndOnlyThePrimaryWrites() throws {
        let scratch = ScratchDir("loop-ranks")
        try writeSyntheticDataset(scratch.path("data"), clips: 2, frames: 30)
        let data = try ProcessedDataset(outFolder: scratch.path("data"))
        var config = tinyTrainingConfig()
        (config.clipsPerBatch, config.steps) = (4, 1)
        let single = try SyncTrainer(config: config, data: data, out: scratch.path("single"))
        let ranks = try (0..<2).map { r in
            try SyncTrainer(config: config, data: data, out: scratch.path("rank\(r)"),
                            rank: TrainingRank(sampler: try BatchSampler(rank: r, worldSize: 2), gradients: LocalGradients()))
        }
        let whole = try single.nextBatch(), shares = try ranks.map { try $0.nextBatch() }
        let v = config.windowsPerClip, a = config.windowsPerClip + 2 * config.lossOffsets
        func clip(_ t: Tensor, _ c: Int, rows: Int) -> [Float] { t.slice(axis: 0, (c * rows)..<((c + 1) * rows)).values }
        for c in 0..<4 {
            XCTAssertEqual(clip(whole.visual, c, rows: v), clip(shares[c % 2].visual, c / 2, rows: v), "visual of clip \(c)")
            XCTAssertEqual(clip(whole.audio, c, rows: a), clip(shares[c % 2].audio, c / 2, rows: a), "audio of clip \(c)")
        }
        XCTAssertEqual(ranks[0].context.rng.stateWords, single.context.rng.stateWords)
        XCTAssertEqual(ranks[1].context.rng.stateWords, single.context.rng.stateWords)

        try ranks[1].run()
        XCTAssertEqual(ranks[1].step, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path("rank1")), "a rank other than 0 wrote its run folder")
        try ranks[0].run()
        for file in ["checkpoint.safetensors", "log.csv", "plot.png", "data.tsv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.path("rank0/\(file)")), file)
        }
        // A batch with fewer clips than ranks is refused.
        config.clipsPerBatch = 1
        XCTAssertThrowsError(try SyncTrainer(config: config, data: data, out: scratch.path("small"),
                                             rank: TrainingRank(sampler: try BatchSampler(rank: 0, worldSize: 2),
                                                                gradients: LocalGradients())))
    }

    /// Configs in checkpoints written before a field existed (no version: version 1) read with
    /// the values those runs had; the current version round-trips; a newer version is refused.
    func testOlderConfigVersionsReadWithTheirDefaults() throws {
        // The demo run's config as L2F checkpoints stored it before the reference alignment, the
        // audio context, gradient clipping and augmentation existed.
        let oldL2F = #"{"a2l":{"dim":128,"dropout":0.1,"feedForward":512,"heads":4,"inputDim":320,"layers":2,"outputDim":1024},"#
            + #""audioEncoder":"a2l","checkpointEvery":60,"discriminator":{"channels":[8,16,32,64,64],"imageSize":128,"slope":0.2},"#
            + #""frames":5,"freezeA2L":false,"generator":{"channels":[8,16,32,64,64],"imageSize":128,"lipChannels":32,"lipDim":1024},"#
            + #""gridEvery":60,"heldOutSpeakers":[],"learningRate":0.0001,"seed":1,"steps":60,"#
            + #""weights":{"audioVisual":true,"gan":0.07,"l1":10,"sync":0.03,"visualVisual":true},"windows":2}"#
        let metadata = [CheckpointKind.kindKey: "cals-l2f", "l2f_training_config": oldL2F]
        let l2f = try L2FTrainingConfig.stored.read(metadata, path: "old.safetensors")
        XCTAssertEqual(l2f.steps, 60)
        XCTAssertEqual(l2f.generator.channels, [8, 16, 32, 64, 64])
        XCTAssertEqual(l2f.alignReferences, false)
        XCTAssertEqual(l2f.audioContext, 0)
        XCTAssertEqual(l2f.clipNorm, 0)
        XCTAssertNil(l2f.augmentation)
        let use = try CheckpointKind.l2f.decode(L2FCheckpoint.Use.self, from: metadata, path: "old.safetensors")
        XCTAssertEqual(use, l2f.use)

        // Today's config round-trips through the metadata with its own values.
        var current = L2FTrainingConfig()
        (current.frames, current.audioContext) = (7, 4)
        let stored = try L2FTrainingConfig.stored.metadata(current)
        XCTAssertTrue(stored["l2f_training_config"]!.contains(#""version":2"#))
        XCTAssertEqual(try L2FTrainingConfig.stored.read(stored, path: "new.safetensors"), current)

        let oldSync = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncTrainingConfig())) as! [String: Any]
        let withoutNew = oldSync.filter { !["cosineDecay", "excludeNearOffsets"].contains($0.key) }
        let syncJSON = String(decoding: try JSONSerialization.data(withJSONObject: withoutNew), as: UTF8.self)
        let sync = try SyncTrainingConfig.stored.read([CheckpointKind.kindKey: "cals-sync-encoder", "sync_training_config": syncJSON],
                                                      path: "old-sync.safetensors")
        XCTAssertEqual(sync.cosineDecay, false)
        XCTAssertEqual(sync.excludeNearOffsets, 0)

        let future = oldL2F.replacingOccurrences(of: #"{"a2l""#, with: #"{"version":99,"a2l""#)
        XCTAssertThrowsError(try L2FTrainingConfig.stored.read([CheckpointKind.kindKey: "cals-l2f", "l2f_training_config": future],
                                                               path: "future.safetensors")) {
            XCTAssertTrue("\($0)".contains("future.safetensors: L2F config version 99"), "\($0)")
        }
    }
}
