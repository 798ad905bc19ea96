import ArgumentParser
import Common
import Dataset
import Foundation
import Models
import Tensor
import Training

/// `cals train …`: the CALS trainers (sync encoder now; A2L and L2F join as subcommands).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the CALS models from processed shards.",
        subcommands: [TrainSync.self, TrainA2L.self, TrainL2F.self])
}

/// The run flags of every `cals train X`: data, run folder, length, checkpoint interval, held-out
/// speakers, seed, threads, --resume / --fresh. Defaults are the trainer config's own.
struct TrainingRunOptions<Config: TrainingRunConfig>: ParsableArguments {
    @Option(help: "Processed dataset folder (the --out of `cals preprocess`).") var data: String
    @Option(help: "Run folder for checkpoint, logs and plots.") var out: String
    @Option(help: "Train until this many steps in total (default \(Config().steps); on --resume, the run's own).") var steps: Int?
    @Option(help: "Steps between checkpoints (default \(Config().checkpointEvery); on --resume, the run's own).") var checkpointEvery: Int?
    @Option(help: "Comma-separated held-out speakers (default: the dataset's test split when it is one by speaker, else the last speaker; on --resume, must be the run's).") var heldOut: String?
    @Option(help: "Random seed of weights and batches (default \(Config().seed); on --resume, must be the run's).") var seed: UInt64?
    @Option(help: "Also keep the checkpoint as checkpoint-<step>.safetensors every this many steps (0: only the latest).")
    var keepEvery = 0
    @Option(help: "Threads (OpenBLAS and the engine's loops).") var threads = 2
    @Flag(help: "Continue the run in --out from its checkpoint (same config, same random state).") var resume = false
    @Flag(help: "Discard the checkpoint in --out and start a new run.") var fresh = false

    func validate() throws {
        if resume && fresh { throw ValidationError("--resume and --fresh exclude each other") }
        if keepEvery < 0 { throw ValidationError("--keep-every must not be negative") }
    }

    /// The run's config: with --resume the checkpoint's, else `newRun` with these flags; --steps and
    /// --checkpoint-every on top. A resumed run keeps its seed and held-out speakers: naming others
    /// is an error rather than silently ignored.
    func config(_ newRun: () -> Config) throws -> Config {
        var config: Config
        let heldOutSpeakers = heldOut.map { $0.split(separator: ",").map(String.init) }
        if resume {
            let path = RunFolder(out).checkpointPath
            config = try Config.stored.read(path)
            if let seed, seed != config.seed {
                throw InputError(path, "--seed \(seed) differs from the run's seed \(config.seed); a resumed run keeps its own")
            }
            if let heldOutSpeakers, heldOutSpeakers != config.heldOutSpeakers {
                throw InputError(path, "--held-out \(heldOut!) differs from the run's held-out speakers "
                                 + "\(config.heldOutSpeakers.isEmpty ? "(the last one)" : config.heldOutSpeakers.joined(separator: ","))"
                                 + "; a resumed run keeps its own")
            }
        } else {
            config = newRun()
            config.heldOutSpeakers = try heldOutSpeakers ?? LedgerReader(outFolder: data).testSpeakers()
            config.seed = seed ?? config.seed
        }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let steps { config.steps = steps }
        return config
    }

    /// Runs `trainer` from its step to `steps` with a progress line, keeping a copy of the
    /// checkpoint every --keep-every steps.
    func train(_ trainer: Trainer, to steps: Int, label: String) throws {
        trainer.keepEvery = keepEvery
        let progress = Common.Progress(label: label, total: steps - trainer.step, unit: "steps")
        try trainer.run(progress: progress)
        progress.finish()
    }
}

/// `cals train sync --data DIR --out RUN [--steps N] [--batch B] [--resume | --fresh]`
struct TrainSync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Train the two-stream sync encoder (multi-way matching loss over ±15 frame offsets).",
        discussion: """
            Writes RUN/checkpoint.safetensors (atomically, every --checkpoint-every steps and at the end), \
            RUN/log.csv (loss, batch accuracy, held-out accuracy) and RUN/plot.png. The last speaker \
            (sorted by name) is held out for evaluation unless --held-out names others.
            """)

    @OptionGroup var training: TrainingRunOptions<SyncTrainingConfig>
    @Option(help: "Clips per batch; each gives --windows consecutive video windows.") var batch = 4
    @Option(help: "Consecutive video windows per clip.") var windows = 8
    @Option(help: "Candidate offsets ±L of the training loss (evaluation uses ±15).") var lossOffsets = 6
    @Option(help: "Leave offsets 0 < |k| ≤ N out of the training loss (smoother lip units; 0 = keep all).") var excludeNear = 0
    @Flag(help: "Train without the visual augmentation (flip, rotation, zoom, shift, grey, colour jitter, blur).") var noAugment = false
    @Option(help: "Width multiplier of both streams' channels (1 = 16…128).") var width = 1.0
    @Option(help: "Adam learning rate.") var learningRate: Float = 3e-4
    @Flag(help: "Decay the learning rate along a cosine to 10% by --steps.") var cosineDecay = false
    @Option(help: "Fixed softmax temperature: logits = cosine / temperature.") var temperature: Float = 0.1
    @Option(help: "Steps between held-out evaluations.") var evalEvery = SyncTrainingConfig().evalEvery
    @Option(help: "Held-out clips scored per evaluation.") var evalClips = 8

    func run() throws {
        try reportingErrors {
            Engine.setThreads(training.threads)
            let config = try training.config {
                var config = SyncTrainingConfig()
                config.clipsPerBatch = batch
                config.windowsPerClip = windows
                config.lossOffsets = lossOffsets
                config.excludeNearOffsets = excludeNear
                config.augmentation = noAugment ? nil : ClipAugmentation()
                config.model = SyncEncoder.Config().scaled(width)
                config.learningRate = learningRate
                config.cosineDecay = cosineDecay
                config.temperature = temperature
                config.evalEvery = evalEvery
                config.evalClips = evalClips
                return config
            }
            guard config.clipsPerBatch > 0, config.windowsPerClip > 0, config.steps > 0, config.checkpointEvery > 0,
                  config.evalEvery > 0, config.lossOffsets > 0, width > 0, excludeNear >= 0, excludeNear < lossOffsets else {
                throw ValidationError("--steps, --batch, --windows, --loss-offsets, --width and the intervals must be positive, --exclude-near below --loss-offsets")
            }
            let dataset = try ProcessedDataset(outFolder: training.data)
            let trainer = try SyncTrainer(config: config, data: dataset, out: training.out, resume: training.resume, fresh: training.fresh)
            print("sync encoder: \(trainer.model.parameterCount) parameters; \(trainer.trainClips.joined().count) training clips "
                  + "of \(trainer.trainClips.count) speakers, \(trainer.evalClips.count) held-out clips of "
                  + "\(Set(trainer.evalClips.map(\.speaker)).sorted()); from step \(trainer.step) to \(config.steps)")
            try training.train(trainer, to: config.steps, label: "train sync")
            if let last = trainer.log.records.last(where: { $0.evalAccuracy != nil }) {
                print(String(format: "held-out offset accuracy %.3f among %d candidates at step %d (chance %.3f)",
                             last.evalAccuracy!, 2 * config.maxOffset + 1, last.step, 1 / Double(2 * config.maxOffset + 1)))
            }
            print("checkpoint: \(trainer.checkpointPath)\nplot: \(trainer.plotPath)")
        }
    }
}
