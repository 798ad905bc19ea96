import ArgumentParser
import Foundation
import Models
import NN
import Tensor

/// One Adam step of A2L: forward, masked MSE, backward, update.
struct A2LStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "a2l-step",
                                                    abstract: "Milliseconds per A2L training step.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Frames (units) per sequence.") var frames = 50
    @Option(help: "Encoder layers.") var layers = 6

    func run() {
        var rng = RandomGenerator(seed: 1)
        var config = A2L.Config()
        config.layers = layers
        let model = A2L(config, rng: &rng)
        let adam = Adam(model.parameters, learningRate: 1e-4)
        let ctx = Context(training: true, seed: 2)
        let (b, t) = (options.batch, frames)
        let units = Tensor(randomNormal: [b, t, config.inputDim], rng: &rng)
        let target = Tensor(randomNormal: [b, t, config.outputDim], rng: &rng)
        let mask = Tensor(shape: [b, t], values: (0..<(b * t)).map { ($0 / 5) % 2 == 0 ? 1 : 0 })
        BenchCommand.report(options, extra: ["gflop_per_step": a2lGigaflop(config, batch: b, frames: t)]) {
            adam.zeroGrad()
            var loss: Tensor?
            return BenchCommand.timePhases([
                ("forward", { loss = model.loss(model(units, ctx), target, mask: mask) }),
                ("backward", { loss!.backward() }),
                ("update", { adam.update() }),
            ])
        }
    }
}

/// Matrix-multiply work of one A2L training step (forward ×3 for forward + backward), in GFLOP.
func a2lGigaflop(_ c: A2L.Config, batch: Int, frames: Int) -> Double {
    let tokens = Double(batch * frames), d = Double(c.dim)
    let perLayer = 2 * tokens * (d * 3 * d + d * d + 2 * d * Double(c.feedForward)) + 4 * tokens * Double(frames) * d
    let io = 2 * tokens * d * Double(c.inputDim + c.outputDim)
    return 3 * (Double(c.layers) * perLayer + io) / 1e9
}
