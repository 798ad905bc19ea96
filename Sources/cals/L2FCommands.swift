import ArgumentParser
import Common
import Dataset
import Face
import Foundation
import Models
import Tensor
import Training

/// `cals train l2f --data DIR --sync RUN --a2l RUN --out RUN [--steps N] [--batch B] [--frames T] [--resume | --fresh] …`
struct TrainL2F: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2f",
        abstract: "Train the Lip-to-Face generator (L1 + GAN + d_av + d_vv through the frozen sync encoder).",
        discussion: """
            Writes RUN/checkpoint.safetensors (generator, discriminator, lip encoder, both Adam states; atomically, \
            every --checkpoint-every steps and at the end), RUN/log.csv (every loss term), RUN/loss.png and \
            RUN/grid-<step>.png (real frames above generated ones for a fixed held-out window). A non-finite or \
            exploding loss stops the run before its update; the last checkpoint stays as it was.
            """)

    @OptionGroup var training: TrainingRunOptions<L2FTrainingConfig>
    @Option(help: "Sync encoder run folder (or its checkpoint file).") var sync: String
    @Option(help: "A2L run folder or checkpoint (not needed with --audio-encoder window).") var a2l: String?
    @Option(help: "Windows per batch.") var batch = 2
    @Option(help: "Frames per window (all go through the generator as one batch).") var frames = 5
    @Option(help: "Lip units from: a2l (CALS) or window (a 0.2 s conv audio encoder, the baseline).")
    var audioEncoder: L2FTrainingConfig.AudioEncoder = .a2l
    @Flag(name: .customLong("freeze-a2l"), help: "Keep A2L fixed instead of fine-tuning it end to end.") var freezeA2L = false
    @Flag(help: "Drop the audio-visual sync loss d_av.") var noDav = false
    @Flag(help: "Drop the visual-visual sync loss d_vv.") var noDvv = false
    @Flag(help: "Train without augmenting reference and target frames together (flip, rotation, zoom, shift, grey, colour jitter, blur).")
    var noAugment = false
    @Flag(help: "Give the generator each reference frame as it is, not moved onto its target frame by the visible upper halves.")
    var noAlign = false
    @Option(help: "Weight of L1.") var l1Weight: Float = 10
    @Option(help: "Weight of the GAN loss.") var ganWeight: Float = 0.07
    @Option(help: "Weight of d_av + d_vv.") var syncWeight: Float = 0.03
    @Option(help: "Channel widths of generator and discriminator, comma-separated (5 levels at 128×128).") var widths = "16,32,64,128,128"
    @Option(help: "Adam learning rate (generator and discriminator).") var learningRate: Float = 1e-4
    @Option(help: "Steps between real-vs-generated grids.") var gridEvery = L2FTrainingConfig().gridEvery
    @Option(help: "Audio units on each side of a window the lip encoder sees (A2L reads them all, the window encoder ±2 per frame); 0: the window's own.")
    var audioContext = L2FTrainingConfig().audioContext
    @Option(help: "Clip the generator and lip encoder's gradient to this global L2 norm; 0: no clipping.")
    var clipNorm: Float = L2FTrainingConfig().clipNorm

    func run() throws {
        try reportingErrors {
            Engine.setThreads(training.threads)
            let channels = widths.split(separator: ",").compactMap { Int($0) }
            guard batch > 0, frames > 0, audioContext >= 0, clipNorm >= 0, gridEvery > 0, training.steps.map({ $0 > 0 }) ?? true, training.checkpointEvery.map({ $0 > 0 }) ?? true,
                  channels.count == 5, channels.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--steps, --batch, --frames and the intervals must be positive, --audio-context and --clip-norm not negative; --widths needs 5 positive numbers")
            }
            let config = try training.config {
                var config = L2FTrainingConfig()
                (config.windows, config.frames, config.learningRate) = (batch, frames, learningRate)
                (config.gridEvery, config.audioEncoder, config.freezeA2L) = (gridEvery, audioEncoder, freezeA2L)
                (config.weights.l1, config.weights.gan, config.weights.sync) = (l1Weight, ganWeight, syncWeight)
                (config.weights.audioVisual, config.weights.visualVisual) = (!noDav, !noDvv)
                (config.generator.channels, config.discriminator.channels) = (channels, channels)
                config.augmentation = noAugment ? nil : ClipAugmentation()
                config.alignReferences = !noAlign
                config.audioContext = audioContext
                config.clipNorm = clipNorm
                return config
            }
            let trainer = try L2FTrainer(config: config, data: try ProcessedDataset(outFolder: training.data), out: training.out,
                                         syncPath: checkpointFile(sync), a2lPath: a2l.map(checkpointFile),
                                         resume: training.resume, fresh: training.fresh)
            print("L2F: generator \(trainer.models.generator.parameterCount) parameters, discriminator "
                  + "\(trainer.models.discriminator.parameterCount), lip encoder \(trainer.lip.parameterCount) "
                  + "(\(trainer.config.audioEncoder.rawValue)\(trainer.lip.trainable ? ", trained" : ", frozen")); "
                  + "\(trainer.trainClips.joined().count) training clips; from step \(trainer.step) to \(trainer.config.steps)")
            try training.train(trainer, to: trainer.config.steps, label: "train l2f")
            print("checkpoint: \(trainer.checkpointPath)\nlog: \(trainer.logPath)\nplot: \(trainer.plotPath)")
        }
    }
}

