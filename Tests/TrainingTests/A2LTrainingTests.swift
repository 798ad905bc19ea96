import Common
import Dataset
import Foundation
import Models
import NN
import Pipelines
import Shards
import Tensor
import TestSupport
import Training
import XCTest

/// Writes `<folder>/lip_units/<hash>/shard-synthetic.h5` for the synthetic frame shard: unit t
/// of a clip mixes the audio levels r of frames t−1, t, t+1 (read back from the mel rows) through
/// fixed random directions, so a masked unit is predictable from its neighbours' audio.
func writeSyntheticUnits(_ folder: String, hash: String = "synthetic-sync", seed: UInt64 = 9) throws {
    let frames = try ShardReader(path: (folder as NSString).appendingPathComponent("shards/shard-synthetic.h5"))
    let unitFolder = ((folder as NSString).appendingPathComponent("lip_units") as NSString).appendingPathComponent(hash)
    try FileManager.default.createDirectory(atPath: unitFolder, withIntermediateDirectories: true)
    let writer = try LipUnitWriter(path: (unitFolder as NSString).appendingPathComponent("shard-synthetic.h5"),
                                   frameShard: "shard-synthetic.h5", checkpoint: hash, creator: "A2LTrainingTests")
    var rng = RandomGenerator(seed: seed)
    let directions = (0..<3).map { _ in (0..<1024).map { _ in rng.normal() } }
    for item in frames.items {
        let mel = try frames.mel(rows: item.rows)
        let r = (0..<item.rowCount).map { t in Float(mel[(t * 320)..<((t + 1) * 320)].filter { $0 > 0 }.count) / 320 }
        var units: [Float] = []
        for t in 0..<item.rowCount {
            let levels = [r[max(t - 1, 0)], r[t], r[min(t + 1, item.rowCount - 1)]]
            units += (0..<1024).map { j in (0..<3).reduce(Float(0)) { $0 + levels[$1] * directions[$1][j] } }
        }
        try writer.append(units: units)
    }
    let summary = try writer.finish()
    try Ledger(existing: folder).recordLipUnitShard(LipUnitShardRecord(
        checkpoint: hash, file: "shard-synthetic.h5", rows: summary.rows, bytes: Int64(summary.bytes), checksum: summary.checksum,
        stageVersion: LipUnitsStage.version))
}

func tinyA2LConfig() -> A2LTrainingConfig {
    var config = A2LTrainingConfig()
    config.model.layers = 1
    config.model.dim = 32
    config.model.heads = 2
    config.model.feedForward = 64
    config.model.dropout = 0
    config.batch = 4
    config.frames = 10
    config.learningRate = 3e-3
    config.warmupSteps = 5
    config.evalEvery = 1000
    config.checkpointEvery = 1000
    config.evalWindows = 8
    return config
}

final class A2LTrainingTests: XCTestCase {
    func testSpanMaskingStatistics() {
        let masking = SpanMasking()
        var rng = RandomGenerator(seed: 3)
        for t in [5, 10, 30, 31, 50] {
            let k = masking.spanCount(t)
            XCTAssertEqual(k, max(1, Int((Double(t) / 10).rounded())))
            var covered = [Int](repeating: 0, count: t), firstStarts = Set<Int>()
            for _ in 0..<2000 {
                let starts = masking.draw(t, rng: &rng)
                XCTAssertEqual(starts.count, k)
                // inside the window, ascending, never overlapping (each span is 5 long)
                XCTAssertTrue(starts.allSatisfy { $0 >= 0 && $0 + 5 <= t }, "\(starts) for T = \(t)")
                XCTAssertTrue(zip(starts, starts.dropFirst()).allSatisfy { $1 - $0 >= 5 }, "\(starts)")
                let mask = masking.mask(t, starts: starts)
                XCTAssertEqual(mask.reduce(0, +), Float(5 * k))
                for i in 0..<t where mask[i] != 0 { covered[i] += 1 }
                firstStarts.insert(starts[0])
            }
            // every unit gets masked; the first span starts at 0 … T − 5k (all of them when k = 1)
            XCTAssertTrue(covered.allSatisfy { $0 > 0 }, "T = \(t): \(covered)")
            XCTAssertTrue(firstStarts.contains(0) && firstStarts.max()! <= t - 5 * k, "T = \(t): \(firstStarts.sorted())")
            if k == 1 { XCTAssertEqual(firstStarts.count, t - 4, "T = \(t)") }
            // the masked share is 50% where spans of 5 allow it
            if t % 10 == 0 { XCTAssertEqual(Double(5 * k) / Double(t), 0.5) }
        }
        // T = 30 has C(18, 3) = 816 placements, drawn uniformly: each about 2000/816 times in
        // 2000 draws; check the first span's start frequency against the exact distribution.
        var counts = [Int](repeating: 0, count: 16)
        for _ in 0..<20000 { counts[masking.draw(30, rng: &rng)[0]] += 1 }
        // P(first slot = s) = C(17 − s, 2) / C(18, 3)
        for s in 0..<16 {
            let expected = 20000.0 * Double((17 - s) * (16 - s) / 2) / 816
            XCTAssertEqual(Double(counts[s]), expected, accuracy: 5 * expected.squareRoot() + 2, "start \(s)")
        }
    }

