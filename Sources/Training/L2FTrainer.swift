import Common
import Dataset
import Foundation
import Models
import NN
import Tensor

/// Trains L2F (SPEC §3) on a ProcessedDataset in the training loop: batches of windows from
/// training speakers, one discriminator + generator step each, an atomic checkpoint
/// (L2FCheckpointing.swift) every `checkpointEvery` steps and at the end, `log.csv` with every
/// loss term and `loss.png` (L2FRecord.swift), and `grid-<step>.png` of a fixed held-out window
/// (L2FGrid.swift).
public final class L2FTrainer: TrainingStep {
    public let config: L2FTrainingConfig
    public let models: L2FModels
    public let lip: LipEncoder
    public let folder: RunFolder
    public let rank: TrainingRank
    public var keepEvery = 0
    public let trainClips: [[ProcessedDataset.Clip]]
    public let gridClip: ProcessedDataset.Clip
    public let log: MetricsLog<L2FRecord>
    public var records: [L2FRecord] { log.records }
    /// Checkpoint.fingerprint of the frozen sync encoder and of the A2L the run started from (nil
    /// for the window encoder, and in runs from before fingerprints): a resume given other
    /// checkpoints is refused.
    let syncFingerprint: String
    let a2lFingerprint: String?

    public var logPath: String { folder.file("log.csv") }
    public var plotPath: String { folder.file("loss.png") }
    public var step: Int { models.generatorOptimizer.step }
    public var lastStep: Int { config.steps }
    var context: Context { models.context }

    /// A new run from the sync encoder at `syncPath` and (for `.a2l`) the A2L checkpoint at
    /// `a2lPath`, or with `resume` the run in `out` (its config wins, except `steps` and
    /// `checkpointEvery`; `syncPath` must be the run's sync encoder, and `a2lPath`, if given, the A2L
    /// it started from). A new run into a folder holding a checkpoint is an error unless `fresh`
    /// (which discards that checkpoint).
    public init(config: L2FTrainingConfig, data: ProcessedDataset, out: String, syncPath: String, a2lPath: String?,
                resume: Bool = false, fresh: Bool = false, rank: TrainingRank = .single) throws {
        folder = RunFolder(out)
        self.rank = rank
        var config = config
        let checkpoint = folder.checkpointPath
        var saved: (tensors: [String: Tensor], metadata: [String: String])?
        if resume {
            saved = try Safetensors.read(checkpoint)
            config = try L2FTrainingConfig.stored.resumed(config, path: checkpoint, metadata: saved!.metadata)
        } else if config.audioEncoder == .a2l {
            guard let a2lPath else { throw InputError(out, "--a2l is required unless --audio-encoder window") }
            config.a2l = try A2LCheckpoint.trainingConfig(a2lPath).model
            config.generator.lipDim = config.a2l!.outputDim
        }
        try rank.sampler.requireShare(ofBatch: config.windows, of: "windows")
        precondition(config.frames >= 1 && config.windows >= 1 && config.checkpointEvery >= 1 && config.gridEvery >= 1,
                     "L2F config with non-positive sizes or intervals")
        let sync = try SyncEncoder.load(checkpoint: syncPath)
        syncFingerprint = Checkpoint.fingerprint(sync.stateDict)
        let context = Context(training: true, seed: config.seed)
        context.batchStatistics = rank.world
        // The strided share of `BatchSampler`: A2L's dropout masks are those of the global batch's windows.
        context.batchPositions = BatchPositions(first: rank.sampler.rank, stride: rank.sampler.worldSize)
        let generator = Generator(config.generator, rng: &context.rng)
        let discriminator = Discriminator(config.discriminator, rng: &context.rng)
        lip = LipEncoder(config.lipEncoder, rng: &context.rng)
        var givenA2L: String?       // the fingerprint of the A2L at a2lPath
        if let a2lPath, config.audioEncoder == .a2l {
            // A resumed run only compares these weights: load() below puts the run's own in their place.
            try Checkpoint.copy(try Safetensors.read(a2lPath).tensors, into: lip.stateDict, path: a2lPath)
            givenA2L = Checkpoint.fingerprint(lip.stateDict)
        } else if let a2lPath, saved != nil {
            throw InputError(a2lPath, "given to resume \(out), which trains the window audio encoder, not A2L")
        }
        if let saved {
            try Self.requireSame(syncFingerprint, saved.metadata, key: "sync_fingerprint", path: syncPath, model: "sync encoder", run: out)
            if let givenA2L {
                try Self.requireSame(givenA2L, saved.metadata, key: "a2l_fingerprint", path: a2lPath!, model: "A2L", run: out)
            }
            a2lFingerprint = saved.metadata["a2l_fingerprint"]
        } else {
            a2lFingerprint = givenA2L
        }
        try folder.prepare(resume: resume, fresh: fresh, stepKey: "generator_step", writes: rank.isPrimary)
        self.config = config
        models = L2FModels(generator: generator, discriminator: discriminator, sync: sync, weights: config.weights,
                           lipParameters: lip.trainedParameters, learningRate: config.learningRate,
                           lipLearningRate: config.a2lLearningRate,
                           context: context)
        models.clipNorm = config.clipNorm > 0 ? config.clipNorm : nil

        let (trainSpeakers, heldOut) = try config.splitSpeakers(data.speakers, folder: data.outFolder, use: "the grids")
        trainClips = trainSpeakers.map { s in data.clips.filter { $0.speaker == s && $0.rowCount >= config.frames } }
            .filter { !$0.isEmpty }
        guard !trainClips.isEmpty else {
            throw InputError(data.outFolder, "no training clip has the \(config.frames) frames a window needs")
        }
        guard let grid = data.clips.first(where: { heldOut.contains($0.speaker) && $0.rowCount >= config.frames }) else {
            throw InputError(data.outFolder, "held-out speakers \(heldOut) have no clip of \(config.frames) frames or more")
        }
        gridClip = grid
        if rank.isPrimary { try folder.recordData(trainClips.joined() + [grid]) }
        if let saved { try models.restore(saved.tensors, saved.metadata, lip: lip, path: checkpoint) }
        log = try MetricsLog(path: folder.file("log.csv"), keepingUpTo: saved != nil ? models.generatorOptimizer.step : nil,
                             writes: rank.isPrimary)
    }

