import NN
import ModelTestSupport
import Tensor
import TestSupport
import XCTest

/// maxPool2d and prelu (the ops MTCNN adds): forward against PyTorch, backward by finite differences.
final class PoolTests: XCTestCase {
    /// Odd and even sizes, so ceil mode adds a clipped last window on some axes and not others.
    func testForwardMatchesPyTorch() throws {
        let x = randomTensor([2, 3, 7, 10], seed: 41), weight = randomTensor([3], seed: 42, scale: 0.3)
        let dir = ScratchDir("pool")
        try Safetensors.write([("x", x), ("weight", weight)], to: dir.path("in.safetensors"))
        try runPython("Tests/TensorTests/golden/pool_reference.py", [dir.path("in.safetensors"), dir.path("out.safetensors")])
        let torch = try Safetensors.read(dir.path("out.safetensors")).tensors
        let ours = [("pool2", maxPool2d(x, kernel: 2, stride: 2, ceilMode: true)),
                    ("pool3", maxPool2d(x, kernel: 3, stride: 2, ceilMode: true)),
                    ("pool3_floor", maxPool2d(x, kernel: 3, stride: 2)),
                    ("prelu", prelu(x, weight: weight))]
        for (name, y) in ours {
            let theirs = try XCTUnwrap(torch[name], name)
            XCTAssertEqual(y.shape, theirs.shape, name)
            XCTAssertEqual(y.values, theirs.values, name)   // both pick or scale the same floats
        }
        XCTAssertEqual(ours[1].1.shape, [2, 3, 3, 5])   // ⌈(7 − 3) / 2⌉ + 1, ⌈(10 − 3) / 2⌉ + 1 (floor mode: 4)
        XCTAssertEqual(ours[2].1.shape, [2, 3, 3, 4])
    }

    func testGradients() {
        // Pool inputs 0.05 apart, PReLU inputs 0.05 from zero: no finite-difference probe (±0.01)
        // swaps a maximum or crosses PReLU's kink.
        checkGradients("maxPool2d ceil", [distinctValues([2, 2, 5, 6], seed: 43)]) {
            maxPool2d($0[0], kernel: 3, stride: 2, ceilMode: true)
        }
        checkGradients("maxPool2d", [distinctValues([1, 2, 6, 6], seed: 44)]) { maxPool2d($0[0], kernel: 2, stride: 2) }
        checkGradients("prelu", [randomTensor([2, 3, 4], seed: 45, gap: 0.05), randomTensor([3], seed: 46)]) {
            prelu($0[0], weight: $0[1])
        }
    }

    /// The values 0.05·(k − count/2), k = 0..<count, in a random order.
    func distinctValues(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let count = shape.reduce(1, *)
        let order = (0..<count).map { ($0, rng.uniform()) }.sorted { $0.1 < $1.1 }.map { $0.0 }
        return Tensor(shape: shape, values: order.map { 0.05 * Float($0 - count / 2) })
    }
}