    func testLossIgnoresUnmaskedStepsAndMaskedInputIsZero() {
        var rng = RandomGenerator(seed: 4)
        let t = 10
        let masking = SpanMasking()
        let mask = masking.mask(t, starts: masking.draw(t, rng: &rng))
        let audio = (0..<(t * 320)).map { _ in rng.normal() }
        let units = (0..<(t * 1024)).map { _ in rng.normal() }
        var changed = units
        for s in 0..<t where mask[s] == 0 { for j in 0..<1024 { changed[s * 1024 + j] += 5 } }
        let a = A2LBatch([(audio, units, mask, mask)], frames: t), b = A2LBatch([(audio, changed, mask, mask)], frames: t)
        for s in 0..<t {
            let row = Array(a.input.values[(s * 320)..<((s + 1) * 320)])
            XCTAssertEqual(row, mask[s] != 0 ? [Float](repeating: 0, count: 320) : Array(audio[(s * 320)..<((s + 1) * 320)]))
        }
        let model = A2L(tinyA2LConfig().model, rng: &rng)
        let context = Context(training: false)
        let predicted = model(a.input, context)
        let la = model.loss(predicted, a.target, mask: a.mask), lb = model.loss(predicted, b.target, mask: b.mask)
        XCTAssertEqual(la.item, lb.item)
        XCTAssertGreaterThan(la.item, 0)
        // and by hand: mean over masked steps and the 1024 dimensions
        let p = predicted.values
        var sum = 0.0
        for s in 0..<t where mask[s] != 0 { for j in 0..<1024 { sum += Double((p[s * 1024 + j] - units[s * 1024 + j]) * (p[s * 1024 + j] - units[s * 1024 + j])) } }
        XCTAssertEqual(Double(la.item), sum / Double(mask.reduce(0, +) * 1024), accuracy: 1e-4 * sum)
    }

    /// L2F and dubbing run A2L on audio without gaps: with `scoredSteps = .all` the loss also
    /// trains those steps, so their units come out closer to the true ones than after masked-only
    /// training (same data, seed and steps). A2L configs from before the option read as `.masked`.
    func testScoringAllStepsTrainsTheStepsWhoseAudioA2LHears() throws {
        let scratch = ScratchDir("a2l-scored")
        try writeSyntheticDataset(scratch.path("data"), speakers: 3, clips: 2, frames: 30)
        try writeSyntheticUnits(scratch.path("data"))
        let data = try A2LDataset(folder: scratch.path("data"))
        func trainer(_ scored: A2LTrainingConfig.ScoredSteps) throws -> A2LTrainer {
            var config = tinyA2LConfig()
            (config.steps, config.scoredSteps) = (300, scored)
            return try A2LTrainer(config: config, data: data, out: scratch.path(scored.rawValue))
        }
        // The input is masked alike; only the scored steps differ.
        let (all, masked) = (try trainer(.all), try trainer(.masked))
        let (a, m) = (try all.nextBatch(), try masked.nextBatch())
        XCTAssertEqual(a.input.values, m.input.values)
        XCTAssertEqual(a.mask.values, [Float](repeating: 1, count: a.mask.count))
        XCTAssertEqual(m.mask.values.reduce(0, +), Float(m.mask.count / 2))
        // Trained: the units of steps with their audio, the rest of the window masked as in pretraining.
        let (withAll, withMasked) = (try trainer(.all), try trainer(.masked))
        try withAll.run()
        try withMasked.run()
        let heard = { (t: A2LTrainer) in t.evaluation.score(t.model, scored: { $0.mask.map { 1 - $0 } }, zeroed: { $0.mask }) }
        XCTAssertLessThan(heard(withAll).mse, 0.7 * heard(withMasked).mse,
                          "unit error at steps with audio: all \(heard(withAll).mse), masked only \(heard(withMasked).mse)")

        var old = try JSONSerialization.jsonObject(with: JSONEncoder().encode(A2LTrainingConfig())) as! [String: Any]
        old["scoredSteps"] = nil
        let json = String(decoding: try JSONSerialization.data(withJSONObject: old), as: UTF8.self)
        let read = try A2LTrainingConfig.stored.read([CheckpointKind.kindKey: "cals-a2l", "a2l_training_config": json], path: "old.safetensors")
        XCTAssertEqual(read.scoredSteps, .masked)
    }

