import Common
import Dataset
import Foundation
import ModelTestSupport
import Models
import NN
import Pipelines
import Shards
import Tensor
import TestSupport
import Training
import XCTest

/// Writes `<folder>/shards/shard-synthetic.h5`, recorded in the folder's ledger as `cals
/// preprocess` would: `speakers` × `clips` items (one segment each) of `frames` rows in which a
/// random signal r_t drives both the mouth (a bright box in the lower half of frame t) and the
/// audio unit t (its mel rows), so that only the true offset pairs them up.
func writeSyntheticDataset(_ folder: String, speakers: Int = 2, clips: Int = 2, frames: Int = 40, seed: UInt64 = 5) throws {
    let shards = (folder as NSString).appendingPathComponent("shards")
    try FileManager.default.createDirectory(atPath: shards, withIntermediateDirectories: true)
    var rng = RandomGenerator(seed: seed)
    let writer = try ShardWriter(path: (shards as NSString).appendingPathComponent("shard-synthetic.h5"),
                                 parameters: "{}", creator: "TrainingTests")
    for s in 0..<speakers {
        for c in 0..<clips {
            writer.beginItem(ShardItem(id: "s\(s)/c\(c)#0", source: "s\(s)/c\(c).mp4", fingerprint: "f\(s)\(c)",
                                       speaker: "s\(s)", split: "train", firstRow: 0, rowCount: 0))
            var units: [Float] = []
            for frame in 0..<frames {
                let r = rng.uniform()
                var image = RGBImage(width: 128, height: 128)
                for y in 0..<128 { for x in 0..<128 {
                    let inMouth = y >= 80 && y < 80 + Int(r * 40) && x >= 40 && x < 88
                    let v = inMouth ? UInt8(200) : UInt8(60 + 20 * s)
                    for ch in 0..<3 { image.pixels[(y * 128 + x) * 3 + ch] = v }
                } }
                try writer.append(frame: image, frameIndex: frame)
                units += (0..<320).map { i in (i / 4) < Int(r * 80) ? 2 : -3 }
            }
            try writer.append(melUnits: units)
            try writer.endItem()
        }
    }
    try recordInLedger(folder, "shard-synthetic.h5", try writer.finish())
}

func tinyTrainingConfig() -> SyncTrainingConfig {
    var config = SyncTrainingConfig()
    config.model = tinySyncEncoderConfig()
    config.clipsPerBatch = 2
    config.windowsPerClip = 4
    config.maxOffset = 3
    config.learningRate = 3e-3
    config.evalEvery = 1000
    config.checkpointEvery = 1000
    config.evalClips = 1
    return config
}

final class SyncTrainingTests: XCTestCase {
    func testLossDecreasesOnATinyCorpus() throws {
        let scratch = ScratchDir("sync-train")
        try writeSyntheticDataset(scratch.path("data"))
        var config = tinyTrainingConfig()
        config.steps = 40
        config.augmentation = nil   // fitting speed of the plain loop; augmentation is tested below
        let trainer = try SyncTrainer(config: config, data: try ProcessedDataset(outFolder: scratch.path("data")), out: scratch.path("run"))
        try trainer.run()
        let losses = trainer.log.records.map(\.loss)
        XCTAssertEqual(losses.count, 40)
        let first = losses.prefix(8).reduce(0, +) / 8, last = losses.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(last, 0.7 * first, "loss \(first) → \(last)")
        // The final step evaluated the held-out speaker and wrote checkpoint and plot.
        let eval = try XCTUnwrap(trainer.log.records.last?.evalAccuracy)
        XCTAssertGreaterThan(eval, 1.0 / 7, "held-out accuracy at chance")
        XCTAssertTrue(FileManager.default.fileExists(atPath: trainer.checkpointPath))
        let png = try XCTUnwrap(FileManager.default.contents(atPath: trainer.plotPath))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // The PNG decodes (OpenCV through the reference Python) to the plot's size.
        let decoded = try TestSupport.run(TestEnv.python, ["-c", "import cv2, sys; print(cv2.imread(sys.argv[1]).shape)", trainer.plotPath])
        XCTAssertEqual(decoded.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "(540, 800, 3)", decoded.stderr)
    }

