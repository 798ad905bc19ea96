import Common
import Dataset
import Foundation
import Models
import NN
import Tensor

/// Everything that defines a sync-encoder training run; stored in its checkpoints so `--resume`
/// continues the same run.
public struct SyncTrainingConfig: Codable, Equatable, Sendable {
    public var steps = 600
    /// Clips per batch, drawn speaker first (uniform over training speakers), then clip.
    public var clipsPerBatch = 4
    /// Consecutive video windows per clip; they share the clip's audio windows.
    public var windowsPerClip = 8
    /// Candidate offsets −L…L of the matching loss (each clip's V + 2L audio windows are shared
    /// by its V video windows). Smaller than `maxOffset` to keep the audio stream's share of a
    /// step small; the near offsets (the hard negatives) are all in.
    public var lossOffsets = 6
    /// Offsets 0 < |k| ≤ this left out of the loss's candidates (0 = none): smoother lip units,
    /// at the price of telling adjacent offsets apart less sharply.
    public var excludeNearOffsets = 0
    /// Candidate offsets −M…M of the evaluation (M = 15: 31 candidates).
    public var maxOffset = 15
    /// Fixed softmax temperature τ: logits = cos / τ. Cosines of non-negative unit vectors lie in
    /// [0, 1], so τ = 0.1 gives logits in [0, 10].
    public var temperature: Float = 0.1
    public var learningRate: Float = 3e-4
    /// Cosine decay of the learning rate to 10% by `steps` (false: constant; a resumed run with
    /// more steps stretches the curve).
    public var cosineDecay = false
    public var checkpointEvery = 100
    public var evalEvery = 50
    /// Held-out clips scored at each evaluation (all of their windows).
    public var evalClips = 8
    /// Speakers never trained on, for evaluation; empty = the last speaker in sorted order.
    public var heldOutSpeakers: [String] = []
    public var seed: UInt64 = 1
    /// Per-clip augmentation of the visual windows; nil = none (and in checkpoints written before
    /// it existed).
    public var augmentation: ClipAugmentation? = ClipAugmentation()
    public var model = SyncEncoder.Config()
    public init() {}

    /// Frames a clip needs for one training sample: V windows with ±L audio, each ±2 units.
    public var minimumTrainingFrames: Int { windowsPerClip + 2 * lossOffsets + 4 }
}

/// Trains the sync encoder (SPEC §3) on a `ProcessedDataset` in the training loop: Adam on the
/// multi-way matching loss, held-out offset accuracy every `evalEvery` steps, an atomic
/// checkpoint (model, Adam moments, random state, config) every `checkpointEvery` steps and at the
/// end, `log.csv` and `plot.png` beside it.
public final class SyncTrainer: TrainingStep {
    public let config: SyncTrainingConfig
    public let model: SyncEncoder
    public let optimizer: Adam
    public let context: Context
    public let folder: RunFolder
    public let rank: TrainingRank
    public var keepEvery = 0
    /// Training clips grouped by speaker; held-out clips.
    public let trainClips: [[ProcessedDataset.Clip]]
    public let evalClips: [ProcessedDataset.Clip]
    public let log: TrainingLog

    public var plotPath: String { folder.file("plot.png") }
    public var step: Int { optimizer.step }
    public var lastStep: Int { config.steps }