    // MARK: Batches

    /// This rank's share of a batch: for each window a random training clip (speaker first), T
    /// consecutive frames and a random reference frame of the same clip, then the lip units, then
    /// one augmentation draw per window (every rank draws the whole batch).
    public func nextBatch() throws -> L2FBatch {
        let t = config.frames
        let draws = rank.sampler.share(ofBatch: config.windows) { () -> (ProcessedDataset.Clip, start: Int, reference: Int) in
            let speaker = trainClips[context.rng.int(below: trainClips.count)]
            let clip = speaker[context.rng.int(below: speaker.count)]
            let start = context.rng.int(below: clip.rowCount - t + 1)
            return (clip, start, context.rng.int(below: clip.rowCount))
        }
        var frames: [[UInt8]] = [], references: [[UInt8]] = [], audio: [WindowAudio] = []
        for (clip, start, r) in draws {
            frames.append(try clip.rows(start..<(start + t)).frames)
            audio.append(try clip.audio(for: start..<(start + t), context: config.audioContext))
            references.append(Array(repeatElement(try clip.rows(r..<(r + 1)).frames, count: t).joined()))
        }
        context.training = true
        let lipUnits = lip(audio, context)   // A2L's dropout draws from the rng before the augmentations
        guard let augmentation = config.augmentation else {
            return makeBatch(frames: frames, references: references, audio: audio, lip: lipUnits)
        }
        var augmentations = rank.sampler.share(ofBatch: config.windows) { augmentation.draw(&context.rng) }.makeIterator()
        return makeBatch(frames: frames, references: references, audio: audio, lip: lipUnits) { pair in
            if let draw = augmentations.next() { ClipAugmentation.apply(draw, to: pair) }
        }
    }

    /// A batch of these windows with the lip units `lip` (computed from `audio` when nil).
    func makeBatch(frames: [[UInt8]], references: [[UInt8]], audio: [WindowAudio], lip units: Tensor? = nil,
                   augment: ((Tensor) -> Void)? = nil) -> L2FBatch {
        L2FBatch.make(frames: frames, references: references, audio: audio, lip: units ?? lip(audio, context),
                      alignReferences: config.alignReferences, augment: augment)
    }

    // MARK: Training

    public var trainingState: [(String, Tensor)] { models.trainingTensors(lip: lip) + models.average.named }

    public func plan(_ batch: L2FBatch) -> StepPlan<L2FRecord> {
        let plan = models.plan(batch)
        return StepPlan(objectives: plan.objectives) { [self] in L2FRecord(step: step, terms: plan.record()) }
    }

    /// One step of the training loop on the next batch (lip units computed with gradients when
    /// the encoder trains).
    public func trainStep() throws -> L2FRecord { try TrainingLoop.step(self) }

    /// Logs the step and writes the grid when due (primary rank).
    public func finish(_ record: L2FRecord, progress: Common.Progress?) throws -> String {
        try log.append(record)
        if rank.isPrimary && (step % config.gridEvery == 0 || step == config.steps) { try writeGrid() }
        return String(format: "L1 %.4f  G %.3f  D %.3f", record.terms.l1, record.terms.generator, record.terms.discriminator)
    }

    /// Trains until `config.steps`. A diverging loss stops the run with a message naming the
    /// last good checkpoint (which is left as it was).
    public func run(progress: Common.Progress? = nil) throws {
        do { try TrainingLoop.run(self, checkpointEvery: config.checkpointEvery, progress: progress) } catch let error as L2FTrainingError {
            let last = FileManager.default.fileExists(atPath: checkpointPath)
                ? "the last good checkpoint is \(checkpointPath)" : "no checkpoint was written yet"
            throw InputError(folder.path, "\(error); \(last)")
        }
    }
}