    /// Training 6 steps straight equals training 3, stopping, and resuming to 6: same weights,
    /// Adam moments, BN statistics, random state and logged losses.
    func testResumeContinuesExactly() throws {
        let scratch = ScratchDir("sync-resume")
        try writeSyntheticDataset(scratch.path("data"), clips: 1, frames: 30)
        let data = try ProcessedDataset(outFolder: scratch.path("data"))
        var config = tinyTrainingConfig()
        config.checkpointEvery = 3
        let (straight, resumed, (a, b)) = try trainStraightAndResumed(
            steps: 6, stoppingAt: 3, folders: (scratch.path("a"), scratch.path("b"))) { steps, out, resume in
            config.steps = steps
            return try SyncTrainer(config: config, data: data, out: out, resume: resume)
        }
        XCTAssertEqual(a.metadata, b.metadata)
        // Same losses and accuracies (the stopped run also evaluated at its last step, step 3).
        XCTAssertEqual(straight.log.records.map { [Double($0.step), $0.loss, $0.accuracy] },
                       resumed.log.records.map { [Double($0.step), $0.loss, $0.accuracy] })
    }

    func testBadInputsAreClearErrors() throws {
        let scratch = ScratchDir("sync-bad")
        // A dataset folder without a ledger, and a ledger without current rows (a frame shard
        // it does not record is not read).
        XCTAssertThrowsError(try ProcessedDataset(outFolder: scratch.path("nothing"))) {
            XCTAssertTrue("\($0)".contains("no ledger") && "\($0)".contains("cals preprocess"), "\($0)")
        }
        try writeSyntheticDataset(scratch.path("empty"), clips: 1, frames: 12)
        _ = try Ledger(outFolder: scratch.path("unrecorded"), dataset: "synthetic", adapter: "test")
        try FileManager.default.copyItem(atPath: scratch.path("empty/shards"), toPath: scratch.path("unrecorded/shards"))
        XCTAssertThrowsError(try ProcessedDataset(outFolder: scratch.path("unrecorded"))) {
            XCTAssertTrue("\($0)".contains("no current rows"), "\($0)")
        }
        // Clips too short for a training window, and for scoring.
        try writeSyntheticDataset(scratch.path("short"), clips: 1, frames: 12)
        let short = try ProcessedDataset(outFolder: scratch.path("short"))
        XCTAssertThrowsError(try SyncTrainer(config: tinyTrainingConfig(), data: short, out: scratch.path("run"))) {
            XCTAssertTrue("\($0)".contains("frames a batch window needs"), "\($0)")
        }
        var rng = RandomGenerator(seed: 1)
        let model = SyncEncoder(tinySyncEncoderConfig(), rng: &rng)
        let rows = try short.clips[0].rows(0..<12)
        XCTAssertThrowsError(try OffsetSimilarities(model: model, frames: rows.frames, mel: rows.mel, maxOffset: 15, source: "s0/c0")) {
            XCTAssertEqual("\($0)", "s0/c0: clip of 12 frames is too short for offsets ±15: needs at least 35 frames")
        }
        // A checkpoint of the wrong shape (weights of a wider model under this config), a corrupt
        // one, and a file that is not a sync checkpoint.
        let config = tinyTrainingConfig()
        let wide = SyncEncoder(tinySyncEncoderConfig().scaled(2), rng: &rng)
        let wrong = scratch.path("wrong.safetensors")
        try Safetensors.write(wide.stateDict, metadata: try SyncCheckpoint.metadata(config), to: wrong)
        XCTAssertThrowsError(try SyncEncoder.load(checkpoint: wrong)) {
            XCTAssertTrue("\($0)".hasPrefix("\(wrong): tensor ") && "\($0)".contains("has shape"), "\($0)")
        }
        let corrupt = scratch.path("corrupt.safetensors")
        let good = scratch.path("good.safetensors")
        try Safetensors.write(model.stateDict, metadata: try SyncCheckpoint.metadata(config), to: good)
        XCTAssertNoThrow(try SyncEncoder.load(checkpoint: good))
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: good))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: corrupt))
        XCTAssertThrowsError(try SyncEncoder.load(checkpoint: corrupt)) { XCTAssertTrue("\($0)".hasPrefix(corrupt), "\($0)") }
        let foreign = scratch.path("foreign.safetensors")
        try Safetensors.write(model.stateDict, to: foreign)
        XCTAssertThrowsError(try SyncEncoder.load(checkpoint: foreign)) {
            XCTAssertTrue("\($0)".contains("not a sync encoder checkpoint"), "\($0)")
        }
    }
}