    /// A new run, or with `resume` the run whose checkpoint is in `out` (its config wins, except
    /// `steps`, which may be raised to train longer). A new run into a folder holding a
    /// checkpoint is an error unless `fresh` (which discards that checkpoint).
    public init(config: SyncTrainingConfig, data: ProcessedDataset, out: String, resume: Bool = false, fresh: Bool = false,
                rank: TrainingRank = .single) throws {
        folder = RunFolder(out)
        self.rank = rank
        try folder.prepare(resume: resume, fresh: fresh, writes: rank.isPrimary)
        var config = config
        if resume { config = try SyncTrainingConfig.stored.resumed(config, path: folder.checkpointPath) }
        try rank.sampler.requireShare(ofBatch: config.clipsPerBatch, of: "clips")
        self.config = config
        context = Context(training: true, seed: config.seed)
        context.batchStatistics = rank.world
        model = SyncEncoder(config.model, rng: &context.rng)
        optimizer = Adam(model.parameters, learningRate: config.learningRate)
        if resume { try Checkpoint.load(folder.checkpointPath, into: model, optimizer: optimizer, context: context) }

        let (trainSpeakers, heldOut) = try config.splitSpeakers(data.speakers, folder: data.outFolder, use: "evaluation")
        trainClips = trainSpeakers.map { s in
            data.clips.filter { $0.speaker == s && $0.rowCount >= config.minimumTrainingFrames }
        }.filter { !$0.isEmpty }
        guard !trainClips.isEmpty else {
            throw InputError(data.outFolder, "no training clip has the \(config.minimumTrainingFrames) frames a batch window needs "
                             + "(\(config.windowsPerClip) windows ± \(config.lossOffsets) offsets)")
        }
        let minimum = OffsetSimilarities.minimumFrames(maxOffset: config.maxOffset)
        evalClips = Array(data.clips.filter { heldOut.contains($0.speaker) && $0.rowCount >= minimum }.prefix(config.evalClips))
        guard !evalClips.isEmpty else {
            throw InputError(data.outFolder, "held-out speakers \(heldOut) have no clip of \(minimum) frames or more")
        }
        if rank.isPrimary { try folder.recordData(trainClips.joined() + evalClips) }
        log = try TrainingLog(path: folder.file("log.csv"), keepingUpTo: resume ? optimizer.step : nil, writes: rank.isPrimary)
    }

    /// This rank's share of a batch of `clipsPerBatch` clips: visual [C·V, 15, 64, 128], audio
    /// [C·(V + 2L), 1, 80, 20] for its C clips. Every rank draws the whole batch.
    public func nextBatch() throws -> (visual: Tensor, audio: Tensor) {
        let (v, m) = (config.windowsPerClip, config.lossOffsets)
        let draws = rank.sampler.share(ofBatch: config.clipsPerBatch) { () -> (ProcessedDataset.Clip, Int, ClipAugmentation.Draw?) in
            let speaker = trainClips[context.rng.int(below: trainClips.count)]
            let clip = speaker[context.rng.int(below: speaker.count)]
            // first video centre t0 ∈ [L + 2, T − 3 − L − (V − 1)]
            let t0 = m + 2 + context.rng.int(below: clip.rowCount - config.minimumTrainingFrames + 1)
            return (clip, t0, config.augmentation?.draw(&context.rng))
        }
        var visual: [Tensor] = [], audio: [Tensor] = []
        for (clip, t0, augmentation) in draws {
            let rows = try clip.rows((t0 - m - 2)..<(t0 + v - 1 + m + 3))
            // local row of centre t0 is m + 2
            let frames = Array(rows.frames[((m) * 128 * 128 * 3)..<((m + v + 4) * 128 * 128 * 3)])   // rows t0−2 … t0+V+1
            let windows = frames.withUnsafeBufferPointer { SyncEncoder.visualInput(frames: $0, centres: Array(2..<(2 + v))) }
            if let augmentation { ClipAugmentation.apply(augmentation, to: windows) }
            visual.append(windows)
            audio.append(rows.mel.withUnsafeBufferPointer { SyncEncoder.audioInput(mel: $0, centres: Array(2..<(2 + v + 2 * m))) })
        }
        return (withoutGrad { concat(visual, axis: 0) }, withoutGrad { concat(audio, axis: 0) })
    }

