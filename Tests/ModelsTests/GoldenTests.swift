import XCTest
import ModelTestSupport
import Models
import NN
import Tensor
import TestSupport

/// A2L and ConvBlock against PyTorch (golden/models_golden.py with golden/reference.py), through
/// GoldenComparison (its doc has the tolerances).
final class GoldenTests: XCTestCase {
    /// Unlimited, and with a receptive field of ±3 over 7 steps (layer bands 2 and 1).
    func testA2LMatchesPyTorch() throws {
        for context in [nil, 3] as [Int?] {
            var rng = RandomGenerator(seed: 21)
            var config = A2L.Config()
            (config.inputDim, config.dim, config.layers, config.heads, config.feedForward, config.outputDim) = (12, 16, 2, 4, 32, 10)
            config.dropout = 0
            config.context = context
            let model = A2L(config, rng: &rng)
            perturb(model, &rng)
            let x = randomTensor([2, 7, 12], seed: 22)
            let target = randomTensor([2, 7, 10], seed: 23)
            let mask = Tensor(shape: [2, 7], values: [1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1])
            let keyMask = Tensor(shape: [2, 7], values: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
            let ctx = Context(training: true)
            let band = context.map { #", "context": \#($0)"# } ?? ""
            try compareWithPyTorch("a2l", model, x: x, inputs: [("target", target), ("mask", mask), ("key_mask", keyMask)],
                                   config: #"{"inputDim": 12, "dim": 16, "layers": 2, "heads": 4, "feedForward": 32, "outputDim": 10, "lr": 0.01, "weightDecay": 0.01\#(band)}"#) {
                let y = model(x, keyMask: keyMask, ctx)
                return (y, model.loss(y, target, mask: mask))
            }
        }
    }

    func testConvBlockMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 31)
        let block = ConvBlock(rng: &rng)
        perturb(block, &rng)
        let x = randomTensor([2, 6, 16, 16], seed: 32)
        let target = randomTensor([2, 64, 4, 4], seed: 33)
        let ctx = Context(training: true)
        try compareWithPyTorch("conv_block", block, x: x, inputs: [("target", target)], config: #"{"lr": 0.01, "weightDecay": 0.01}"#) {
            let y = block(x, ctx)
            return (y, mseLoss(y, target))
        }
    }

    func perturb(_ model: Module, _ rng: inout RandomGenerator) { GoldenComparison.perturb(model, &rng) }

    func compareWithPyTorch(_ name: String, _ model: Module, x: Tensor, inputs: [(String, Tensor)], config: String,
                            file: StaticString = #filePath, line: UInt = #line, step: () -> (Tensor, Tensor)) throws {
        try GoldenComparison.compareWithPyTorch(script: "Tests/ModelsTests/golden/models_golden.py", name, model, x: x,
                                                inputs: inputs, config: config, file: file, line: line, step: step)
    }
}