final class OffsetAccuracyTests: XCTestCase {
    /// Per window, ±1 and context accuracy on hand-made similarities (M = 2, 5 candidates): windows
    /// 0, 2 and 4 peak at offset 0; window 1 peaks at +1 and window 3 far away at −2; summed over 3
    /// windows the true offset wins in every run.
    func testWindowToleranceAndContextAccuracy() {
        let rows: [[Float]] = [[0.1, 0.2, 0.9, 0.3, 0.1],
                               [0.1, 0.2, 0.5, 0.6, 0.1],
                               [0.1, 0.2, 0.7, 0.3, 0.1],
                               [0.95, 0.2, 0.3, 0.3, 0.1],
                               [0.1, 0.2, 0.4, 0.3, 0.1]]
        let s = OffsetSimilarities(maxOffset: 2, centres: Array(4..<9), cosines: rows.flatMap { $0 })
        XCTAssertEqual(s.accuracy, 3.0 / 5, accuracy: 1e-12)
        XCTAssertEqual(s.accuracy(tolerance: 1), 4.0 / 5, accuracy: 1e-12)
        XCTAssertEqual(s.accuracy(tolerance: 0, among: [1, 3]), 0)
        XCTAssertEqual(s.accuracy(context: 1)!, s.accuracy, accuracy: 1e-12)
        // offset 0 vs the runner-up: runs 0–2 2.1 vs 1.2 (+1), 1–3 1.5 vs 1.2, 2–4 1.4 vs 1.15 (−2)
        XCTAssertEqual(s.accuracy(context: 3)!, 1, accuracy: 1e-12)
        XCTAssertEqual(s.accuracy(context: 5)!, 1, accuracy: 1e-12)
        XCTAssertNil(s.accuracy(context: 6))
    }
}

final class TrackConfidenceTests: XCTestCase {
    /// A face track's active-speaker confidence is measured at offset 0, not at the best offset,
    /// and a confidence over few windows counts less than the same over many.
    func testConfidenceIsInSyncAndWeightedByWindows() {
        // Mean distances at offsets −3…3.
        let inSync = SyncScore(meanDistances: [1.0, 1.0, 0.95, 0.9, 0.95, 1.0, 1.05])
        let offBeat = SyncScore(meanDistances: [1.0, 0.98, 1.0, 1.0, 1.02, 1.0, 0.8])   // best at +3
        XCTAssertEqual(inSync.confidenceInSync, 0.1, accuracy: 1e-6)
        XCTAssertEqual(offBeat.confidenceInSync, 0, accuracy: 1e-6)
        XCTAssertEqual(offBeat.offset, 3)
        XCTAssertGreaterThan(offBeat.confidence, inSync.confidence, "by its best offset the off-beat track would win")
        XCTAssertGreaterThan(SyncScore.trackConfidence(inSync, windows: 50), SyncScore.trackConfidence(offBeat, windows: 50))
        // The same confidence weighted by windows / (windows + 10).
        XCTAssertEqual(SyncScore.trackConfidence(inSync, windows: 10), 0.05, accuracy: 1e-6)
        XCTAssertEqual(SyncScore.trackConfidence(inSync, windows: 40), 0.08, accuracy: 1e-6)
        // A short broken-off track scoring high over 2 windows loses to a long one scoring lower over 50.
        let high = SyncScore(meanDistances: [1.0, 1.0, 1.0, 0.8, 1.0, 1.0, 1.0])
        XCTAssertLessThan(SyncScore.trackConfidence(high, windows: 2), SyncScore.trackConfidence(inSync, windows: 50))
    }
}

