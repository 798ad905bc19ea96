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
    @OptionGroup var shape: SyncStepBench.Options

    func run() {
        let step = SyncStepBench(clips: options.batch, shape)
        BenchCommand.report(options) { BenchCommand.timePhases(step.phases()) }
    }
}

/// A sync-encoder training step on random inputs of `clips` clips: its model, optimiser, context
/// and the phases of one step (`beforeBackward`: phases run between forward and backward;
/// `backward`: how the loss is backpropagated).
struct SyncStepBench {
    let model: SyncEncoder, adam: Adam, ctx: Context
    let (clips, windows, offsets): (Int, Int, Int)
    let visual: Tensor, audio: Tensor   // [C·V, 15, 64, 128], [C·(V + 2L), 1, 80, 20]

    /// The step's shape flags besides the batch (`--batch` clips).
    struct Options: ParsableArguments {
        @Option(help: "Consecutive video windows per clip.") var windows = 8
        @Option(help: "Offsets ±L of the matching loss (as `cals train sync`).") var offsets = 6
        @Option(help: "Width multiplier of the channels.") var width = 1.0
    }

    init(clips: Int, _ shape: Options) {
        let (windows, offsets, width) = (shape.windows, shape.offsets, shape.width)
        var rng = RandomGenerator(seed: 1)
        model = SyncEncoder(SyncEncoder.Config().scaled(width), rng: &rng)
        adam = Adam(model.parameters, learningRate: 1e-3)
        ctx = Context(training: true, seed: 2)
        (self.clips, self.windows, self.offsets) = (clips, windows, offsets)
        visual = Tensor(randomUniform: [clips * windows] + SyncEncoder.visualShape, bound: 1, rng: &rng)
        audio = Tensor(randomNormal: [clips * (windows + 2 * offsets)] + SyncEncoder.audioShape, rng: &rng)
    }

    func phases(beforeBackward: [(String, () -> Void)] = [],
                backward: @escaping (Tensor) -> Void = { $0.backward() }) -> [(String, () -> Void)] {
        adam.zeroGrad()
        var loss: Tensor?
        let (c, v, m) = (clips, windows, offsets)
        return [
            ("forward", {
                let video = model.embedVisual(visual, ctx)
                let sound = model.embedAudio(audio, ctx).reshaped([c, v + 2 * m, model.config.outputDim])
                loss = syncMatchingLoss(video: video, audio: sound, offsets: m, temperature: 0.1).loss
            }),
        ] + beforeBackward + [
            ("backward", { backward(loss!) }),
            ("update", { adam.update() }),
        ]
    }
}
