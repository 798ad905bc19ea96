import Common
import Dataset
import Foundation
import Models
import NN
import Tensor

/// Everything that defines an A2L pretraining run; stored in its checkpoints so `--resume`
/// continues the same run and evaluation rebuilds the same model.
public struct A2LTrainingConfig: Codable, Equatable {
    public var steps = 2000
    /// Windows per batch, each from a random clip of a random training speaker.
    public var batch = 8
    /// Frames (units) T per window.
    public var frames = 31
    public var learningRate: Float = 1e-4
    /// Linear learning-rate warm-up over the first steps.
    public var warmupSteps = 100
    /// Global gradient-norm clip.
    public var clipNorm: Float = 1
    public var evalEvery = 100
    public var checkpointEvery = 200
    /// Held-out windows scored at each evaluation.
    public var evalWindows = 64
    /// Speakers never trained on, for evaluation; empty = the last speaker in sorted order.
    public var heldOutSpeakers: [String] = []
    /// Content hash of the sync checkpoint whose lip units are the targets.
    public var unitsCheckpoint = ""
    public var seed: UInt64 = 1
    public var masking = SpanMasking()
    /// The steps the loss scores: `masked` only (SPEC §3, as in HuBERT), or `all`, where the masked
    /// steps are predicted from their context and the others from their own audio as well. L2F and
    /// dubbing run A2L on audio without gaps, at steps a masked-only loss never trains.
    public var scoredSteps = ScoredSteps.masked
    public var model = A2L.Config()
    public init() {}

    public enum ScoredSteps: String, Codable, Sendable { case masked, all }
}

/// Masked-unit scores of an A2L model: mean squared error and cosine similarity between
/// predicted and true lip units over the scored steps.
public struct A2LScore: Codable, Equatable, Sendable {
    public var mse: Double
    public var cosine: Double
    public var steps: Int
}

/// Fixed evaluation windows: consecutive non-overlapping windows of T rows taken round-robin
/// over `clips` (sorted by id) until `count`, each with a span mask from a fixed seed, so every
/// model and every step is scored on the same inputs.
public struct A2LEvaluationSet {
    public var windows: [(audio: [Float], units: [Float], mask: [Float])] = []
    public let frames: Int
    public static let maskSeed: UInt64 = 20_240_601

    public init(clips: [A2LDataset.Clip], frames t: Int, count: Int, masking: SpanMasking) throws {
        frames = t
        var rng = RandomGenerator(seed: Self.maskSeed)
        let sorted = clips.sorted { $0.id < $1.id }
        var next = [Int](repeating: 0, count: sorted.count)
        while windows.count < count {
            var added = false
            for (i, clip) in sorted.enumerated() where windows.count < count && next[i] + t <= clip.rowCount {
                let w = try clip.window(next[i]..<(next[i] + t))
                windows.append((w.audio, w.units, masking.mask(t, starts: masking.draw(t, rng: &rng))))
                next[i] += t
                added = true
            }
            if !added { break }
        }
    }

    /// Scores `model` with the span masks (zeroed = scored = masked spans).
    public func score(_ model: A2L) -> A2LScore {
        score(model) { $0.mask } zeroed: { $0.mask }
    }

    /// Scores `model` on inputs whose audio is zeroed where `zeroed(window)` is 1, at the steps
    /// where `scored(window)` is 1; eval mode, batches of 16.
    public func score(_ model: A2L, scored: (_ window: (audio: [Float], units: [Float], mask: [Float])) -> [Float],
                      zeroed: (_ window: (audio: [Float], units: [Float], mask: [Float])) -> [Float]) -> A2LScore {
        let context = Context(training: false)
        var squared = 0.0, cosine = 0.0, steps = 0
        for start in stride(from: 0, to: windows.count, by: 16) {
            let chunk = windows[start..<min(start + 16, windows.count)]
            let batch = A2LBatch(chunk.map { ($0.audio, $0.units, zeroed($0), scored($0)) }, frames: frames)
            withoutGrad {
                let predicted = model(batch.input, context)
                let mse = Double(model.loss(predicted, batch.target, mask: batch.mask).item)
                let cos = cosineSimilarity(predicted, batch.target)   // [B, T]
                var n = 0.0, c = 0.0
                let (mask, cosines) = (batch.mask.values, cos.values)
                for i in 0..<mask.count where mask[i] != 0 { n += 1; c += Double(cosines[i]) }
                squared += mse * n; cosine += c; steps += Int(n)
            }
        }
        return A2LScore(mse: squared / Double(max(steps, 1)), cosine: cosine / Double(max(steps, 1)), steps: steps)
    }
}