/// A run folder's checkpoint.safetensors, or the file itself.
func checkpointFile(_ path: String) -> String {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
        ? RunFolder(path).checkpointPath : path
}

extension L2FTrainingConfig.AudioEncoder: ExpressibleByArgument {}

/// `cals eval l2f --checkpoint RUN --sync RUN --data DIR [--split test] [--json FILE]`
struct EvalL2F: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2f",
        abstract: "PSNR, SSIM, mouth PSNR and sync distance/confidence of L2F against the copy-the-reference baseline.")

    @Option(help: "L2F run folder or checkpoint.") var checkpoint: String
    @Option(help: "Sync encoder run folder or checkpoint (scores are from this encoder).") var sync: String
    @Option(help: "Processed dataset folder.") var data: String
    @Option(help: "Split to evaluate (train, val, test or all).") var split = "test"
    @Option(help: "Comma-separated speakers to evaluate, e.g. the run's held-out ones (default: all).") var speakers: String?
    @Option(help: "Write the JSON here (default: print it).") var json: String?
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Score the moving average of the generator's weights (kept in checkpoints) instead of its last weights.")
    var averaged = false
    @Option(help: "dlib 68-point landmark model for LMD (`make landmarks`); LMD is omitted when it is absent.")
    var landmarkModel = ShapePredictor.defaultModelPath

    func run() throws {
        try reportingErrors {
            Engine.setThreads(threads)
            let (config, generator, lip) = try L2FCheckpoint.load(checkpointFile(checkpoint), averaged: averaged)
            let result = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: checkpointFile(sync)),
                                         config: config, data: try ProcessedDataset(outFolder: data), split: split,
                                         speakers: speakers.map { $0.split(separator: ",").map(String.init) },
                                         landmarks: try landmarkPredictor())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let body = String(decoding: try encoder.encode(result), as: UTF8.self)
            if let json {
                do { try body.write(toFile: json, atomically: true, encoding: .utf8) } catch {
                    throw InputError(json, "cannot write: \(error.localizedDescription)")
                }
            } else { print(body) }
            print(result.table)
        }
    }

    /// The landmark model, or nil (said in one line) when its file is absent.
    func landmarkPredictor() throws -> ShapePredictor? {
        let predictor = try ShapePredictor.loadIfPresent(landmarkModel)
        if predictor == nil {
            FileHandle.standardError.write(Data("note: \(landmarkModel): no landmark model (run `make landmarks`); LMD omitted\n".utf8))
        }
        return predictor
    }
}
