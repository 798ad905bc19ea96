import ArgumentParser
import Models
import NN
import Tensor

/// `cals bench sync-step`: one Adam step of the sync encoder on the matching loss (the PyTorch
/// side is bench/sync_step.py; bench/sync_step.sh compares them).
struct SyncStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync-step",
                                                    abstract: "Milliseconds per sync-encoder training step.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Consecutive video windows per clip (--batch clips).") var windows = 8
    @Option(help: "Offsets ±L of the matching loss (as `cals train sync`).") var offsets = 6
    @Option(help: "Width multiplier of the channels.") var width = 1.0

    func run() {
        var rng = RandomGenerator(seed: 1)
        let model = SyncEncoder(SyncEncoder.Config().scaled(width), rng: &rng)
        let adam = Adam(model.parameters, learningRate: 1e-3)
        let ctx = Context(training: true, seed: 2)
        let (c, v, m) = (options.batch, windows, offsets)
        let visual = Tensor(randomUniform: [c * v] + SyncEncoder.visualShape, bound: 1, rng: &rng)
        let audio = Tensor(randomNormal: [c * (v + 2 * m)] + SyncEncoder.audioShape, rng: &rng)
        BenchCommand.report(options) {
            adam.zeroGrad()
            var loss: Tensor?
            return BenchCommand.timePhases([
                ("forward", {
                    let video = model.embedVisual(visual, ctx)
                    let sound = model.embedAudio(audio, ctx).reshaped([c, v + 2 * m, model.config.outputDim])
                    loss = syncMatchingLoss(video: video, audio: sound, offsets: m, temperature: 0.1).loss
                }),
                ("backward", { loss!.backward() }),
                ("update", { adam.update() }),
            ])
        }
    }
}