/// Pretrains A2L (SPEC §3) by masked prediction on an `A2LDataset` in the training loop: Adam with warm-up and
/// gradient clipping on the masked MSE, held-out masked MSE every `evalEvery` steps, an atomic
/// checkpoint (model, Adam moments, random state, config) every `checkpointEvery` steps and at
/// the end, `log.csv` (training steps), `eval.csv` (held-out scores) and `plot.png` beside it.
public final class A2LTrainer: TrainingStep {
    public let config: A2LTrainingConfig
    public let model: A2L
    public let optimizer: Adam
    public let context: Context
    public let folder: RunFolder
    public let rank: TrainingRank
    public var keepEvery = 0
    /// Training clips grouped by speaker.
    public let trainClips: [[A2LDataset.Clip]]
    public let evaluation: A2LEvaluationSet
    /// Training steps (loss = masked MSE, accuracy = masked cosine) and held-out scores (same fields).
    public let log: TrainingLog, evalLog: TrainingLog

    public var plotPath: String { folder.file("plot.png") }
    public var step: Int { optimizer.step }
    public var lastStep: Int { config.steps }

    /// A new run, or with `resume` the run whose checkpoint is in `out` (its config wins, except
    /// `steps`, which may be raised to train longer). The data's lip units must come from the
    /// sync checkpoint the run records. A new run into a folder holding a checkpoint is an error
    /// unless `fresh` (which discards that checkpoint).
    public init(config: A2LTrainingConfig, data: A2LDataset, out: String, resume: Bool = false, fresh: Bool = false,
                rank: TrainingRank = .single) throws {
        folder = RunFolder(out)
        self.rank = rank
        try folder.prepare(resume: resume, fresh: fresh, writes: rank.isPrimary)
        var config = config
        let checkpoint = folder.checkpointPath
        if resume {
            config = try A2LTrainingConfig.stored.resumed(config, path: checkpoint)
        } else {
            config.unitsCheckpoint = data.unitsCheckpoint
        }
        guard config.unitsCheckpoint == data.unitsCheckpoint else {
            throw InputError(data.folder, "lip units come from sync checkpoint \(data.unitsCheckpoint), but \(checkpoint) "
                             + "was trained on units of \(config.unitsCheckpoint)")
        }
        let (trainSpeakers, heldOut) = try config.splitSpeakers(data.speakers, folder: data.folder, use: "evaluation")
        config.heldOutSpeakers = heldOut   // recorded, so evaluation finds the same speakers
        try rank.sampler.requireShare(ofBatch: config.batch, of: "windows")
        self.config = config
        context = Context(training: true, seed: config.seed)
        context.batchStatistics = rank.world
        // The strided share of `BatchSampler`: dropout masks are those of the global batch's samples.
        context.batchPositions = BatchPositions(first: rank.sampler.rank, stride: rank.sampler.worldSize)
        model = A2L(config.model, rng: &context.rng)
        optimizer = Adam(model.parameters, learningRate: config.learningRate)
        if resume {
            try Checkpoint.load(checkpoint, into: model, optimizer: optimizer, context: context)
        } else {
            // Lip units are unit vectors (per-dimension values ~0.03); the default init predicts
            // values ~0.5 and spent the first few thousand steps of Adam 1e-4 shrinking them
            // (MSE 0.33 → 0.0007). Starting the output at zero starts at MSE ≈ 1/1024.
            for (_, p) in model.outputProj.parameters { p.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        }

        let train = try data.clips(of: trainSpeakers, minRows: config.frames, role: "training")
        trainClips = trainSpeakers.map { s in train.filter { $0.speaker == s } }.filter { !$0.isEmpty }
        let heldOutClips = try data.clips(of: heldOut, minRows: config.frames, role: "held-out")
        evaluation = try A2LEvaluationSet(clips: heldOutClips, frames: config.frames, count: config.evalWindows, masking: config.masking)
        if rank.isPrimary { try folder.recordData((train + heldOutClips).map(\.frames)) }
        let keep = resume ? optimizer.step : nil
        log = try TrainingLog(path: folder.file("log.csv"), keepingUpTo: keep, writes: rank.isPrimary)
        evalLog = try TrainingLog(path: folder.file("eval.csv"), keepingUpTo: keep, writes: rank.isPrimary)
    }

    /// This rank's share of a batch of random training windows with fresh span masks (every
    /// rank draws the whole batch from the run's rng).
    public func nextBatch() throws -> A2LBatch {
        let t = config.frames
        let draws = rank.sampler.share(ofBatch: config.batch) { () -> (A2LDataset.Clip, Int, [Float]) in
            let speaker = trainClips[context.rng.int(below: trainClips.count)]
            let clip = speaker[context.rng.int(below: speaker.count)]
            let offset = context.rng.int(below: clip.rowCount - t + 1)
            return (clip, offset, config.masking.mask(t, starts: config.masking.draw(t, rng: &context.rng)))
        }
        let windows = try draws.map { clip, offset, mask in
            let w = try clip.window(offset..<(offset + t))
            let scored = config.scoredSteps == .all ? [Float](repeating: 1, count: t) : mask
            return (audio: w.audio, units: w.units, zeroed: mask, scored: scored)
        }
        return A2LBatch(windows, frames: t)
    }

    public var trainingState: [(String, Tensor)] { model.stateDict + optimizer.state() }

    /// Adam with warm-up and gradient clipping on the masked MSE; the record holds the masked MSE
    /// and masked cosine similarity.
    public func plan(_ batch: A2LBatch) -> StepPlan<TrainingRecord> {
        var result: (predicted: Tensor, loss: Tensor)?
        let objective = Objective(optimizer: optimizer, forward: { [self] in
            context.training = true
            let predicted = model(batch.input, context)
            let loss = model.loss(predicted, batch.target, mask: batch.mask)
            result = (predicted, loss)
            return loss
        }, beforeUpdate: { [self] in
            optimizer.learningRate = warmupLearningRate(base: config.learningRate, step: step + 1, warmupSteps: config.warmupSteps)
            clipGradNorm(model.parameters, maxNorm: config.clipNorm)
        })
        return StepPlan(objectives: [objective]) { [self] in
            let (predicted, loss) = result!
            let cos = withoutGrad { cosineSimilarity(predicted.detached(), batch.target) }
            var c = 0.0, n = 0.0
            let (mask, cosines) = (batch.mask.values, cos.values)
            for i in 0..<mask.count where mask[i] != 0 { c += Double(cosines[i]); n += 1 }
            return TrainingRecord(step: step, loss: Double(loss.item), accuracy: c / max(n, 1))
        }
    }

    /// One step of the training loop on the next batch.
    public func trainStep() throws -> TrainingRecord { try TrainingLoop.step(self) }

    public func evaluate() -> A2LScore { evaluation.score(model) }

    public func saveCheckpoint() throws {
        try Checkpoint.save(model, optimizer: optimizer, context: context, to: checkpointPath,
                            extra: try A2LCheckpoint.metadata(config))
        let held = (mse: evalLog.series("loss"), cosine: evalLog.series("accuracy"))
        try plotMetrics([
            PlotPanel("masked-unit MSE, log scale: training (blue), held-out (red)", scale: .logarithmic, curves: [
                .init(log.series("loss"), colour: PlotPanel.blue), .init(held.mse, colour: PlotPanel.red, marks: true)]),
            PlotPanel("cosine to the true units: training (light blue), held-out (red)", curves: [
                .init(log.series("accuracy"), colour: PlotPanel.lightBlue), .init(held.cosine, colour: PlotPanel.red, marks: true)]),
        ], to: plotPath)
    }

    /// Evaluates when due (primary rank) and logs the step.
    public func finish(_ record: TrainingRecord, progress: Common.Progress?) throws -> String {
        var record = record
        if rank.isPrimary && (step % config.evalEvery == 0 || step == config.steps) {
            let score = evaluate()
            record.evalAccuracy = score.cosine
            try evalLog.append(TrainingRecord(step: step, loss: score.mse, accuracy: score.cosine))
            progress?.log(String(format: "step %d  loss %.6f  held-out masked MSE %.6f  cosine %.4f",
                                 step, record.loss, score.mse, score.cosine))
        }
        try log.append(record)
        return String(format: "loss %.6f", record.loss)
    }

    /// Trains until `config.steps`, reporting each step to `progress`.
    public func run(progress: Common.Progress? = nil) throws {
        try TrainingLoop.run(self, checkpointEvery: config.checkpointEvery, progress: progress)
    }
}

extension A2LTrainingConfig: TrainingRunConfig {
    public static let stored = StoredConfig<Self>(.a2l)

    /// `layers 6, dim 512, heads 8, ff 2048, context full`
    public var sizeDescription: String {
        "layers \(model.layers), dim \(model.dim), heads \(model.heads), ff \(model.feedForward), "
            + "context \(model.context.map { "±\($0)" } ?? "full")"
    }
}

/// The run config in A2L checkpoints, and the model with it for evaluation.
public enum A2LCheckpoint {
    public static func metadata(_ config: A2LTrainingConfig) throws -> [String: String] {
        try A2LTrainingConfig.stored.metadata(config)
    }

    public static func trainingConfig(_ path: String) throws -> A2LTrainingConfig {
        try A2LTrainingConfig.stored.read(path)
    }

    /// The model of a checkpoint and the config it was trained with.
    public static func load(_ path: String) throws -> (model: A2L, config: A2LTrainingConfig) {
        let (tensors, metadata) = try Safetensors.read(path)
        return (try A2L.load(tensors, metadata, path: path), try A2LTrainingConfig.stored.read(metadata, path: path))
    }
}
