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
struct TrainA2L: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2l",
        abstract: "Pretrain the audio-to-lip transformer by masked prediction of lip units.",
        discussion: """
            Reads audio units and the lip units of one sync checkpoint (the lip_units stage) window by window; \
            masks spans of 5 units until half are masked (zeroed) and minimises the MSE on the masked steps. \
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

    func run() throws {
        try reportingErrors {
            Engine.setThreads(training.threads)
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
                return config
            }
            if training.resume, size.modelConfig(config.model) != config.model {
                var asked = config
                asked.model = size.modelConfig(config.model)
                throw InputError(RunFolder(training.out).checkpointPath, "holds a model of \(config.sizeDescription); the flags ask for "
                                 + "\(asked.sizeDescription) (drop the size flags to resume, or train into a new --out)")
            }
            guard config.batch > 0, config.steps > 0, config.checkpointEvery > 0, config.evalEvery > 0,
                  config.evalWindows > 0, config.frames >= config.masking.spanLength,
                  config.model.layers > 0, config.model.dim > 0, config.model.heads > 0, config.model.feedForward > 0,
                  config.model.dim % config.model.heads == 0, (config.model.context ?? 0) >= 0 else {
                throw ValidationError("--steps, --batch, --layers, --dim, --heads, --ff and the intervals must be positive, "
                                      + "--dim divisible by --heads, --frames at least 5 and --context at least 0")
            }
            let dataset = try openA2LData(training.data, syncCheckpoint: syncCheckpoint,
                                          recorded: training.resume ? config.unitsCheckpoint : nil, model: training.out)
            let trainer = try A2LTrainer(config: config, data: dataset, out: training.out, resume: training.resume, fresh: training.fresh)
            print("A2L (\(trainer.config.sizeDescription)): \(trainer.model.parameterCount) parameters; "
                  + "\(trainer.trainClips.joined().count) training clips of \(trainer.trainClips.count) speakers, "
                  + "\(trainer.evaluation.windows.count) held-out windows of \(trainer.config.heldOutSpeakers); "
                  + "units of sync checkpoint \(dataset.unitsCheckpoint); from step \(trainer.step) to \(config.steps)")
            try training.train(trainer, to: config.steps, label: "train a2l")
            if let last = trainer.evalLog.records.last {
                print(String(format: "held-out masked-unit MSE %.6f, cosine %.4f at step %d", last.loss, last.accuracy, last.step))
            }
            print("checkpoint: \(trainer.checkpointPath)\nplot: \(trainer.plotPath)")
        }
    }
}

/// The evaluation windows shared by `eval a2l` and `experiment context`.
struct A2LEvaluationOptions: ParsableArguments {
    @Option(help: "A2L checkpoint (`cals train a2l`).") var checkpoint: String
    @Option(help: "Processed dataset folder with lip units.") var data: String
    @Option(help: "Split of the clips scored: train, val, test or all.") var split = "all"
    @Option(help: "Comma-separated speakers scored (default: the run's held-out speakers).") var speakers: String?
    @Option(help: "Windows scored (consecutive windows of the run's T frames, round-robin over clips).") var windows = 256
    @Option(help: "Sync checkpoint of the units (must be the one the model was trained on).") var syncCheckpoint: String?
    @Option(help: "Threads.") var threads = 2

    /// The model, its config and its evaluation windows.
    func load(checkpoint path: String? = nil) throws -> (model: A2L, config: A2LTrainingConfig, set: A2LEvaluationSet) {
        let path = path ?? checkpoint
        let (model, config) = try A2LCheckpoint.load(path)
        let dataset = try openA2LData(data, syncCheckpoint: syncCheckpoint, recorded: config.unitsCheckpoint, model: path)
        let who = speakers.map { $0.split(separator: ",").map(String.init) } ?? config.heldOutSpeakers
        let clips = try dataset.clips(of: who, split: split == "all" ? nil : split, minRows: config.frames, role: "evaluation")
        let set = try A2LEvaluationSet(clips: clips, frames: config.frames, count: windows, masking: config.masking)
        return (model, config, set)
    }
}

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do { try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw InputError(path, "cannot write: \(error.localizedDescription)")
    }
}

/// `cals eval …`
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate trained CALS models.",
                                                    subcommands: [EvalSync.self, EvalA2L.self, EvalL2F.self])
}

/// `cals eval a2l --checkpoint C --data DIR [--split test] [--json FILE]`
struct EvalA2L: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "a2l", abstract: "Masked-unit MSE and cosine similarity of an A2L model on held-out windows.")

    @OptionGroup var options: A2LEvaluationOptions
    @Option(help: "JSON output (default: eval-<split>.json beside the checkpoint).") var json: String?

    struct Report: Encodable {
        let checkpoint: String, data: String, split: String, speakers: [String], windows: Int, frames: Int
        let model: String, masked_mse: Double, cosine: Double, masked_steps: Int
    }

    func run() throws {
        try reportingErrors {
            Engine.setThreads(options.threads)
            let (model, config, set) = try options.load()
            let score = set.score(model)
            let path = json ?? ((options.checkpoint as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent("eval-\(options.split).json")
            let speakers = options.speakers.map { $0.split(separator: ",").map(String.init) } ?? config.heldOutSpeakers
            try writeJSON(Report(checkpoint: options.checkpoint, data: options.data, split: options.split, speakers: speakers,
                                 windows: set.windows.count, frames: config.frames, model: config.sizeDescription,
                                 masked_mse: score.mse, cosine: score.cosine, masked_steps: score.steps), to: path)
            print(String(format: "A2L (%@) on %d windows of %d frames, speakers %@, split %@:\n  masked-unit MSE %.6f\n  cosine similarity %.4f",
                         config.sizeDescription, set.windows.count, config.frames, speakers.joined(separator: ","), options.split,
                         score.mse, score.cosine))
            print("json: \(path)")
        }
    }
}

/// `cals experiment …`
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "experiment", abstract: "Experiments on trained models.",
                                                    subcommands: [ContextExperiment.self])
}

/// `cals experiment context --checkpoint C --data DIR [--baseline C2] [--out DIR]`
struct ContextExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "Window curve (audio kept within ±w of the middle frame) and gap test (7 zeroed frames) of an A2L model.")

    @OptionGroup var options: A2LEvaluationOptions
    @Option(help: "A2L checkpoint of the baseline for the gap test (e.g. trained with --context 2).") var baseline: String?
    @Option(help: "Frames of zeroed audio in the gap test.") var gap = 7
    @Option(help: "Output folder (default: context/ beside the checkpoint).") var out: String?

    struct Report: Encodable {
        struct Point: Encodable { let w: Int, mse: Double, cosine: Double, mse_middle_audio: Double, cosine_middle_audio: Double }
        struct Gap: Encodable { let checkpoint: String, model: String, mse: Double, cosine: Double }
        let windows: Int, frames: Int, curve: [Point], level_off_w: Int, gap_frames: Int, gap: [Gap]
    }

    func run() throws {
        try reportingErrors {
            Engine.setThreads(options.threads)
            let folder = out ?? ((options.checkpoint as NSString).deletingLastPathComponent as NSString).appendingPathComponent("context")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let (model, config, set) = try options.load()
            guard gap > 0 && gap <= config.frames else { throw ValidationError("--gap must be 1…\(config.frames)") }
            let curve = set.windowCurve(model)
            let flat = levelOff(curve.map(\.masked.mse))
            let csv = "w,mse,cosine,mse_middle_audio,cosine_middle_audio\n" + curve.map {
                "\($0.w),\($0.masked.mse),\($0.masked.cosine),\($0.withAudio.mse),\($0.withAudio.cosine)"
            }.joined(separator: "\n") + "\n"
            let csvPath = (folder as NSString).appendingPathComponent("window-curve.csv")
            do { try csv.write(toFile: csvPath, atomically: true, encoding: .utf8) } catch {
                throw InputError(csvPath, "cannot write: \(error.localizedDescription)")
            }
            let pngPath = (folder as NSString).appendingPathComponent("window-curve.png")
            try plotCurve(curve.map { (Double($0.w), $0.masked.mse) },
                          title: "unit MSE at the middle frame (its audio zeroed), audio kept within +-w frames",
                          xName: "w", marker: Double(flat), to: pngPath)
            print("window curve (\(set.windows.count) windows of \(config.frames) frames; unit error at the middle frame, whose "
                  + "audio is zeroed as in pretraining; last columns: its audio kept):")
            print("   w    MSE        cosine    MSE (audio kept)  cosine")
            for p in curve {
                print(String(format: "%4d    %.6f   %.4f    %.6f          %.4f", p.w, p.masked.mse, p.masked.cosine,
                             p.withAudio.mse, p.withAudio.cosine))
            }
            print("levels off at w = \(flat) (±\(String(format: "%.2f", Double(flat) / 25)) s; first w within 5% of the lowest error)")

            let own = set.gapScore(model, gap: gap)
            var gaps = [Report.Gap(checkpoint: options.checkpoint, model: config.sizeDescription, mse: own.mse, cosine: own.cosine)]
            if let baseline {
                let (base, baseConfig, baseSet) = try options.load(checkpoint: baseline)
                guard baseConfig.frames == config.frames, baseConfig.unitsCheckpoint == config.unitsCheckpoint else {
                    throw InputError(baseline, "baseline windows (T = \(baseConfig.frames), units \(baseConfig.unitsCheckpoint)) differ from "
                                     + "the model's (T = \(config.frames), units \(config.unitsCheckpoint))")
                }
                let s = baseSet.gapScore(base, gap: gap)
                gaps.append(Report.Gap(checkpoint: baseline, model: baseConfig.sizeDescription, mse: s.mse, cosine: s.cosine))
            }
            print("gap test (\(gap) frames of audio zeroed mid-window; unit error inside the gap):")
            for g in gaps { print(String(format: "  %@  MSE %.6f  cosine %.4f  (%@)", g.model, g.mse, g.cosine, g.checkpoint)) }
            let jsonPath = (folder as NSString).appendingPathComponent("context.json")
            try writeJSON(Report(windows: set.windows.count, frames: config.frames,
                                 curve: curve.map { .init(w: $0.w, mse: $0.masked.mse, cosine: $0.masked.cosine,
                                                          mse_middle_audio: $0.withAudio.mse, cosine_middle_audio: $0.withAudio.cosine) },
                                 level_off_w: flat, gap_frames: gap, gap: gaps), to: jsonPath)
            print("csv: \(csvPath)\nplot: \(pngPath)\njson: \(jsonPath)")
        }
    }
}
