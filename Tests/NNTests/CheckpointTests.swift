import XCTest
import Common
import ModelTestSupport
import NN
import Tensor
import TestSupport

final class CheckpointTests: XCTestCase {
    func testSafetensorsRoundTripAndPythonReadsIt() throws {
        let dir = ScratchDir("st")
        let a = randomTensor([2, 3], seed: 1), b = randomTensor([4], seed: 2), scalar = Tensor(shape: [], values: [7])
        let path = dir.path("t.safetensors")
        try Safetensors.write([("a.weight", a), ("b", b), ("s", scalar)], metadata: ["step": "3"], to: path)
        let (tensors, metadata) = try Safetensors.read(path)
        XCTAssertEqual(metadata, ["step": "3"])
        XCTAssertEqual(tensors["a.weight"]?.shape, [2, 3])
        XCTAssertEqual(tensors["a.weight"]?.values, a.values)
        XCTAssertEqual(tensors["b"]?.values, b.values)
        XCTAssertEqual(tensors["s"]?.shape, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), ["t.safetensors"], "no temp file left")
        let script = """
        import sys; from safetensors.numpy import load_file; from safetensors import safe_open
        t = load_file(sys.argv[1]); m = safe_open(sys.argv[1], "np").metadata()
        print(t["a.weight"].shape, "%.6f" % t["a.weight"].sum(), t["s"].shape, m["step"])
        """
        let out = try TestSupport.run(TestEnv.python, ["-c", script, path])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "(2, 3) \(String(format: "%.6f", a.values.reduce(0, +))) () 3")
    }

    func testFingerprintTellsWeightsApart() {
        let a = randomTensor([2, 3], seed: 1), b = randomTensor([4], seed: 2)
        let fingerprint = Checkpoint.fingerprint([("a", a), ("b", b)])
        XCTAssertEqual(fingerprint.count, 16)
        XCTAssertEqual(Checkpoint.fingerprint([("a", Tensor(shape: [2, 3], values: a.values)), ("b", b)]), fingerprint, "same weights")
        var nudgedValues = b.values
        nudgedValues[3] = nudgedValues[3].nextUp
        let nudged = Tensor(shape: [4], values: nudgedValues)
        XCTAssertNotEqual(Checkpoint.fingerprint([("a", a), ("b", nudged)]), fingerprint, "one value one ulp off")
        XCTAssertNotEqual(Checkpoint.fingerprint([("a", a), ("c", b)]), fingerprint, "another name")
        XCTAssertNotEqual(Checkpoint.fingerprint([("a", a.reshaped([3, 2])), ("b", b)]), fingerprint, "another shape")
    }

    func testMalformedFilesThrowInputError() throws {
        let dir = ScratchDir("st")
        let good = dir.path("good.safetensors")
        try Safetensors.write([("w", randomTensor([8], seed: 1))], to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let header = String(decoding: bytes[8..<(bytes.count - 32)], as: UTF8.self)
        let cases: [(String, Data)] = [
            ("short", Data([1, 2, 3])),
            ("truncated", bytes.prefix(bytes.count - 4)),
            ("huge header", Data([255, 255, 255, 255, 0, 0, 0, 0]) + bytes.dropFirst(8)),
            ("not json", bytes.prefix(8) + Data(repeating: 0x41, count: bytes.count - 8)),
            ("f16", bytes.prefix(8) + Data(header.replacingOccurrences(of: "F32", with: "F16").utf8) + bytes.suffix(32)),
        ]
        for (name, data) in cases {
            let path = dir.path("\(name).safetensors")
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Safetensors.read(path), name) { error in
                XCTAssertEqual((error as? InputError)?.path, path, "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try Safetensors.read(dir.path("absent.safetensors")))
    }

    /// Train 4 steps; or train 2, save, load into a differently initialised model, train 2:
    /// the losses of steps 3 and 4 are bit-identical (dropout on, warm-up and clipping active).
    func testResumeGivesIdenticalLosses() throws {
        func makeRun(seed: UInt64) -> (TransformerEncoderLayer, Adam, Context) {
            var rng = RandomGenerator(seed: seed)
            let model = TransformerEncoderLayer(dim: 8, heads: 2, feedForward: 24, dropout: 0.1, rng: &rng)
            return (model, Adam(model.parameters, learningRate: 1e-3, weightDecay: 1e-4), Context(training: true, seed: seed + 1))
        }
        func train(_ run: (TransformerEncoderLayer, Adam, Context), steps: Int) -> [Float] {
            let (model, adam, ctx) = run
            return (0..<steps).map { _ in
                var data = RandomGenerator(seed: 1000 + UInt64(adam.step))   // the batch depends on the step only
                let x = Tensor(randomNormal: [2, 5, 8], rng: &data), target = Tensor(randomNormal: [2, 5, 8], rng: &data)
                let keyMask = Tensor(shape: [2, 5], values: (0..<10).map { $0 % 5 == 4 && $0 > 5 ? 0 : 1 })
                adam.zeroGrad()
                let loss = mseLoss(model(x, keyMask: keyMask, ctx), target)
                loss.backward()
                clipGradNorm(model.parameters, maxNorm: 0.5)
                adam.learningRate = warmupLearningRate(base: 1e-3, step: adam.step + 1, warmupSteps: 3)
                adam.update()
                return loss.item
            }
        }
        let straight = train(makeRun(seed: 1), steps: 4)

        let dir = ScratchDir("ckpt")
        let first = makeRun(seed: 1)
        XCTAssertEqual(train(first, steps: 2), Array(straight[0..<2]))
        try Checkpoint.save(first.0, optimizer: first.1, context: first.2, to: dir.path("c.safetensors"))
        let resumed = makeRun(seed: 42)
        try Checkpoint.load(dir.path("c.safetensors"), into: resumed.0, optimizer: resumed.1, context: resumed.2)
        XCTAssertEqual(resumed.1.step, 2)
        XCTAssertEqual(train(resumed, steps: 2), Array(straight[2..<4]))
    }

    func testClippingWarmupAndNoGrad() {
        let p = Tensor(shape: [2], values: [0, 0], requiresGrad: true)
        (p * Tensor(shape: [2], values: [3, 4])).sum().backward()
        XCTAssertEqual(clipGradNorm([("p", p)], maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(p.gradValues![0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(p.gradValues![1], 0.8, accuracy: 1e-6)
        XCTAssertEqual(warmupLearningRate(base: 1, step: 1, warmupSteps: 4), 0.25)
        XCTAssertEqual(warmupLearningRate(base: 1, step: 9, warmupSteps: 4), 1)
        XCTAssertEqual(cosineLearningRate(base: 2, step: 1, total: 5, floor: 0.1), 2, accuracy: 1e-6)
        XCTAssertEqual(cosineLearningRate(base: 2, step: 3, total: 5, floor: 0.1), 1.1, accuracy: 1e-6)   // halfway
        XCTAssertEqual(cosineLearningRate(base: 2, step: 5, total: 5, floor: 0.1), 0.2, accuracy: 1e-6)
        XCTAssertEqual(cosineLearningRate(base: 2, step: 9, total: 5, floor: 0.1), 0.2, accuracy: 1e-6)
        let y = withoutGrad { p * p }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue((p * p).requiresGrad)
    }

    func testParameterAverageWarmsUpItsDecay() {
        let p = Tensor(shape: [2], values: [1, -2])
        let average = ParameterAverage([("p", p)], decay: 0.9)
        XCTAssertEqual(average.averages[0].values, [1, -2], "starts at the parameters")
        p.assign(Tensor(shape: [2], values: [3, 0]))
        average.update(step: 1)                                 // d = min(0.9, 2/11)
        let d1: Float = 2.0 / 11
        XCTAssertEqual(average.averages[0].values[0], d1 * 1 + (1 - d1) * 3, accuracy: 1e-6)
        XCTAssertEqual(average.averages[0].values[1], d1 * -2, accuracy: 1e-6)
        let before = average.averages[0].values
        average.update(step: 500)                               // d = 0.9: the cap
        XCTAssertEqual(average.averages[0].values[0], 0.9 * before[0] + 0.1 * 3, accuracy: 1e-6)
        XCTAssertEqual(average.named.map(\.0), ["p"])
        average.restart()
        XCTAssertEqual(average.averages[0].values, [3, 0])
    }
}
