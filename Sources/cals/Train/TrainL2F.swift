import ArgumentParser
import Dataset
import Foundation
import Models
import Tensor
import Training

/// `cals train l2f --data DIR --sync RUN --a2l RUN --out RUN [--steps N] [--batch B] [--frames T] [--resume | --fresh] …`
struct TrainL2F: TrainingCommand {
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
    @Option(help: "Channel widths of generator and discriminator, comma-separated (5 levels at 128×128).") var widths = CommaList([16, 32, 64, 128, 128])
    @Option(help: "Adam learning rate (generator and discriminator).") var learningRate: Float = 1e-4
    @Option(help: "Adam learning rate of the fine-tuned A2L (default: --learning-rate).") var a2lLearningRate: Float?
    @Option(help: "Steps between real-vs-generated grids.") var gridEvery = L2FTrainingConfig().gridEvery
    @Option(help: "Audio units on each side of a window the lip encoder sees (A2L reads them all, the window encoder ±2 per frame); 0: the window's own.")
    var audioContext = L2FTrainingConfig().audioContext
    @Option(help: "Clip the generator and lip encoder's gradient to this global L2 norm; 0: no clipping.")
    var clipNorm: Float = L2FTrainingConfig().clipNorm

    func validate() throws {
        guard batch > 0, frames > 0, gridEvery > 0 else { throw ValidationError("--batch, --frames and --grid-every must be positive") }
        guard learningRate > 0, (a2lLearningRate ?? 1) > 0 else { throw ValidationError("--learning-rate and --a2l-learning-rate must be positive") }
        guard audioContext >= 0, clipNorm >= 0 else { throw ValidationError("--audio-context and --clip-norm must not be negative") }
        guard widths.values.count == 5, widths.values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--widths needs 5 positive numbers, got \(widths)")
        }
    }

    func run() throws {
        let channels = widths.values
        let config = try training.config {
            var config = L2FTrainingConfig()
            (config.windows, config.frames, config.learningRate, config.a2lLearningRate) = (batch, frames, learningRate, a2lLearningRate)
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
        let rank = try training.rank()
        let trainer = try L2FTrainer(config: config, data: try ProcessedDataset(outFolder: training.data), out: training.out,
                                     syncPath: checkpointFile(sync), a2lPath: a2l.map(checkpointFile),
                                     resume: training.resume, fresh: training.fresh, rank: rank)
        if rank.isPrimary { print("L2F: generator \(trainer.models.generator.parameterCount) parameters, discriminator "
              + "\(trainer.models.discriminator.parameterCount), lip encoder \(trainer.lip.parameterCount) "
              + "(\(trainer.config.audioEncoder.rawValue)\(trainer.lip.trainable ? ", trained" : ", frozen")); "
              + "\(trainer.trainClips.joined().count) training clips; from step \(trainer.step) to \(trainer.config.steps)") }
        try training.train(trainer, to: trainer.config.steps, label: "train l2f", primary: rank.isPrimary)
        guard rank.isPrimary else { return }
        print("checkpoint: \(trainer.checkpointPath)\nlog: \(trainer.logPath)\nplot: \(trainer.plotPath)")
    }
}

/// A run folder's checkpoint.safetensors, or the file itself.
func checkpointFile(_ path: String) -> String {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
        ? RunFolder(path).checkpointPath : path
}

extension L2FTrainingConfig.AudioEncoder: ExpressibleByArgument {}
