import ArgumentParser
import Foundation
import Models
import NN
import Tensor

/// Forward + backward of the L2F conv block (loss = mean of the output).
struct ConvBlockStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conv-block",
                                                    abstract: "Milliseconds per conv block forward + backward.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Input height and width.") var size = 128

    func run() {
        var rng = RandomGenerator(seed: 1)
        let block = ConvBlock(rng: &rng)
        let ctx = Context(training: true, seed: 2)
        let x = Tensor(randomNormal: [options.batch, 6, size, size], rng: &rng)
        BenchCommand.report(options) {
            block.zeroGrad()
            var loss: Tensor?
            return BenchCommand.timePhases([
                ("forward", { loss = block(x, ctx).mean() }),
                ("backward", { loss!.backward() }),
            ])
        }
    }
}
