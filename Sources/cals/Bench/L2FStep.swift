import ArgumentParser
import Models
import NN
import Tensor
import Training

/// `cals bench l2f-step`: one L2F training step (discriminator update, then generator update on
/// 10·L1 + 0.07·GAN + 0.03·(d_av + d_vv) through the frozen sync encoder, its gradient clipped as
/// training's default clips it, and the moving average of its weights updated) on random windows. The
/// PyTorch side is bench/l2f_step.py; bench/l2f_step.sh compares them.
struct L2FBenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "l2f-step",
                                                    abstract: "Milliseconds per L2F generator + discriminator step.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Frames per window (--batch windows).") var frames = 5

    func run() throws {
        var rng = RandomGenerator(seed: 1)
        let models = L2FModels(generator: Generator(rng: &rng), discriminator: Discriminator(rng: &rng),
                               sync: SyncEncoder(rng: &rng), weights: L2FLossWeights(), context: Context(training: true, seed: 2))
        models.clipNorm = L2FTrainingConfig().clipNorm
        let n = options.batch * frames
        let batch = L2FBatch(windows: options.batch, frames: frames,
                             identity: Tensor(randomUniform: [n, Generator.inputChannels, 128, 128], bound: 1, rng: &rng),
                             target: Tensor(randomUniform: [n, 3, 128, 128], bound: 1, rng: &rng),
                             lip: Tensor(randomUniform: [n, 1024], bound: 1, rng: &rng),
                             audio: Tensor(randomNormal: [n] + SyncEncoder.audioShape, rng: &rng))
        var failure: Error?
        BenchCommand.report(options) {
            do { _ = try models.trainStep(batch) } catch { failure = error }
            return [:]
        }
        if let failure { throw failure }
    }
}
