import XCTest
import Tensor

/// One finite-difference check per op (see GradCheck.swift for the tolerance).
final class GradientTests: XCTestCase {
    func testBroadcastingArithmetic() {
        checkGradients("add", [randomTensor([2, 3, 4], seed: 1), randomTensor([3, 1], seed: 2)]) { $0[0] + $0[1] }
        checkGradients("sub", [randomTensor([2, 3, 4], seed: 3), randomTensor([4], seed: 4)]) { $0[0] - $0[1] }
        checkGradients("mul", [randomTensor([2, 1, 4], seed: 5), randomTensor([3, 1], seed: 6)]) { $0[0] * $0[1] }
        let denominator = randomTensor([2, 3], seed: 8, gap: 0.5)
        checkGradients("div", [randomTensor([2, 3], seed: 7), denominator]) { $0[0] / $0[1] }
        checkGradients("same-shape mul", [randomTensor([3, 5], seed: 9), randomTensor([3, 5], seed: 10)]) { $0[0] * $0[1] }
        checkGradients("affine", [randomTensor([4], seed: 11)]) { affine($0[0], scale: -2, shift: 3) }
    }

    func testMatmulAndLinear() {
        checkGradients("batched matmul", [randomTensor([2, 3, 4], seed: 1), randomTensor([2, 4, 5], seed: 2)]) { matmul($0[0], $0[1]) }
        checkGradients("shared matmul", [randomTensor([2, 3, 4], seed: 3), randomTensor([4, 5], seed: 4)]) { matmul($0[0], $0[1]) }
        checkGradients("linear", [randomTensor([2, 3, 4], seed: 5), randomTensor([5, 4], seed: 6), randomTensor([5], seed: 7)]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
    }

    func testReductionsAndShapes() {
        checkGradients("sum axis", [randomTensor([2, 3, 4], seed: 1)]) { $0[0].sum(axis: 1) }
        checkGradients("mean axis keepDims", [randomTensor([2, 3, 4], seed: 2)]) { $0[0].mean(axis: 0, keepDims: true) }
        checkGradients("sum all", [randomTensor([2, 3], seed: 3)]) { $0[0].sum() }
        checkGradients("mean all", [randomTensor([2, 3], seed: 4)]) { $0[0].mean() }
        checkGradients("reshape+permute", [randomTensor([2, 3, 4], seed: 5)]) { $0[0].reshaped([6, 4]).reshaped([2, 3, 4]).permuted([2, 0, 1]) }
        checkGradients("transpose", [randomTensor([3, 4], seed: 6)]) { $0[0].transposed(0, 1) }
        checkGradients("slice", [randomTensor([2, 4, 3], seed: 7)]) { $0[0].slice(axis: 1, 1..<3) }
        checkGradients("concat", [randomTensor([2, 2, 3], seed: 8), randomTensor([2, 1, 3], seed: 9)]) { concat($0, axis: 1) }
    }

    func testActivations() {
        checkGradients("relu", [randomTensor([3, 7], seed: 1, gap: 0.05)]) { relu($0[0]) }
        checkGradients("leakyRelu", [randomTensor([3, 7], seed: 2, gap: 0.05)]) { leakyRelu($0[0], slope: 0.2) }
        checkGradients("gelu", [randomTensor([3, 7], seed: 3)]) { gelu($0[0]) }
        checkGradients("sigmoid", [randomTensor([3, 7], seed: 4)]) { sigmoid($0[0]) }
        checkGradients("tanh", [randomTensor([3, 7], seed: 5)]) { tanh($0[0]) }
        checkGradients("exp", [randomTensor([3, 7], seed: 6)]) { exp($0[0]) }
        checkGradients("log", [affine(randomTensor([3, 7], seed: 7, scale: 0.3), scale: 1, shift: 2)]) { log($0[0]) }
        checkGradients("softmax", [randomTensor([3, 6], seed: 8)]) { softmax($0[0]) }
        checkGradients("logSoftmax", [randomTensor([3, 6], seed: 9)]) { logSoftmax($0[0]) }
        checkGradients("dropout", [randomTensor([4, 8], seed: 10)]) { $0[0].dropout(p: 0.3, key: 7) }
    }

    func testNorms() {
        checkGradients("layerNorm", [randomTensor([2, 3, 6], seed: 1), randomTensor([6], seed: 2), randomTensor([6], seed: 3)]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2])
        }
        for training in [true, false] {
            let mean = randomTensor([2], seed: 4, scale: 0.1), variance = affine(randomTensor([2], seed: 5, scale: 0.1), scale: 1, shift: 1)
            checkGradients("batchNorm2d training=\(training)",
                           [randomTensor([3, 2, 3, 3], seed: 6), randomTensor([2], seed: 7), randomTensor([2], seed: 8)]) {
                batchNorm2d($0[0], weight: $0[1], bias: $0[2], runningMean: mean, runningVar: variance, training: training)
            }
        }
    }

    func testAttention() {
        // qkv [B 2, T 5, 3·d 24], 2 heads; batch item 0 has its last key masked; band ±2; dropout.
        let mask = Tensor(shape: [2, 5], values: [1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
        checkGradients("attention", [randomTensor([2, 5, 24], seed: 1)]) {
            multiHeadAttention($0[0], heads: 2, keyMask: mask, band: 2, dropout: 0.2, dropoutKey: 5)
        }
        checkGradients("attention plain", [randomTensor([1, 4, 12], seed: 2)]) { multiHeadAttention($0[0], heads: 1) }
    }

    func testConvolutions() {
        checkGradients("conv2d", [randomTensor([2, 3, 6, 5], seed: 1), randomTensor([4, 3, 3, 3], seed: 2), randomTensor([4], seed: 3)]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
        checkGradients("convTranspose2d", [randomTensor([2, 3, 3, 4], seed: 4), randomTensor([3, 2, 3, 3], seed: 5), randomTensor([2], seed: 6)]) {
            convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, outputPadding: 1)
        }
    }

    func testLosses() {
        checkGradients("mse", [randomTensor([3, 4], seed: 1), randomTensor([3, 4], seed: 2)]) { mseLoss($0[0], $0[1]) }
        let a = randomTensor([3, 4], seed: 3), b = a.detached()
        for i in 0..<b.count { b.data[i] += i % 2 == 0 ? 0.3 : -0.4 }   // keep |a − b| away from the kink
        checkGradients("l1", [a, b]) { l1Loss($0[0], $0[1]) }
        let mask = Tensor(shape: [2, 3], values: [1, 0, 1, 1, 1, 0])
        checkGradients("maskedMSE", [randomTensor([2, 3, 4], seed: 4), randomTensor([2, 3, 4], seed: 5)]) {
            maskedMSELoss($0[0], $0[1], mask: mask)
        }
        checkGradients("bceWithLogits", [randomTensor([3, 4], seed: 6), sigmoid(randomTensor([3, 4], seed: 7)).detached()]) {
            bceWithLogitsLoss($0[0], $0[1])
        }
        checkGradients("cosine", [randomTensor([3, 5], seed: 8), randomTensor([3, 5], seed: 9)]) { cosineSimilarity($0[0], $0[1]) }
        checkGradients("crossEntropy", [randomTensor([4, 5], seed: 10)]) { crossEntropyLoss($0[0], labels: [0, 4, 2, 2]) }
    }
}
