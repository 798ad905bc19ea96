import XCTest
import ModelTestSupport
import NN
import Tensor

/// The transformer encoder layer against PyTorch's (golden/golden.py), through GoldenComparison
/// (its doc has the tolerances).
final class LayerGoldenTests: XCTestCase {
    func testEncoderLayerMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 11)
        let layer = TransformerEncoderLayer(dim: 16, heads: 4, feedForward: 32, dropout: 0, rng: &rng)
        GoldenComparison.perturb(layer, &rng)
        let x = randomTensor([2, 6, 16], seed: 12)
        let keyMask = Tensor(shape: [2, 6], values: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
        let weights = randomTensor([2, 6, 16], seed: 13)
        let ctx = Context(training: true)
        try GoldenComparison.compareWithPyTorch(
            script: "Tests/NNTests/golden/golden.py", "encoder_layer", layer, x: x,
            inputs: [("key_mask", keyMask), ("weights", weights)],
            config: #"{"dim": 16, "heads": 4, "feedForward": 32, "context": 2, "lr": 0.01, "weightDecay": 0.1}"#) {
            let y = layer(x, keyMask: keyMask, band: 2, ctx)
            return (y, (y * weights).sum())
        }
    }
}