final class ClipAugmentationTests: XCTestCase {
    /// A flip alone gives the input or its mirror image; a shift moves the picture by the drawn
    /// amount with edges repeated; colour jitter keeps values in 0…1 and changes them.
    func testFlipShiftAndJitter() {
        let (h, w) = (64, 128)
        let windows = Tensor(shape: [2, 15, h, w])
        windows.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] = Float(i % w) / Float(w) } }   // value = column / w
        let original = windows.values

        var flipOnly = ClipAugmentation.none
        flipOnly.flip = true
        var sawMirror = false, sawSame = false
        var rng = RandomGenerator(seed: 3)
        for _ in 0..<8 {
            let t = Tensor(shape: windows.shape, values: original)
            flipOnly.apply(to: t, rng: &rng)
            if t.values == original { sawSame = true; continue }
            sawMirror = true
            for i in stride(from: 0, to: t.count, by: w) {
                XCTAssertEqual(Array(t.values[i..<(i + w)]), Array(original[i..<(i + w)].reversed()))
            }
        }
        XCTAssertTrue(sawMirror && sawSame)

        var shiftOnly = ClipAugmentation.none
        shiftOnly.maxShift = 4
        for seed in 0..<6 {
            let t = Tensor(shape: windows.shape, values: original)
            rng = RandomGenerator(seed: UInt64(seed))
            shiftOnly.apply(to: t, rng: &rng)
            let dx = Int(((t.values[w / 2] - original[w / 2]) * Float(w)).rounded())
            XCTAssertLessThanOrEqual(abs(dx), 4)
            for x in 0..<w { XCTAssertEqual(t.values[x], Float(min(max(x + dx, 0), w - 1)) / Float(w), accuracy: 1e-6) }
        }

        let jittered = Tensor(shape: windows.shape, values: original)
        rng = RandomGenerator(seed: 9)
        ClipAugmentation().apply(to: jittered, rng: &rng)
        XCTAssertNotEqual(jittered.values, original)
        XCTAssertTrue(jittered.values.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    /// Rotation and zoom turn about the point ((w − 1)/2, ⌊h/3⌋) and move a dot off it; grey makes
    /// R = G = B; blur keeps a flat plane flat and lowers a checkerboard's contrast; a config
    /// without the later fields (an older checkpoint's) decodes with them off and changes nothing.
    func testRotationZoomGreyBlurAndOldConfigs() throws {
        let (h, w) = (64, 128), plane = h * w
        let centre = (h / 3) * w + w / 2, beside = (h / 3) * w + w / 2 + 20
        var turn = ClipAugmentation.none
        (turn.maxRotation, turn.zoom) = (15, 0.15)
        var moved = 0
        for seed in 0..<8 {
            let t = Tensor(shape: [1, 15, h, w], zeroed: true)
            t.withUnsafeMutableBufferPointer { v in
                v[beside] = 1
                for y in -1...1 { for x in -2...1 { v[centre + y * w + x] = 1 } }   // a block about the centre
            }
            var rng = RandomGenerator(seed: UInt64(seed))
            turn.apply(to: t, rng: &rng)
            XCTAssertEqual(t.values[centre] + t.values[centre - 1], 2, accuracy: 1e-5)
            if t.values[beside] < 0.9 { moved += 1 }
        }
        XCTAssertGreaterThan(moved, 4)

        var greyOnly = ClipAugmentation.none
        greyOnly.greyChance = 1
        let colour = Tensor(shape: [1, 15, h, w])
        colour.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] = Float((i / plane) % 3) / 2 } }   // R 0, G 0.5, B 1
        var rng = RandomGenerator(seed: 1)
        greyOnly.apply(to: colour, rng: &rng)
        for i in 0..<plane { XCTAssertEqual(colour.values[i], 0.587 * 0.5 + 0.114, accuracy: 1e-6) }
        XCTAssertEqual(colour.values[plane + 7], colour.values[7])

        var blurOnly = ClipAugmentation.none
        blurOnly.blurChance = 1
        let checker = Tensor(shape: [1, 15, h, w])
        checker.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] = ((i % w) + (i / w)) % 2 == 0 ? 1 : 0 }
            v[0..<plane].update(repeating: 0.25)                                     // plane 0 flat
        }
        blurOnly.apply(to: checker, rng: &rng)
        for i in 0..<plane { XCTAssertEqual(checker.values[i], 0.25, accuracy: 1e-5) }
        let contrast = (plane..<(2 * plane)).map { abs(checker.values[$0] - 0.5) }.max()!
        XCTAssertLessThan(contrast, 0.499)

        // A sync config stored before the versions, its augmentation without the later parts.
        var stored = try JSONSerialization.jsonObject(with: JSONEncoder().encode(tinyTrainingConfig())) as! [String: Any]
        stored["augmentation"] = ["maxShift": 6, "colourJitter": 0.25, "flip": true]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: stored), as: UTF8.self)
        let decoded = try XCTUnwrap(try SyncTrainingConfig.stored.read([CheckpointKind.kindKey: "cals-sync-encoder",
                                                                        "sync_training_config": json], path: "old").augmentation)
        XCTAssertEqual([decoded.maxRotation, decoded.zoom, decoded.greyChance, decoded.blurChance], [0, 0, 0, 0])
        let t = Tensor(shape: [1, 15, h, w])
        t.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] = Float(i % w) / Float(w) } }
        var shiftless = decoded
        (shiftless.maxShift, shiftless.colourJitter, shiftless.flip) = (0, 0, false)
        let before = t.values
        shiftless.apply(to: t, rng: &rng)
        XCTAssertEqual(t.values, before)
    }
}
