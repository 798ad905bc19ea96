import ArgumentParser
import Common
import Dataset
import Foundation
import Models
import Shards
import Tensor
import Training

/// The lip units to use: those of `--sync-checkpoint` (by content hash), or `recorded`, or the
/// only set in the folder. A given checkpoint that differs from the recorded one is an error.
func openA2LData(_ folder: String, syncCheckpoint: String?, recorded: String? = nil, model: String = "") throws -> A2LDataset {
    let requested = try syncCheckpoint.map { try fileChecksum($0) }
    if let requested, let recorded, !recorded.isEmpty, requested != recorded {
        throw InputError(syncCheckpoint!, "sync checkpoint \(requested) is not the one whose units \(model) was trained on (\(recorded))")
    }
    return try A2LDataset(folder: folder, unitsCheckpoint: requested ?? (recorded?.isEmpty == false ? recorded : nil))
}

/// The A2L model size flags; unset ones keep the base config's values.
struct A2LSizeOptions: ParsableArguments {
    @Option(help: "Encoder layers (default 6).") var layers: Int?
    @Option(help: "Model width d_model (default 512).") var dim: Int?
    @Option(help: "Attention heads (default 8).") var heads: Int?
    @Option(help: "Feed-forward width (default 2048).") var ff: Int?
    @Option(help: "Receptive field of ±K frames (band masks split over the layers); default unlimited. 2 = the no-context baseline (0.2 s).") var context: Int?
    @Option(help: "Dropout (default 0.1).") var dropout: Float?

    /// The model config the flags ask for, on top of `base`.
    func modelConfig(_ base: A2L.Config) -> A2L.Config {
        var m = base
        if let layers { m.layers = layers }
        if let dim { m.dim = dim }
        if let heads { m.heads = heads }
        if let ff { m.feedForward = ff }
        if let context { m.context = context }
        if let dropout { m.dropout = dropout }
        return m
    }
}

/// `cals train a2l --data DIR --out RUN [--steps N] [--batch B] [--frames T] [--context K] [--resume | --fresh]`
struct TrainA2L: TrainingCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2l",
        abstract: "Pretrain the audio-to-lip transformer by masked prediction of lip units.",
        discussion: """
            Reads audio units and the lip units of one sync checkpoint (the lip_units stage) window by window; \
            masks spans of 5 units until half are masked (zeroed) and minimises the MSE on the masked steps \
            (with --scored-steps all, on every step: L2F and dubbing run A2L on audio without gaps). \
            Writes RUN/checkpoint.safetensors (atomically), RUN/log.csv, RUN/eval.csv (held-out masked MSE and \
            cosine) and RUN/plot.png. The last speaker (sorted by name) is held out unless --held-out names others.
            """)

    @OptionGroup var training: TrainingRunOptions<A2LTrainingConfig>
    @Option(help: "Windows per batch.") var batch = 8
    @Option(help: "Frames (units) T per window.") var frames = 31
    @OptionGroup var size: A2LSizeOptions
    @Option(help: "Adam learning rate.") var learningRate: Float = 1e-4
    @Option(help: "Linear learning-rate warm-up steps.") var warmup = 100
    @Option(help: "Gradient-norm clip.") var clipNorm: Float = 1
    @Option(help: "Steps between held-out evaluations.") var evalEvery = A2LTrainingConfig().evalEvery
    @Option(help: "Held-out windows scored per evaluation.") var evalWindows = 64
    @Option(help: "Sync checkpoint whose lip units to train on (needed when the data has units of several).") var syncCheckpoint: String?
    @Option(help: "Steps the loss scores: masked (the masked spans only) or all (also the steps whose audio A2L hears, as L2F and dubbing run it).")
    var scoredSteps = A2LTrainingConfig().scoredSteps

    func validate() throws {
        let model = size.modelConfig(A2LTrainingConfig().model)
        guard batch > 0, evalEvery > 0, evalWindows > 0, warmup >= 0, model.layers > 0, model.dim > 0, model.heads > 0,
              model.feedForward > 0, (model.context ?? 0) >= 0 else {
            throw ValidationError("--batch, --layers, --dim, --heads, --ff, --eval-every and --eval-windows must be positive, "
                                  + "--warmup and --context not negative")
        }
        guard model.dim % model.heads == 0 else { throw ValidationError("--dim must be divisible by --heads") }
        let span = A2LTrainingConfig().masking.spanLength
        guard frames >= span else { throw ValidationError("--frames must be at least \(span)") }
    }

    func run() throws {
        let config = try training.config {
            var config = A2LTrainingConfig()
            config.batch = batch
            config.frames = frames
            config.model = size.modelConfig(config.model)
            config.learningRate = learningRate
            config.warmupSteps = warmup
            config.clipNorm = clipNorm
            config.evalEvery = evalEvery
            config.evalWindows = evalWindows
            config.scoredSteps = scoredSteps
            return config
        }
        if training.resume, size.modelConfig(config.model) != config.model {
            var asked = config
            asked.model = size.modelConfig(config.model)
            throw InputError(RunFolder(training.out).checkpointPath, "holds a model of \(config.sizeDescription); the flags ask for "
                             + "\(asked.sizeDescription) (drop the size flags to resume, or train into a new --out)")
        }
        let dataset = try openA2LData(training.data, syncCheckpoint: syncCheckpoint,
                                      recorded: training.resume ? config.unitsCheckpoint : nil, model: training.out)
        let rank = try training.rank()
        let trainer = try A2LTrainer(config: config, data: dataset, out: training.out, resume: training.resume, fresh: training.fresh,
                                     rank: rank)
        if rank.isPrimary { print("A2L (\(trainer.config.sizeDescription)): \(trainer.model.parameterCount) parameters; "
              + "\(trainer.trainClips.joined().count) training clips of \(trainer.trainClips.count) speakers, "
              + "\(trainer.evaluation.windows.count) held-out windows of \(trainer.config.heldOutSpeakers); "
              + "units of sync checkpoint \(dataset.unitsCheckpoint); from step \(trainer.step) to \(config.steps)") }
        try training.train(trainer, to: config.steps, label: "train a2l", primary: rank.isPrimary)
        guard rank.isPrimary else { return }
        if let last = trainer.evalLog.records.last {
            print(String(format: "held-out masked-unit MSE %.6f, cosine %.4f at step %d", last.loss, last.accuracy, last.step))
        }
        print("checkpoint: \(trainer.checkpointPath)\nplot: \(trainer.plotPath)")
    }
}

extension A2LTrainingConfig.ScoredSteps: ExpressibleByArgument {}
