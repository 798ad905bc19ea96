import Foundation
import Models
import NN
import Tensor
import Training
import XCTest

/// The L2F objective and training step: sync windows of generated faces, a tiny run lowering
/// L1, and the divergence guard.
final class L2FTrainingTests: XCTestCase {
    /// Frames [T, 128, 128, 3] uint8: smooth colour ramps that drift with the frame index.
    func frames(_ t: Int, seed: Int) -> [UInt8] {
        (0..<(t * 128 * 128 * 3)).map { i in
            let c = i % 3, p = i / 3, x = p % 128, y = (p / 128) % 128, f = p / (128 * 128)
            return UInt8((x * (c + 1) + y * (3 - c) + 9 * f + 40 * seed) % 256)
        }
    }

    func tinyModels(seed: UInt64, learningRate: Float) -> L2FModels {
        var rng = RandomGenerator(seed: seed)
        var g = Generator.Config()
        (g.channels, g.lipChannels, g.lipDim) = ([4, 6, 8, 8, 8], 4, 16)
        var d = Discriminator.Config()
        d.channels = [4, 6, 8, 8, 8]
        return L2FModels(generator: Generator(g, rng: &rng), discriminator: Discriminator(d, rng: &rng),
                         sync: SyncEncoder(tinyConfig(), rng: &rng), weights: L2FLossWeights(),
                         learningRate: learningRate, context: Context(training: true, seed: seed))
    }

    func batch(windows: Int, frames t: Int) -> L2FBatch {
        var rng = RandomGenerator(seed: 5)
        let f = (0..<windows).map { frames(t, seed: $0) }
        let references = f.map { Array($0.prefix(128 * 128 * 3)) }.map { first in Array((0..<t).map { _ in first }.joined()) }
        let mel = (0..<windows).map { _ in (0..<(t * 320)).map { _ in rng.normal() } }
        let lip = Tensor(randomNormal: [windows * t, 16], rng: &rng)
        return L2FBatch.make(frames: f, references: references, mel: mel, lip: lip)
    }

    func testSyncWindowsOfFacesMatchTheEncodersInput() {
        let t = 6, f = frames(t, seed: 1)
        let expected = f.withUnsafeBufferPointer { SyncEncoder.visualInput(frames: $0, centres: Array(0..<t)) }
        let faces = f.withUnsafeBufferPointer { Generator.imageTensor($0) }
        let twice = concat([faces, faces], axis: 0)    // two windows: each repeats its own edges
        let windows = syncVisualWindows(twice, windows: 2)
        XCTAssertEqual(windows.shape, [2 * t] + SyncEncoder.visualShape)
        XCTAssertEqual(Array(windows.values.prefix(expected.count)), expected.values)
        XCTAssertEqual(Array(windows.values.suffix(expected.count)), expected.values)
    }

    func testTinyRunLowersL1AndLogsEveryTerm() throws {
        let models = tinyModels(seed: 3, learningRate: 1e-3)
        let b = batch(windows: 2, frames: 5)
        var first: L2FLossTerms?, last: L2FLossTerms?
        for _ in 0..<15 {
            let terms = try models.trainStep(b)
            if first == nil { first = terms }
            last = terms
        }
        print("L2F tiny run: first \(first!), last \(last!)")
        XCTAssertNotNil(first!.audioVisual)
        XCTAssertNotNil(first!.visualVisual)
        XCTAssertLessThan(last!.l1, 0.95 * first!.l1, "L1 should fall on a fixed batch (25 steps: 0.253 → 0.209)")
        XCTAssertEqual(models.generatorOptimizer.step, 15)
        XCTAssertEqual(models.discriminatorOptimizer.step, 15)
        // the frozen sync encoder is untouched and has no gradients
        XCTAssertTrue(models.sync.parameters.allSatisfy { $0.1.grad == nil && !$0.1.requiresGrad })
    }

    func testSwitchedOffTermsAreNotComputed() throws {
        let models = tinyModels(seed: 4, learningRate: 1e-4)
        models.weights.audioVisual = false
        models.weights.visualVisual = false
        let terms = try models.trainStep(batch(windows: 1, frames: 5))
        XCTAssertNil(terms.audioVisual)
        XCTAssertNil(terms.visualVisual)
        XCTAssertEqual(terms.generator, 10 * terms.l1 + 0.07 * terms.gan, accuracy: 1e-4)
    }

    func testExplodingLossStopsBeforeAnyUpdate() {
        let models = tinyModels(seed: 6, learningRate: 1e-4)
        models.explodingLoss = 1e-3
        let before = models.generator.parameters.map { $0.1.values }
        XCTAssertThrowsError(try models.trainStep(batch(windows: 1, frames: 5))) { error in
            XCTAssertTrue("\(error)".contains("training diverged: discriminator loss"), "\(error)")
        }
        XCTAssertEqual(models.generator.parameters.map { $0.1.values }, before)
        XCTAssertEqual(models.discriminatorOptimizer.step, 0)
    }
}