    func testBandAttentionEqualsFullAttentionWhenContextCoversTheWindow() {
        let t = 12
        var rng = RandomGenerator(seed: 6)
        let input = Tensor(randomNormal: [2, t, 320], rng: &rng)
        func output(_ context: Int?) -> [Float] {
            var config = tinyA2LConfig().model
            config.layers = 2
            config.context = context
            var weights = RandomGenerator(seed: 7)
            return A2L(config, rng: &weights)(input, Context(training: false)).values
        }
        let full = output(nil)
        func maxDifference(_ a: [Float]) -> Float { zip(a, full).map { abs($0 - $1) }.max()! }
        XCTAssertLessThan(maxDifference(output(t)), 1e-6)
        XCTAssertLessThan(maxDifference(output(t - 1)), 1e-6)   // |i − j| ≤ T − 1 already covers every pair
        XCTAssertGreaterThan(maxDifference(output(2)), 1e-3)
        // With K = 2, one layer or three, changing audio 3 or more frames away leaves a step
        // untouched (the bands add up to ±2, not ±2 per layer), and 2 frames away does not.
        for layers in [1, 3] {
            var config = tinyA2LConfig().model
            (config.context, config.layers) = (2, layers)
            var weights = RandomGenerator(seed: 7)
            let banded = A2L(config, rng: &weights)
            let before = banded(input, Context(training: false)).values
            let moved = Tensor(shape: input.shape, values: input.values.enumerated().map { $0.offset / 320 % t == 9 ? $0.element + 3 : $0.element })
            let after = banded(moved, Context(training: false)).values
            XCTAssertEqual(Array(before[(5 * 1024)..<(7 * 1024)]), Array(after[(5 * 1024)..<(7 * 1024)]), "\(layers) layers")
            XCTAssertNotEqual(Array(before[(7 * 1024)..<(8 * 1024)]), Array(after[(7 * 1024)..<(8 * 1024)]), "\(layers) layers")
        }
        XCTAssertEqual(A2L.layerBands(context: 2, layers: 6, frames: 31), [1, 1, 0, 0, 0, 0])
        XCTAssertEqual(A2L.layerBands(context: 13, layers: 6, frames: 31), [3, 3, 3, 3, 1, 0])
        XCTAssertEqual(A2L.layerBands(context: 30, layers: 6, frames: 31), [Int?](repeating: nil, count: 6))
    }

    func testShortTrainingLowersHeldOutLoss() throws {
        let scratch = ScratchDir("a2l-train")
        try writeSyntheticDataset(scratch.path("data"), speakers: 3, clips: 2, frames: 30)
        try writeSyntheticUnits(scratch.path("data"))
        var config = tinyA2LConfig()
        config.steps = 60
        config.evalEvery = 30
        let trainer = try A2LTrainer(config: config, data: try A2LDataset(folder: scratch.path("data")), out: scratch.path("run"))
        XCTAssertEqual(trainer.config.heldOutSpeakers, ["s2"])
        XCTAssertEqual(trainer.config.unitsCheckpoint, "synthetic-sync")
        XCTAssertTrue(trainer.model.outputProj.parameters.allSatisfy { $0.1.values.allSatisfy { $0 == 0 } },
                      "a new run starts predicting zero units")
        let before = trainer.evaluate()
        try trainer.run()
        let after = trainer.evaluate()
        XCTAssertEqual(trainer.evalLog.records.map(\.step), [30, 60])
        XCTAssertEqual(trainer.evalLog.records.last?.loss, after.mse)
        XCTAssertLessThan(after.mse, 0.5 * before.mse, "held-out masked MSE \(before.mse) → \(after.mse)")
        XCTAssertGreaterThan(after.cosine, before.cosine)
        // Checkpoint, plot; the model loads back with the same score.
        let (model, saved) = try A2LCheckpoint.load(trainer.checkpointPath)
        XCTAssertEqual(saved, trainer.config)
        XCTAssertEqual(trainer.evaluation.score(model), after)
        let decoded = try TestSupport.run(TestEnv.python, ["-c", "import cv2, sys; print(cv2.imread(sys.argv[1]).shape)", trainer.plotPath])
        XCTAssertEqual(decoded.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "(540, 800, 3)", decoded.stderr)
        // The window curve covers w = 0…(T−1)/2 and the gap test scores 7 frames per window.
        let curve = trainer.evaluation.windowCurve(model)
        XCTAssertEqual(curve.map(\.w), Array(0...4))
        XCTAssertEqual(curve[0].masked.steps, trainer.evaluation.windows.count)
        XCTAssertEqual(curve[4].withAudio.steps, trainer.evaluation.windows.count)
        XCTAssertEqual(trainer.evaluation.gapScore(model).steps, 7 * trainer.evaluation.windows.count)
        XCTAssertEqual(levelOff([9, 5, 3, 2.05, 2, 2.2]), 3)
        XCTAssertEqual(levelOff([1, 1, 1]), 0)
    }

