import Foundation
import ModelTestSupport
import Models
import NN
import Tensor
import XCTest

/// The L2F generator, its decoder block, the discriminator and the L2F loss terms: gradient
/// checks, PyTorch golden tests (models_golden.py cases l2f_*, modules in golden/l2f_reference.py) and
/// hand-computed loss values.
final class L2FModelTests: XCTestCase {
    /// A generator small enough for finite differences: 16×16 faces, three levels, 10-d lip units.
    static func tinyGenerator(seed: UInt64, warpsReference: Bool = true) -> Generator {
        var config = Generator.Config()
        (config.channels, config.lipChannels, config.lipDim, config.imageSize) = ([4, 6, 8], 3, 10, 16)
        config.warpsReference = warpsReference
        var rng = RandomGenerator(seed: seed)
        return Generator(config, rng: &rng)
    }

    static func tinyDiscriminator(seed: UInt64) -> Discriminator {
        var config = Discriminator.Config()
        (config.channels, config.imageSize) = ([4, 8], 16)
        var rng = RandomGenerator(seed: seed)
        return Discriminator(config, rng: &rng)
    }

    // MARK: Finite-difference gradient checks

    /// ε = 1e-3 so that probes rarely cross a ReLU kink; tolerance 1e-2 covers float32 noise of
    /// the ~10² summed outputs at that ε (a wrong backward is off by O(1)).
    func testGeneratorGradients() {
        // Without the warp: its bilinear weights have a kink wherever a sample point crosses a pixel,
        // and a probe that moves the flow crosses some of them (measured: 10% and 70% off at two
        // elements). The warp alone is checked in GradientTests.testWarpGradients, away from
        // pixels, and the generator with it against PyTorch's grid_sample in testGeneratorMatchesPyTorch.
        let model = Self.tinyGenerator(seed: 71, warpsReference: false)
        let ctx = Context(training: true)
        checkGradients("generator (x, lip)", [randomTensor([2, 6, 16, 16], seed: 72), randomTensor([2, 10], seed: 73)],
                       eps: 1e-3, tol: 1e-2) { model($0[0], lip: $0[1], ctx) }
        var rng = RandomGenerator(seed: 74)
        let block = UpBlock(3, 2, skip: 2, rng: &rng)
        // With skip seed 76, one probe of the skip crossed a kink of the mix layer's ReLU (6% off);
        // ε = 1e-4 is below float32 noise here. The PyTorch golden test below matches this block's
        // gradients to 5e-7.
        checkGradients("up block (x, skip)", [randomTensor([2, 3, 3, 3], seed: 75), randomTensor([2, 2, 6, 6], seed: 77)],
                       eps: 1e-3, tol: 1e-2) { block($0[0], skip: $0[1], ctx) }
    }

    func testDiscriminatorGradients() {
        let model = Self.tinyDiscriminator(seed: 81)
        checkGradients("discriminator", [randomTensor([2, 3, 16, 16], seed: 82)], eps: 1e-3, tol: 1e-2) { model($0[0]) }
        // the parameters too (weights of the first conv, through the whole stack)
        let w = model.blocks[0].weight
        checkGradients("discriminator weight", [w], eps: 1e-3, tol: 1e-2) { _ in model(randomTensor([2, 3, 16, 16], seed: 83)) }
    }

    func testLossGradients() {
        checkGradients("d_av", [randomTensor([4, 6], seed: 91).detached(), randomTensor([4, 6], seed: 92)]) {
            audioVisualSyncLoss(audio: relu($0[0]) + 0.1, visual: relu($0[1]) + 0.1)
        }
        checkGradients("d_vv", [randomTensor([2, 3, 5], seed: 93), randomTensor([2, 3, 5], seed: 94)]) {
            visualVisualSyncLoss(generated: $0[0], real: $0[1])
        }
        checkGradients("discriminator loss", [randomTensor([5], seed: 95), randomTensor([5], seed: 96)]) {
            discriminatorLoss(real: $0[0], fake: $0[1])
        }
        checkGradients("generator GAN loss", [randomTensor([5], seed: 97)]) { generatorAdversarialLoss(fake: $0[0]) }
    }

    // MARK: Loss values computed by hand

    func testSyncLossesByHand() {
        // cos([1,0],[1,0]) = 1, cos([1,1],[0,1]) = 1/√2
        let audio = Tensor(shape: [2, 2], values: [1, 0, 1, 1]), visual = Tensor(shape: [2, 2], values: [1, 0, 0, 1])
        let dav = -(log(1 + 1e-6) + log(0.5.squareRoot() + 1e-6)) / 2
        XCTAssertEqual(audioVisualSyncLoss(audio: audio, visual: visual).item, Float(dav), accuracy: 1e-6)

        // one clip, two windows: S = [[1, 1/√2], [0, 1/√2]] (real rows normalised), targets on the diagonal
        let generated = Tensor(shape: [1, 2, 2], values: [1, 0, 0, 1]), real = Tensor(shape: [1, 2, 2], values: [2, 0, 3, 3])
        let r = 0.5.squareRoot()
        let dvv = (log(1 + exp(r - 1)) + log(1 + exp(-r))) / 2
        XCTAssertEqual(visualVisualSyncLoss(generated: generated, real: real).item, Float(dvv), accuracy: 1e-6)
        // identical windows that are all different from each other score lower than swapped ones
        let swapped = Tensor(shape: [1, 2, 2], values: [0, 1, 1, 0])
        XCTAssertLessThan(visualVisualSyncLoss(generated: generated, real: generated).item,
                          visualVisualSyncLoss(generated: swapped, real: generated).item)
    }

