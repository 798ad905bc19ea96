import Dataset
import Face
import Foundation
import TestSupport
import ModelTestSupport
import Models
import NN
import Tensor
import Training
import XCTest

/// A gradient hook that records the parameter names it is given and scales every gradient; it
/// records the failure flags it is given and answers as if another rank failed when `otherRankFails`.
private final class RecordingHook: GradientHook {
    var calls: [[String]] = [], flags: [Bool] = []
    let scale: Float, otherRankFails: Bool
    init(scale: Float, otherRankFails: Bool = false) { (self.scale, self.otherRankFails) = (scale, otherRankFails) }
    func backward(_ loss: Tensor, parameters: [(String, Tensor)]) throws {
        loss.backward()
        calls.append(parameters.map(\.0))
        for (_, p) in parameters { p.grad?.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= scale } } }
    }
    func failedOnAnyRank(_ failedHere: Bool) throws -> Bool {
        flags.append(failedHere)
        return failedHere || otherRankFails
    }
}

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
                         sync: SyncEncoder(tinySyncEncoderConfig(), rng: &rng), weights: L2FLossWeights(),
                         learningRate: learningRate, context: Context(training: true, seed: seed))
    }

    func batch(windows: Int, frames t: Int) -> L2FBatch {
        var rng = RandomGenerator(seed: 5)
        let f = (0..<windows).map { frames(t, seed: $0) }
        let references = f.map { Array($0.prefix(128 * 128 * 3)) }.map { first in Array((0..<t).map { _ in first }.joined()) }
        let audio = (0..<windows).map { _ in WindowAudio(units: (0..<(t * 320)).map { _ in rng.normal() }, window: 0..<t, context: 0) }
        let lip = Tensor(randomNormal: [windows * t, 16], rng: &rng)
        return L2FBatch.make(frames: f, references: references, audio: audio, lip: lip, alignReferences: false)
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

    /// A window's audio is the window widened by the context within the clip, and its 0.2 s sync
    /// windows read the clip's real units across the window's edges (repeating an edge unit only
    /// at the clip's ends), exactly as the sync encoder's input over the whole clip does.
    func testWindowAudioReadsTheClipAroundTheWindow() {
        var rng = RandomGenerator(seed: 3)
        let n = 12, units = (0..<(n * 320)).map { _ in rng.normal() }
        XCTAssertEqual(WindowAudio.span(around: 4..<9, context: 3, within: n), 1..<12)
        XCTAssertEqual(WindowAudio.span(around: 0..<5, context: 3, within: n), 0..<8)
        for (window, context) in [(4..<9, 3), (0..<5, 2), (7..<12, 13), (3..<8, 0)] {
            let audio = WindowAudio(units: units, window: window, context: context)
            let span = WindowAudio.span(around: window, context: context, within: n)
            XCTAssertEqual(audio.mel, Array(units[(span.lowerBound * 320)..<(span.upperBound * 320)]))
            XCTAssertEqual(audio.start, window.lowerBound - span.lowerBound)
            let whole = units.withUnsafeBufferPointer { SyncEncoder.audioInput(mel: $0, centres: Array(window)) }
            let own = Array(units[(window.lowerBound * 320)..<(window.upperBound * 320)])
                .withUnsafeBufferPointer { SyncEncoder.audioInput(mel: $0, centres: Array(0..<window.count)) }
            if context >= 2 {
                XCTAssertEqual(audio.syncInput.values, whole.values, "\(window) ± \(context)")
            } else {
                XCTAssertEqual(audio.syncInput.values, own.values)
                XCTAssertNotEqual(own.values, whole.values, "the window's own units repeat its edges")
            }
        }
    }

    /// A2L voices a window from its whole span: changing a unit outside the window but inside the
    /// context changes the window's lip units, which are A2L's rows of the span; with no context
    /// the unit cannot reach them.
    func testA2LLipUnitsHearTheContextAroundTheWindow() {
        var config = L2FTrainingConfig()
        var a2l = A2L.Config()
        (a2l.dim, a2l.layers, a2l.heads, a2l.feedForward, a2l.outputDim) = (16, 1, 2, 32, 12)
        config.a2l = a2l
        var rng = RandomGenerator(seed: 4)
        let lip = LipEncoder(config.lipEncoder, rng: &rng), ctx = Context(training: false)
        let units = (0..<(12 * 320)).map { _ in rng.normal() }
        var changed = units
        for i in 320..<640 { changed[i] = rng.normal() }                  // unit 1
        for context in [0, 3] {
            let before = lip([WindowAudio(units: units, window: 4..<9, context: context)], ctx)
            let after = lip([WindowAudio(units: changed, window: 4..<9, context: context)], ctx)
            XCTAssertEqual(before.shape, [5, 12])
            if context == 0 { XCTAssertEqual(before.values, after.values) } else { XCTAssertNotEqual(before.values, after.values) }
        }
        let span = lip.a2l!(Tensor(shape: [1, 11, 320], values: Array(units[320...])), ctx).values   // units 1..<12
        XCTAssertEqual(lip([WindowAudio(units: units, window: 4..<9, context: 3)], ctx).values, Array(span[(3 * 12)..<(8 * 12)]))
    }

    /// The augmentation changes reference, visible half and L1 target with one draw, and the
    /// target's lower half stays hidden from the generator.
    func testAugmentationChangesReferenceAndTargetAlike() {
        let t = 2, f = frames(t, seed: 2), r = frames(t, seed: 3)
        var greyOnly = ClipAugmentation.none
        greyOnly.greyChance = 1
        var rng = RandomGenerator(seed: 9)
        let lip = Tensor(shape: [t, 16]), silence = WindowAudio(units: [Float](repeating: -4, count: t * 320), window: 0..<t, context: 0)
        let plain = L2FBatch.make(frames: [f], references: [r], audio: [silence], lip: lip, alignReferences: false)
        let grey = L2FBatch.make(frames: [f], references: [r], audio: [silence], lip: lip, alignReferences: false) { greyOnly.apply(to: $0, rng: &rng) }
        let plane = 128 * 128, half = 64 * 128
        func luma(_ x: ArraySlice<Float>, _ p: Int) -> Float {
            let x0 = x.startIndex
            return 0.299 * x[x0 + p] + 0.587 * x[x0 + plane + p] + 0.114 * x[x0 + 2 * plane + p]
        }
        let (identity, identityPlain) = (grey.identity.values, plain.identity.values)
        let (targets, targetsPlain) = (grey.target.values, plain.target.values)
        for i in 0..<t {
            let id = Array(identity[(i * 6 * plane)...]), idPlain = identityPlain[(i * 6 * plane)...]
            let target = Array(targets[(i * 3 * plane)...]), targetPlain = targetsPlain[(i * 3 * plane)...]
            for p in stride(from: 0, to: plane, by: 97) {
                for ch in 0..<3 {
                    XCTAssertEqual(id[ch * plane + p], luma(idPlain, p), accuracy: 1e-6)                 // reference
                    XCTAssertEqual(target[ch * plane + p], luma(targetPlain, p), accuracy: 1e-6)     // L1 target
                    XCTAssertEqual(id[(3 + ch) * plane + p], p < half ? target[ch * plane + p] : 0)  // visible half
                }
            }
        }
        XCTAssertNotEqual(plain.target.values, grey.target.values)
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

    func testClippingBoundsTheGeneratorSideGradientAndLogsItsNorm() throws {
        func gradientNorm(_ models: L2FModels) -> Double {
            var sum: Double = 0
            for (_, p) in models.generatorOptimizer.parameters {
                guard let g = p.grad else { continue }
                g.withUnsafeBufferPointer { for x in $0 { sum += Double(x) * Double(x) } }
            }
            return sum.squareRoot()
        }
        let free = tinyModels(seed: 7, learningRate: 1e-4)
        let unclipped = try free.trainStep(batch(windows: 1, frames: 5))
        XCTAssertEqual(unclipped.gradientNorm!, gradientNorm(free), accuracy: 1e-4 * unclipped.gradientNorm!)

        let clipped = tinyModels(seed: 7, learningRate: 1e-4)
        clipped.clipNorm = Float(unclipped.gradientNorm! / 10)
        let terms = try clipped.trainStep(batch(windows: 1, frames: 5))
        XCTAssertEqual(terms.gradientNorm!, unclipped.gradientNorm!, accuracy: 1e-4 * unclipped.gradientNorm!, "the norm before clipping")
        XCTAssertEqual(gradientNorm(clipped), unclipped.gradientNorm! / 10, accuracy: 1e-3 * unclipped.gradientNorm!)
        // Adam is invariant to one step's gradient scale, so the first step moves alike; the moments differ.
        XCTAssertNotEqual(clipped.generatorOptimizer.v[0].values, free.generatorOptimizer.v[0].values)
    }

    /// The hook gets each optimiser's parameters after backward and before the update, in the
    /// step's order (L2F: discriminator, then generator); what it leaves is what the update uses.
    func testTheGradientHookRunsBetweenBackwardAndUpdate() throws {
        let models = tinyModels(seed: 3, learningRate: 1e-3), input = batch(windows: 1, frames: 5)
        let zeroing = RecordingHook(scale: 0)
        let before = models.generator.parameters.map { $0.1.values } + models.discriminator.parameters.map { $0.1.values }
        _ = try TrainingLoop.take(models.plan(input), gradients: zeroing)
        XCTAssertEqual(zeroing.calls, [models.discriminatorOptimizer.parameters.map { $0.0 }, models.generatorOptimizer.parameters.map { $0.0 }])
        XCTAssertEqual(models.generatorOptimizer.step, 1)
        // Adam moves nothing on zero gradients.
        XCTAssertEqual(models.generator.parameters.map { $0.1.values } + models.discriminator.parameters.map { $0.1.values }, before)

        let identity = RecordingHook(scale: 1)
        _ = try TrainingLoop.take(models.plan(input), gradients: identity)
        XCTAssertNotEqual(models.generator.parameters.map { $0.1.values }, Array(before.prefix(models.generator.parameters.count)))
        // The discriminator is trainable again after the generator's objective froze it.
        XCTAssertTrue(models.discriminator.parameters.allSatisfy { $0.1.requiresGrad })
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

    /// A loss that diverged on another rank stops this one too, before its backward and update
    /// (the ranks agree on a flag); one that diverged here is told to the others.
    func testAStepThatFailedOnAnotherRankStopsThisOneBeforeBackward() {
        let models = tinyModels(seed: 6, learningRate: 1e-4), input = batch(windows: 1, frames: 5)
        let before = models.discriminator.parameters.map { $0.1.values }
        let elsewhere = RecordingHook(scale: 1, otherRankFails: true)
        XCTAssertThrowsError(try TrainingLoop.take(models.plan(input), gradients: elsewhere)) { XCTAssertTrue($0 is FailedOnAnotherRank, "\($0)") }
        XCTAssertEqual(elsewhere.flags, [false])
        XCTAssertEqual(elsewhere.calls, [], "no backward")
        XCTAssertEqual(models.discriminator.parameters.map { $0.1.values }, before)
        XCTAssertEqual(models.discriminatorOptimizer.step, 0)

        models.explodingLoss = 1e-3
        let here = RecordingHook(scale: 1)
        XCTAssertThrowsError(try TrainingLoop.take(models.plan(input), gradients: here)) {
            XCTAssertTrue("\($0)".contains("training diverged: discriminator loss"), "\($0)")
        }
        XCTAssertEqual(here.flags, [true])
    }
}

/// An untrained sync encoder of `tinySyncEncoderConfig()` saved as a sync checkpoint at `path`.
func writeTinySyncCheckpoint(_ path: String, rng: inout RandomGenerator) throws {
    var syncConfig = tinyTrainingConfig()
    syncConfig.model = tinySyncEncoderConfig()
    let sync = SyncEncoder(syncConfig.model, rng: &rng)
    try Checkpoint.save(sync, optimizer: Adam(sync.parameters), context: Context(), to: path, extra: try SyncCheckpoint.metadata(syncConfig))
}

/// An untrained A2L (16 wide, 1 layer, 12 lip units; `dropout` as given, else A2L's default)
/// saved as an A2L checkpoint at `path`.
func writeTinyA2LCheckpoint(_ path: String, dropout: Float? = nil, rng: inout RandomGenerator) throws {
    var a2lConfig = A2L.Config()
    (a2lConfig.dim, a2lConfig.layers, a2lConfig.heads, a2lConfig.feedForward, a2lConfig.outputDim) = (16, 1, 2, 32, 12)
    if let dropout { a2lConfig.dropout = dropout }
    let a2l = A2L(a2lConfig, rng: &rng)
    var a2lTraining = A2LTrainingConfig()
    a2lTraining.model = a2lConfig
    try Checkpoint.save(a2l, optimizer: Adam(a2l.parameters), context: Context(), to: path, extra: try A2LCheckpoint.metadata(a2lTraining))
}

/// The L2F trainer on a synthetic shard folder: exact resume, bad inputs, divergence, evaluation.
final class L2FTrainerTests: XCTestCase {
    let scratch = ScratchDir("l2f-trainer")

    /// Dataset, a tiny sync checkpoint and a tiny A2L checkpoint; returns (data, sync, a2l).
    func fixtures() throws -> (ProcessedDataset, String, String) {
        let data = scratch.path("data")
        if !FileManager.default.fileExists(atPath: data) {
            try writeSyntheticDataset(data, speakers: 2, clips: 2, frames: 20)
            var rng = RandomGenerator(seed: 2)
            try writeTinySyncCheckpoint(scratch.path("sync.safetensors"), rng: &rng)
            try writeTinyA2LCheckpoint(scratch.path("a2l.safetensors"), rng: &rng)
        }
        return (try ProcessedDataset(outFolder: data), scratch.path("sync.safetensors"), scratch.path("a2l.safetensors"))
    }

    func tinyL2FConfig(steps: Int) -> L2FTrainingConfig {
        var config = L2FTrainingConfig()
        config.steps = steps
        (config.windows, config.frames, config.checkpointEvery, config.gridEvery) = (1, 5, 2, 2)
        config.generator.channels = [4, 6, 8, 8, 8]
        config.discriminator.channels = [4, 6, 8, 8, 8]
        return config
    }

    func testResumeContinuesExactly() throws {
        let (data, sync, a2l) = try fixtures()
        let (straight, resumed, (a, _)) = try trainStraightAndResumed(
            steps: 4, stoppingAt: 2, folders: (scratch.path("a"), scratch.path("b"))) { steps, out, resume in
            try L2FTrainer(config: tinyL2FConfig(steps: steps), data: data, out: out, syncPath: sync, a2lPath: a2l, resume: resume)
        }
        XCTAssertTrue(a.tensors.keys.contains("lip.output_proj.weight") && a.tensors.keys.contains("optimizer.discriminator.m.out.weight"))
        // The moving average is checkpointed (and resumed exactly: all tensors are compared), and
        // evaluation loads it when asked to, and the last weights by default.
        XCTAssertTrue(a.tensors.keys.contains("average.lip.output_proj.weight"))
        let averaged = try L2FCheckpoint.load(straight.checkpointPath, averaged: true), last = try L2FCheckpoint.load(straight.checkpointPath)
        XCTAssertEqual(averaged.lip.parameters.first { $0.0 == "output_proj.weight" }!.1.values, a.tensors["average.lip.output_proj.weight"]!.values)
        XCTAssertEqual(last.lip.parameters.first { $0.0 == "output_proj.weight" }!.1.values, a.tensors["lip.output_proj.weight"]!.values)
        XCTAssertNotEqual(averaged.generator.parameters[0].1.values, last.generator.parameters[0].1.values)
        XCTAssertEqual(straight.records.map(\.terms), resumed.records.map(\.terms))
        for file in ["log.csv", "loss.png", "grid-000002.png", "grid-000004.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.path("b/\(file)")), file)
        }
        // A new run there is refused, naming the generator's step.
        XCTAssertThrowsError(try L2FTrainer(config: tinyL2FConfig(steps: 4), data: data, out: scratch.path("b"), syncPath: sync, a2lPath: a2l)) {
            XCTAssertTrue("\($0)".hasSuffix("b: holds a checkpoint at step 4; use --resume to continue or --fresh to start over"), "\($0)")
        }
    }

    /// Adam's first step moves every parameter with a gradient by its learning rate (m̂/√v̂ = ±1):
    /// the generator's by --learning-rate, the fine-tuned A2L's by --a2l-learning-rate.
    func testA2LLearningRateIsHowFarTheFirstStepMovesA2L() throws {
        let (data, sync, a2l) = try fixtures()
        var config = tinyL2FConfig(steps: 1)
        (config.learningRate, config.a2lLearningRate) = (1e-3, 1e-5)
        let trainer = try L2FTrainer(config: config, data: data, out: scratch.path("a2l-rate"), syncPath: sync, a2lPath: a2l)
        let parts = [trainer.models.generator.parameters, trainer.lip.parameters]
        let before = parts.map { $0.map { $0.1.values } }
        _ = try trainer.trainStep()
        let moved = zip(parts, before).map { part, old in
            zip(part, old).map { p, o in zip(p.1.values, o).map { abs($0 - $1) }.max()! }.max()!
        }
        XCTAssertEqual(moved[0], 1e-3, accuracy: 1e-5, "generator")
        XCTAssertEqual(moved[1], 1e-5, accuracy: 1e-7, "A2L")
    }

    func testBadCheckpointsAreClearErrorsAndDivergenceKeepsTheLastCheckpoint() throws {
        let (data, sync, a2l) = try fixtures()
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let out = scratch.path("bad")
        XCTAssertTrue(message { _ = try L2FTrainer(config: tinyL2FConfig(steps: 1), data: data, out: out, syncPath: a2l, a2lPath: a2l) }
            .contains("not a sync encoder checkpoint"))
        XCTAssertTrue(message { _ = try L2FTrainer(config: tinyL2FConfig(steps: 1), data: data, out: out, syncPath: sync, a2lPath: sync) }
            .contains("not an A2L checkpoint"))
        XCTAssertTrue(message { _ = try L2FTrainer(config: tinyL2FConfig(steps: 1), data: data, out: out, syncPath: scratch.path("none"), a2lPath: a2l) }
            .contains(scratch.path("none")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on bad input")

        // the window audio encoder needs no A2L; a diverging run stops and leaves its checkpoint alone
        var config = tinyL2FConfig(steps: 2)
        config.audioEncoder = .window
        config.windowEncoder = tinySyncEncoderConfig()
        let run = scratch.path("window")
        try L2FTrainer(config: config, data: data, out: run, syncPath: sync, a2lPath: nil).run()
        let saved = try Data(contentsOf: URL(fileURLWithPath: scratch.path("window/checkpoint.safetensors")))
        config.steps = 4
        let resumed = try L2FTrainer(config: config, data: data, out: run, syncPath: sync, a2lPath: nil, resume: true)
        resumed.models.explodingLoss = 1e-6
        let error = message { try resumed.run() }
        XCTAssertTrue(error.contains("training diverged") && error.contains("the last good checkpoint is"), error)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.path("window/checkpoint.safetensors"))), saved)
    }

    /// A resume is refused, leaving the run as it was, when given a sync encoder other than the
    /// run's, an A2L other than the one it started from, or an A2L for a window-encoder run.
    func testResumeRefusesOtherSyncAndA2LCheckpoints() throws {
        let (data, sync, a2l) = try fixtures()
        /// A copy of the checkpoint at `path` with one weight changed by one ulp.
        func nudged(_ path: String, _ name: String) throws -> String {
            let (tensors, metadata) = try Safetensors.read(path)
            let named = tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            let weight = try XCTUnwrap(named.first { !$0.0.hasPrefix("optimizer") }).1
            weight.withUnsafeMutableBufferPointer { $0[0] = $0[0].nextUp }
            try Safetensors.write(named, metadata: metadata, to: scratch.path(name))
            return scratch.path(name)
        }
        let otherSync = try nudged(sync, "other-sync.safetensors"), otherA2L = try nudged(a2l, "other-a2l.safetensors")
        func refusal(out: String, config: L2FTrainingConfig, sync: String, a2l: String?) -> String {
            do { _ = try L2FTrainer(config: config, data: data, out: out, syncPath: sync, a2lPath: a2l, resume: true); return "no error" } catch {
                return "\(error)"
            }
        }
        let run = scratch.path("fingerprints")
        try L2FTrainer(config: tinyL2FConfig(steps: 2), data: data, out: run, syncPath: sync, a2lPath: a2l, fresh: true).run()
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors"))
        XCTAssertEqual(refusal(out: run, config: tinyL2FConfig(steps: 3), sync: otherSync, a2l: nil),
                       "\(otherSync): is not the sync encoder the run in \(run) started from (weights "
                       + "\(Checkpoint.fingerprint(try SyncEncoder.load(checkpoint: otherSync).stateDict)), the run's "
                       + "\(Checkpoint.fingerprint(try SyncEncoder.load(checkpoint: sync).stateDict))); resume with that one")
        XCTAssertTrue(refusal(out: run, config: tinyL2FConfig(steps: 3), sync: sync, a2l: otherA2L)
            .hasPrefix("\(otherA2L): is not the A2L the run in \(run) started from (weights "))
        XCTAssertEqual(refusal(out: run, config: tinyL2FConfig(steps: 3), sync: sync, a2l: a2l), "no error", "the same ones")

        var config = tinyL2FConfig(steps: 1)
        config.audioEncoder = .window
        config.windowEncoder = tinySyncEncoderConfig()
        let window = scratch.path("fingerprints-window")
        try L2FTrainer(config: config, data: data, out: window, syncPath: sync, a2lPath: nil, fresh: true).run()
        XCTAssertEqual(refusal(out: window, config: config, sync: sync, a2l: a2l),
                       "\(a2l): given to resume \(window), which trains the window audio encoder, not A2L")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoint.safetensors")), checkpoint, "left alone")
    }

    func testCopyBaselineKeepsTheVisibleHalfAndCopiesTheReferencesLowerHalf() {
        let side = 4, frameBytes = side * side * 3
        let frames = (0..<(3 * frameBytes)).map { UInt8($0 % 251) }, references = (0..<(3 * frameBytes)).map { UInt8(255 - $0 / frameBytes) }
        let copied = pastingLowerHalves(of: references, under: frames, side: side)
        for i in 0..<3 { for b in 0..<frameBytes {
            XCTAssertEqual(copied[i * frameBytes + b], b < frameBytes / 2 ? frames[i * frameBytes + b] : UInt8(255 - i))
        } }
    }

    func testEvaluationScoresRealVideoAsPerfectAndReportsTheBaseline() throws {
        let (data, sync, a2l) = try fixtures()
        let trainer = try L2FTrainer(config: tinyL2FConfig(steps: 1), data: data, out: scratch.path("eval"), syncPath: sync, a2lPath: a2l)
        try trainer.run()
        let (config, generator, lip) = try L2FCheckpoint.load(trainer.checkpointPath)
        let result = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: sync),
                                     config: config, data: data, split: "train")
        print(result.table)
        XCTAssertEqual(result.clips, 4)
        XCTAssertEqual(result.frames, 4 * 20)
        let real = try XCTUnwrap(result.real)
        XCTAssertEqual(real.psnr, .infinity)
        XCTAssertEqual(real.mouthPSNR, .infinity)
        XCTAssertEqual(real.ssim, 1, accuracy: 1e-12)
        XCTAssertTrue(result.generated.psnr.isFinite)
        XCTAssertTrue(try XCTUnwrap(result.copyReference).psnr.isFinite)
        XCTAssertTrue(result.table.contains("our own sync encoder"))
        XCTAssertNil(real.lmd, "no LMD without a landmark model")
        let speaker = data.speakers[0]
        let one = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: sync),
                                  config: config, data: data, split: "all", speakers: [speaker])
        XCTAssertEqual(one.clips, data.clips.filter { $0.speaker == speaker }.count)
        XCTAssertTrue(one.table.contains("speakers \(speaker)"), one.table)
        XCTAssertThrowsError(try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: sync),
                                             config: config, data: data, split: "all", speakers: ["nobody"]))
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(result.generated), as: UTF8.self).contains("lmd"))

        // LMD with dlib's 68-point model (`make landmarks`): 0 for real video, ≥ 0 for the others.
        let model = TestEnv.repoRoot.appendingPathComponent("data/models/" + ShapePredictor.modelFileName).path
        guard FileManager.default.fileExists(atPath: model) else { throw InputErrorForTests("\(model) is missing: run `make landmarks`") }
        let withLMD = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: sync), config: config,
                                      data: data, split: "train", landmarks: try ShapePredictor(contentsOfFile: model))
        print(withLMD.table)
        XCTAssertEqual(withLMD.real?.lmd, 0)
        XCTAssertGreaterThan(try XCTUnwrap(withLMD.generated.lmd), 0)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(withLMD.copyReference?.lmd), 0)
        XCTAssertEqual(withLMD.generated.psnr, result.generated.psnr, "LMD changes nothing else")
        XCTAssertTrue(withLMD.table.contains("LMD") && withLMD.table.contains("mouth landmarks 49-68"), withLMD.table)

        // Without the baselines: the generated row alone, unchanged.
        let alone = try evaluateL2F(generator: generator, lip: lip, sync: try SyncEncoder.load(checkpoint: sync), config: config,
                                    data: data, split: "train", landmarks: try ShapePredictor(contentsOfFile: model), baselines: false)
        print(alone.table)
        XCTAssertEqual(alone.generated, withLMD.generated)
        XCTAssertNil(alone.copyReference)
        XCTAssertNil(alone.copyAlignedReference)
        XCTAssertNil(alone.real)
        XCTAssertFalse(alone.table.contains("copy") || alone.table.contains("real video"), alone.table)
        XCTAssertTrue(alone.table.contains("LMD"), alone.table)
    }
}