    func testResumeContinuesExactly() throws {
        let scratch = ScratchDir("a2l-resume")
        try writeSyntheticDataset(scratch.path("data"), speakers: 2, clips: 1, frames: 20)
        try writeSyntheticUnits(scratch.path("data"))
        let data = try A2LDataset(folder: scratch.path("data"))
        var config = tinyA2LConfig()
        config.model.dropout = 0.1
        config.checkpointEvery = 3
        config.evalEvery = 3   // the shorter run's final evaluation (step 3) is then one of the longer run's too
        let (straight, resumed, (a, b)) = try trainStraightAndResumed(
            steps: 6, stoppingAt: 3, folders: (scratch.path("a"), scratch.path("b"))) { steps, out, resume in
            config.steps = steps
            return try A2LTrainer(config: config, data: data, out: out, resume: resume)
        }
        XCTAssertEqual(a.metadata, b.metadata)
        XCTAssertEqual(straight.log.records, resumed.log.records)
        XCTAssertEqual(straight.evalLog.records, resumed.evalLog.records)
    }

    func testBadInputsAreClearErrors() throws {
        let scratch = ScratchDir("a2l-bad")
        let folder = scratch.path("data")
        try writeSyntheticDataset(folder, speakers: 2, clips: 1, frames: 12)
        // No lip units yet: the error names the stage that makes them.
        XCTAssertThrowsError(try A2LDataset(folder: folder)) {
            XCTAssertTrue("\($0)".hasPrefix("\(folder): no lip-unit shards") && "\($0)".contains("lip_units"), "\($0)")
        }
        try writeSyntheticUnits(folder, hash: "aaaa")
        // Units of another checkpoint than the one asked for / recorded.
        XCTAssertThrowsError(try A2LDataset(folder: folder, unitsCheckpoint: "bbbb")) {
            XCTAssertTrue("\($0)".contains("no lip units from sync checkpoint bbbb") && "\($0)".contains("aaaa"), "\($0)")
        }
        var config = tinyA2LConfig()
        config.steps = 1
        let data = try A2LDataset(folder: folder)
        try A2LTrainer(config: config, data: data, out: scratch.path("run")).run()
        try writeSyntheticUnits(folder, hash: "bbbb")
        XCTAssertThrowsError(try A2LDataset(folder: folder)) { XCTAssertTrue("\($0)".contains("several sync checkpoints"), "\($0)") }
        XCTAssertThrowsError(try A2LTrainer(config: config, data: try A2LDataset(folder: folder, unitsCheckpoint: "bbbb"),
                                            out: scratch.path("run"), resume: true)) {
            XCTAssertTrue("\($0)".contains("lip units come from sync checkpoint bbbb") && "\($0)".contains("trained on units of aaaa"), "\($0)")
        }
        // T longer than every segment.
        config.frames = 13
        XCTAssertThrowsError(try A2LTrainer(config: config, data: data, out: scratch.path("long"))) {
            XCTAssertTrue("\($0)".contains("has the 13 frames a window needs (longest: 12)"), "\($0)")
        }
        // Weights of another model size under this config.
        var wide = tinyA2LConfig().model
        wide.dim = 64
        var rng = RandomGenerator(seed: 1)
        let other = scratch.path("other.safetensors")
        try Safetensors.write(A2L(wide, rng: &rng).stateDict, metadata: try A2LCheckpoint.metadata(tinyA2LConfig()), to: other)
        XCTAssertThrowsError(try A2LCheckpoint.load(other)) {
            XCTAssertTrue("\($0)".hasPrefix("\(other): tensor ") && "\($0)".contains("has shape"), "\($0)")
        }
    }
}
