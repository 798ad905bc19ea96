import ArgumentParser
import Common
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

/// `cals train sync --data DIR --out RUN [--steps N] [--batch B] [--resume]`
struct TrainSync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Train the two-stream sync encoder (multi-way matching loss over ±15 frame offsets).",
        discussion: """
            Writes RUN/checkpoint.safetensors (atomically, every --checkpoint-every steps and at the end), \
            RUN/log.csv (loss, batch accuracy, held-out accuracy) and RUN/plot.png. The last speaker \
            (sorted by name) is held out for evaluation unless --held-out names others.
            """)

    @Option(help: "Processed dataset folder (the --out of `cals preprocess`).") var data: String
    @Option(help: "Run folder for checkpoints, log and plot.") var out: String
    @Option(help: "Train until this many steps in total (default 600; on --resume, the run's own).") var steps: Int?
    @Option(help: "Clips per batch; each gives --windows consecutive video windows.") var batch = 4
    @Option(help: "Consecutive video windows per clip.") var windows = 8
    @Option(help: "Candidate offsets ±L of the training loss (evaluation uses ±15).") var lossOffsets = 6
    @Flag(help: "Train without the visual augmentation (flip, shift, colour jitter).") var noAugment = false
    @Option(help: "Width multiplier of both streams' channels (1 = 16…128).") var width = 1.0
    @Option(help: "Adam learning rate.") var learningRate: Float = 3e-4
    @Flag(help: "Decay the learning rate along a cosine to 10% by --steps.") var cosineDecay = false
    @Option(help: "Fixed softmax temperature: logits = cosine / temperature.") var temperature: Float = 0.1
    @Option(help: "Steps between checkpoints.") var checkpointEvery = 100
    @Option(help: "Steps between held-out evaluations.") var evalEvery = 50
    @Option(help: "Held-out clips scored per evaluation.") var evalClips = 8
    @Option(help: "Comma-separated held-out speakers (default: the last one).") var heldOut: String?
    @Option(help: "Random seed (weights, batches).") var seed: UInt64 = 1
    @Option(help: "Threads (OpenBLAS and the engine's loops).") var threads = 2
    @Flag(help: "Continue the run in --out from its checkpoint (same config, same random state).") var resume = false

    func run() throws {
        try reportingErrors {
            Engine.setThreads(threads)
            var config = SyncTrainingConfig()
            if resume {
                let checkpoint = (out as NSString).appendingPathComponent(SyncTrainer.checkpointName)
                config = try SyncCheckpoint.trainingConfig(checkpoint)
            } else {
                config.clipsPerBatch = batch
                config.windowsPerClip = windows
                config.lossOffsets = lossOffsets
                config.augmentation = noAugment ? nil : SyncAugmentation()
                config.model = SyncEncoder.Config().scaled(width)
                config.learningRate = learningRate
                config.cosineDecay = cosineDecay
                config.temperature = temperature
                config.checkpointEvery = checkpointEvery
                config.evalEvery = evalEvery
                config.evalClips = evalClips
                config.heldOutSpeakers = heldOut.map { $0.split(separator: ",").map(String.init) } ?? []
                config.seed = seed
            }
            if let steps { config.steps = steps }
            guard config.clipsPerBatch > 0, config.windowsPerClip > 0, config.steps > 0, config.checkpointEvery > 0,
                  config.evalEvery > 0, config.lossOffsets > 0, width > 0 else {
                throw ValidationError("--steps, --batch, --windows, --loss-offsets, --width and the intervals must be positive")
            }
            let dataset = try FrameDataset(folder: data)
            let trainer = try SyncTrainer(config: config, data: dataset, out: out, resume: resume)
            print("sync encoder: \(trainer.model.parameterCount) parameters; \(trainer.trainClips.joined().count) training clips "
                  + "of \(trainer.trainClips.count) speakers, \(trainer.evalClips.count) held-out clips of "
                  + "\(Set(trainer.evalClips.map(\.item.speaker)).sorted()); from step \(trainer.step) to \(config.steps)")
            let progress = Common.Progress(label: "train sync", total: config.steps - trainer.step, unit: "steps")
            try trainer.run(progress: progress)
            progress.finish()
            if let last = trainer.log.records.last(where: { $0.evalAccuracy != nil }) {
                print(String(format: "held-out offset accuracy %.3f among %d candidates at step %d (chance %.3f)",
                             last.evalAccuracy!, 2 * config.maxOffset + 1, last.step, 1 / Double(2 * config.maxOffset + 1)))
            }
            print("checkpoint: \(trainer.checkpointPath)\nplot: \(trainer.plotPath)")
        }
    }
}