    func testAdversarialLossesByHand() {
        let zero = Tensor(shape: [1], values: [0])
        XCTAssertEqual(discriminatorLoss(real: zero, fake: zero).item, Float(2 * log(2.0)), accuracy: 1e-6)
        let real = Tensor(shape: [2], values: [2, -1]), fake = Tensor(shape: [2], values: [-1, 3])
        let d = (log(1 + exp(-2.0)) + log(1 + exp(1.0))) / 2 + (log(1 + exp(-1.0)) + log(1 + exp(3.0))) / 2
        XCTAssertEqual(discriminatorLoss(real: real, fake: fake).item, Float(d), accuracy: 1e-5)
        let g = (log(1 + exp(1.0)) + log(1 + exp(-3.0))) / 2   // −mean log σ(fake)
        XCTAssertEqual(generatorAdversarialLoss(fake: fake).item, Float(g), accuracy: 1e-6)
    }

    // MARK: Full-size shapes and inputs

    func testFullSizeGeneratorShapesAndRange() {
        var rng = RandomGenerator(seed: 101)
        let g = Generator(rng: &rng), d = Discriminator(rng: &rng)
        let ctx = Context(training: false)
        let x = withoutGrad { Tensor(randomUniform: [2, 6, 128, 128], bound: 0.5, rng: &rng) + 0.5 }
        let lip = Tensor(randomUniform: [2, 1024], bound: 1, rng: &rng)
        let y = withoutGrad { g(x, lip: lip, ctx) }
        XCTAssertEqual(y.shape, [2, 3, 128, 128])
        XCTAssertTrue(y.values.allSatisfy { $0 > 0 && $0 < 1 })
        // The visible upper half is the target's own; the lower half is painted.
        let plane = 128 * 128, half = 64 * 128
        let (yv, xv) = (y.values, x.values)
        for i in 0..<2 { for ch in 0..<3 {
            let painted = Array(yv[((i * 3 + ch) * plane)...].prefix(plane)), given = Array(xv[((i * 6 + 3 + ch) * plane)...].prefix(plane))
            XCTAssertTrue((0..<half).allSatisfy { painted[$0] == given[$0] })
            XCTAssertFalse((half..<plane).allSatisfy { painted[$0] == given[$0] })
        } }
        XCTAssertEqual(withoutGrad { d(y) }.shape, [2])
    }

    func testIdentityInputZeroesTheTargetsLowerHalf() {
        let size = 4, t = 2
        let target = (0..<(t * size * size * 3)).map { UInt8(1 + $0 % 200) }
        let reference = (0..<(t * size * size * 3)).map { UInt8(255 - $0 % 200) }
        let x = target.withUnsafeBufferPointer { tp in
            reference.withUnsafeBufferPointer { Generator.identityInput(target: tp, reference: $0, size: size) }
        }
        XCTAssertEqual(x.shape, [t, 6, size, size])
        let xv = x.values
        for i in 0..<t { for ch in 0..<3 { for y in 0..<size { for xx in 0..<size {
            let pixel = (i * size * size + y * size + xx) * 3 + ch
            XCTAssertEqual(xv[((i * 6 + ch) * size + y) * size + xx], Float(reference[pixel]) / 255)
            XCTAssertEqual(xv[((i * 6 + 3 + ch) * size + y) * size + xx], y < size / 2 ? Float(target[pixel]) / 255 : 0)
        } } } }
    }
}

/// PyTorch golden tests of the L2F modules (outputs, loss, input and parameter gradients, BN
/// buffers, 3 Adam steps), through GoldenTests.compareWithPyTorch.
extension GoldenTests {
    func testUpBlockMatchesPyTorch() throws {
        var rng = RandomGenerator(seed: 41)
        let block = UpBlock(8, 4, skip: 3, rng: &rng)
        perturb(block, &rng)
        let x = randomTensor([2, 8, 4, 4], seed: 42), skip = randomTensor([2, 3, 8, 8], seed: 43)
        let target = randomTensor([2, 4, 8, 8], seed: 44)
        let ctx = Context(training: true)
        try compareWithPyTorch("l2f_up_block", block, x: x, inputs: [("skip", skip), ("target", target)],
                               config: #"{"out": 4, "lr": 0.01, "weightDecay": 0.01}"#) {
            let y = block(x, skip: skip, ctx)
            return (y, mseLoss(y, target))
        }
    }

    func testGeneratorMatchesPyTorch() throws {
        let model = L2FModelTests.tinyGenerator(seed: 51)
        var rng = RandomGenerator(seed: 52)
        perturb(model, &rng)
        let x = randomTensor([3, 6, 16, 16], seed: 53), lip = randomTensor([3, 10], seed: 54)
        let target = sigmoid(randomTensor([3, 3, 16, 16], seed: 55)).detached()
        let ctx = Context(training: true)
        try compareWithPyTorch("l2f_generator", model, x: x, inputs: [("lip", lip), ("target", target)],
                               config: #"{"channels": [4, 6, 8], "lipChannels": 3, "lipDim": 10, "lr": 0.01, "weightDecay": 0.01}"#) {
            let y = model(x, lip: lip, ctx)
            return (y, l1Loss(y, target))
        }
    }

    func testDiscriminatorMatchesPyTorch() throws {
        let model = L2FModelTests.tinyDiscriminator(seed: 61)
        var rng = RandomGenerator(seed: 62)
        perturb(model, &rng)
        let real = randomTensor([3, 3, 16, 16], seed: 63), fake = randomTensor([3, 3, 16, 16], seed: 64)
        try compareWithPyTorch("l2f_discriminator", model, x: real, inputs: [("fake", fake)],
                               config: #"{"channels": [4, 8], "lr": 0.01, "weightDecay": 0.01}"#) {
            let y = model(real)
            return (y, discriminatorLoss(real: y, fake: model(fake)))
        }
    }

}
