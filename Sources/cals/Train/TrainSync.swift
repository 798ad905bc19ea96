import ArgumentParser
import Dataset
import Foundation
import Models
import Tensor
import Training

/// `cals train sync --data DIR --out RUN [--steps N] [--batch B] [--resume | --fresh]`
struct TrainSync: TrainingCommand {
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

    func validate() throws {
        guard batch > 0, windows > 0, lossOffsets > 0, width > 0, evalEvery > 0, evalClips > 0 else {
            throw ValidationError("--batch, --windows, --loss-offsets, --width, --eval-every and --eval-clips must be positive")
        }
        guard (0..<lossOffsets).contains(excludeNear) else { throw ValidationError("--exclude-near must be 0 or more and below --loss-offsets") }
    }

    func run() throws {
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
        let dataset = try ProcessedDataset(outFolder: training.data)
        let rank = try training.rank()
        let trainer = try SyncTrainer(config: config, data: dataset, out: training.out, resume: training.resume, fresh: training.fresh,
                                      rank: rank)
        if rank.isPrimary { print("sync encoder: \(trainer.model.parameterCount) parameters; \(trainer.trainClips.joined().count) training clips "
              + "of \(trainer.trainClips.count) speakers, \(trainer.evalClips.count) held-out clips of "
              + "\(Set(trainer.evalClips.map(\.speaker)).sorted()); from step \(trainer.step) to \(config.steps)") }
        try training.train(trainer, to: config.steps, label: "train sync", primary: rank.isPrimary)
        guard rank.isPrimary else { return }
        if let last = trainer.log.records.last(where: { $0.evalAccuracy != nil }) {
            print(String(format: "held-out offset accuracy %.3f among %d candidates at step %d (chance %.3f)",
                         last.evalAccuracy!, 2 * config.maxOffset + 1, last.step, 1 / Double(2 * config.maxOffset + 1)))
        }
        print("checkpoint: \(trainer.checkpointPath)\nplot: \(trainer.plotPath)")
    }
}