    /// Adam on the matching loss; the record holds the loss and the batch accuracy (argmax at
    /// offset 0 among the loss's candidates).
    public func plan(_ batch: (visual: Tensor, audio: Tensor)) -> StepPlan<TrainingRecord> {
        var result: (loss: Tensor, logits: Tensor, target: Int)?
        let clips = batch.audio.shape[0] / (config.windowsPerClip + 2 * config.lossOffsets)
        let objective = Objective(optimizer: optimizer, forward: { [self] in
            context.training = true
            let video = model.embedVisual(batch.visual, context)
            let audio = model.embedAudio(batch.audio, context)
                .reshaped([clips, config.windowsPerClip + 2 * config.lossOffsets, config.model.outputDim])
            let r = syncMatchingLoss(video: video, audio: audio, offsets: config.lossOffsets,
                                     temperature: config.temperature, excludingNear: config.excludeNearOffsets)
            result = r
            return r.loss
        }, beforeUpdate: { [self] in
            if config.cosineDecay {
                optimizer.learningRate = cosineLearningRate(base: config.learningRate, step: step + 1, total: config.steps, floor: 0.1)
            }
        })
        return StepPlan(objectives: [objective]) { [self] in
            let (loss, logits, target) = result!
            let k = logits.shape[1], l = logits.values
            let hits = (0..<logits.shape[0]).filter { w in
                let row = l[(w * k)..<((w + 1) * k)]
                return row.indices.max { row[$0] < row[$1] }! - w * k == target
            }.count
            return TrainingRecord(step: step, loss: Double(loss.item), accuracy: Double(hits) / Double(logits.shape[0]))
        }
    }

    public var trainingState: [(String, Tensor)] { model.stateDict + optimizer.state() }

    /// One step of the training loop on the next batch.
    public func trainStep() throws -> TrainingRecord { try TrainingLoop.step(self) }

    /// Held-out accuracy of picking offset 0 among −M…M, over every window of the eval clips.
    public func evaluate() throws -> Double {
        try SyncAccuracy(model: model, clips: evalClips, maxOffset: config.maxOffset).exact
    }

    /// Evaluates when due (primary rank) and logs the step.
    public func finish(_ record: TrainingRecord, progress: Common.Progress?) throws -> String {
        var record = record
        if rank.isPrimary && (step % config.evalEvery == 0 || step == config.steps) { record.evalAccuracy = try evaluate() }
        try log.append(record)
        if let eval = record.evalAccuracy {
            progress?.log(String(format: "step %d  loss %.4f  batch accuracy %.3f  held-out accuracy %.3f",
                                 step, record.loss, record.accuracy, eval))
        }
        return String(format: "loss %.3f", record.loss)
    }

    public func saveCheckpoint() throws {
        try Checkpoint.save(model, optimizer: optimizer, context: context, to: checkpointPath,
                            extra: try SyncCheckpoint.metadata(config))
        try plotMetrics([
            PlotPanel("loss (multi-way matching)", curves: [.init(log.series("loss"), colour: PlotPanel.blue)]),
            PlotPanel("offset accuracy: batch (light blue), held-out (red), chance (dashed)", scale: .unit, curves: [
                .init(log.series("accuracy"), colour: PlotPanel.lightBlue),
                .init(log.series("eval_accuracy"), colour: PlotPanel.red, marks: true),
            ], reference: 1 / Double(2 * config.maxOffset + 1)),
        ], to: plotPath)
    }

    /// Trains until `config.steps`, reporting each step to `progress`.
    public func run(progress: Common.Progress? = nil) throws {
        try TrainingLoop.run(self, checkpointEvery: config.checkpointEvery, progress: progress)
    }
}

extension SyncTrainingConfig: TrainingRunConfig {
    public static let stored = StoredConfig<Self>(.syncEncoder)
}

/// The run config in sync-encoder checkpoints (the model alone for inference:
/// `Models.SyncEncoder.load(checkpoint:)`).
public enum SyncCheckpoint {
    /// The metadata `Checkpoint.save` gets: the kind and the training config as JSON.
    public static func metadata(_ config: SyncTrainingConfig) throws -> [String: String] {
        try SyncTrainingConfig.stored.metadata(config)
    }

    /// The training config stored in the checkpoint at `path`.
    public static func trainingConfig(_ path: String) throws -> SyncTrainingConfig {
        try SyncTrainingConfig.stored.read(path)
    }
}
