import Common
import Dataset
import Face
import Foundation
import Models
import NN
import Tensor

/// Weights and switches of the L2F objective (SPEC §3):
///   L_G = l1·L1(Î, I) + gan·L_gan + sync·(d_av + d_vv),   L_D = BCE(D(I), 1) + BCE(D(Î), 0)
/// `audioVisual` / `visualVisual` false drop d_av / d_vv (the ablation rows of the paper's Table 1).
public struct L2FLossWeights: Codable, Equatable, Sendable {
    public var l1: Float = 10
    public var gan: Float = 0.07
    public var sync: Float = 0.03
    public var audioVisual = true
    public var visualVisual = true
    public init() {}
}

/// The loss terms of one step, as logged (d_av / d_vv are nil when switched off), and the global
/// L2 norm of the generator-side gradient (generator + lip encoder) before clipping (nil in logs
/// written before it was logged).
public struct L2FLossTerms: Equatable, Sendable {
    public var l1: Double, gan: Double, audioVisual: Double?, visualVisual: Double?
    public var generator: Double, discriminator: Double
    public var gradientNorm: Double? = nil
}

/// One batch of B windows of T frames (N = B·T rows, window-major).
///   identity [N, 6, S, S]: reference ++ target with its lower half zeroed (Generator.identityInput)
///   target   [N, 3, S, S]: the real frames, 0…1
///   lip      [N, lipDim]:  lip units (from A2L, or any encoder; may require gradients)
///   audio    [N, 1, 80, 20]: the sync encoder's audio window centred on each frame (WindowAudio.syncInput)
public struct L2FBatch {
    public let windows: Int, frames: Int
    public let identity: Tensor, target: Tensor, lip: Tensor, audio: Tensor

    public init(windows: Int, frames: Int, identity: Tensor, target: Tensor, lip: Tensor, audio: Tensor) {
        let n = windows * frames
        precondition(identity.shape.first == n && target.shape.first == n && lip.shape.first == n && audio.shape.first == n,
                     "L2F batch of \(windows)×\(frames) with identity \(identity.shape), target \(target.shape), "
                     + "lip \(lip.shape), audio \(audio.shape)")
        (self.windows, self.frames, self.identity, self.target, self.lip, self.audio) = (windows, frames, identity, target, lip, audio)
    }

    /// A batch from shard windows: frames [T, S, S, 3] uint8, reference frames (same layout), the
    /// audio of each window and lip units [T, lipDim] per window. With `alignReferences` each reference
    /// frame is first moved onto its target frame (ReferenceAlignment). `augment`, when given, changes each
    /// window's pair [T, 6, S, S] (reference ++ whole target, 0…1) in place before the target's
    /// lower half is hidden, so the reference, the visible half and the L1 target change alike.
    public static func make(frames: [[UInt8]], references: [[UInt8]], audio windowAudio: [WindowAudio], lip: Tensor,
                            alignReferences: Bool, augment: ((Tensor) -> Void)? = nil) -> L2FBatch {
        let b = frames.count, t = frames[0].count / (128 * 128 * 3)
        let pairs = withoutGrad { zip(frames, references).map { f, r in
            let r = alignReferences ? ReferenceAlignment.aligned(r, to: f, side: 128) : r
            let pair = concat([r, f].map { $0.withUnsafeBufferPointer { Generator.imageTensor($0) } }, axis: 1)
            augment?(pair)
            return pair
        } }
        let identity = withoutGrad { Generator.hidingTargetLowerHalf(concat(pairs, axis: 0)) }
        let target = withoutGrad { concat(pairs.map { $0.slice(axis: 1, 3..<6) }, axis: 0) }
        precondition(windowAudio.count == b && windowAudio.allSatisfy { $0.frames == t }, "audio of other windows than the frames")
        let audio = withoutGrad { concat(windowAudio.map(\.syncInput), axis: 0) }
        return L2FBatch(windows: b, frames: t, identity: identity, target: target, lip: lip, audio: audio)
    }
}

extension ProcessedDataset.Clip {
    /// The audio of window `rows` (counted within the clip) with up to `context` units on each side.
    public func audio(for rows: Range<Int>, context: Int) throws -> WindowAudio {
        let span = WindowAudio.span(around: rows, context: context, within: rowCount)
        return WindowAudio(mel: try mel(span), span: span, window: rows)
    }
}

/// The sync encoder's visual windows of faces [B·T, 3, S, S] (0…1): for every frame i of each
/// window of T, the lower halves of frames i−2 … i+2 of the same window (edges repeat), RGB of
/// frame k in channels 3k…3k+2 → [B·T, 15, S/2, S], differentiable (as SyncEncoder.visualInput).
public func syncVisualWindows(_ faces: Tensor, windows b: Int) -> Tensor {
    let n = faces.shape[0], t = n / b, size = faces.shape[2]
    precondition(faces.rank == 4 && n == b * t && faces.shape[1] == 3, "faces \(faces.shape) in \(b) windows")
    let lower = faces.slice(axis: 2, (size / 2)..<size)                      // [N, 3, S/2, S]
    let frame = (0..<n).map { lower.slice(axis: 0, $0..<($0 + 1)) }          // N × [1, 3, S/2, S]
    let k = SyncEncoder.windowFrames, half = k / 2
    return concat((0..<n).map { row in
        let (w, i) = (row / t, row % t)
        return concat((0..<k).map { frame[w * t + min(max(i - half + $0, 0), t - 1)] }, axis: 1)
    }, axis: 0)
}

/// Generator, discriminator, their Adam optimisers and the frozen sync encoder: one L2F training
/// step (discriminator update, then generator update) on a batch.
public final class L2FModels {
    public let generator: Generator, discriminator: Discriminator
    public let sync: SyncEncoder
    public let generatorOptimizer: Adam, discriminatorOptimizer: Adam
    /// The moving average of the generator side (generator + trainable lip encoder), updated after
    /// every generator step (`cals eval l2f --averaged` scores it).
    public let average: ParameterAverage
    public let context: Context
    public var weights: L2FLossWeights
    /// A loss above this (or not finite) stops training before any update is applied.
    public var explodingLoss: Double = 1e4
    /// The generator-side gradient is scaled down to this global L2 norm when above it (nil: never).
    /// d_av = −log cos has gradient −1/cos: one window the sync encoder scores near cos 0 can
    /// outweigh the rest of the batch by orders of magnitude, and through Adam's second moment
    /// slow the generator's learning for thousands of steps.
    public var clipNorm: Float?
    /// The frozen sync encoder runs in eval mode (BN running statistics) in its own context.
    let syncContext = Context(training: false)

    /// `lipParameters`: the lip-unit encoder's trainable tensors (A2L fine-tuned end to end, or the
    /// window audio encoder), updated by the generator's optimiser under `lip.<name>` at
    /// `lipLearningRate` (nil: `learningRate`).
    public init(generator: Generator, discriminator: Discriminator, sync: SyncEncoder, weights: L2FLossWeights,
                lipParameters: [(String, Tensor)] = [], learningRate: Float = 1e-4, lipLearningRate: Float? = nil,
                context: Context) {
        (self.generator, self.discriminator, self.sync, self.weights, self.context) = (generator, discriminator, sync, weights, context)
        for (_, p) in sync.parameters { p.requiresGrad = false }   // frozen: gradients only flow through it
        let generatorSide = L2FCheckpoint.generatorSide(generator, lipParameters: lipParameters)
        generatorOptimizer = Adam(generatorSide, learningRate: learningRate)
        let lipScale = (lipLearningRate ?? learningRate) / learningRate
        generatorOptimizer.rateScales = generatorSide.map { $0.0.hasPrefix("lip.") ? lipScale : 1 }
        discriminatorOptimizer = Adam(discriminator.parameters, learningRate: learningRate)
        average = ParameterAverage(generatorSide)
    }

    /// The generator's objective on generated faces [N, 3, S, S] and its terms.
    public func generatorLoss(_ fake: Tensor, _ batch: L2FBatch) -> (total: Tensor, l1: Tensor, gan: Tensor, av: Tensor?, vv: Tensor?) {
        let l1 = l1Loss(fake, batch.target)
        let gan = generatorAdversarialLoss(fake: discriminator(fake))
        var total = weights.l1 * l1 + weights.gan * gan
        var av: Tensor?, vv: Tensor?
        if weights.audioVisual || weights.visualVisual {
            let visual = sync.embedVisual(syncVisualWindows(fake, windows: batch.windows), syncContext)   // [N, D]
            if weights.audioVisual {
                let audio = withoutGrad { sync.embedAudio(batch.audio, syncContext) }
                av = audioVisualSyncLoss(audio: audio, visual: visual)
                total = total + weights.sync * av!
            }
            if weights.visualVisual {
                let real = withoutGrad { sync.embedVisual(syncVisualWindows(batch.target, windows: batch.windows), syncContext) }
                let d = real.shape[1], shape = [batch.windows, batch.frames, d]
                vv = visualVisualSyncLoss(generated: visual.reshaped(shape), real: real.reshaped(shape))
                total = total + weights.sync * vv!
            }
        }
        return (total, l1, gan, av, vv)
    }

    /// One step: D on real vs detached fake, then G on the full objective (the discriminator
    /// fixed). Throws (before the offending update) when a loss is not finite or exceeds
    /// `explodingLoss`. The record is the step's loss terms.
    public func plan(_ batch: L2FBatch) -> StepPlan<L2FLossTerms> {
        var fake: Tensor?, dLoss: Tensor?, terms: L2FLossTerms?
        let discriminatorStep = Objective(optimizer: discriminatorOptimizer, forward: { [self] in
            context.training = true
            let generated = generator(batch.identity, lip: batch.lip, context)
            let loss = discriminatorLoss(real: discriminator(batch.target), fake: discriminator(generated.detached()))
            try check("discriminator", loss.item)
            (fake, dLoss) = (generated, loss)
            return loss
        })
        let generatorStep = Objective(optimizer: generatorOptimizer, frozen: discriminator.parameters, forward: { [self] in
            let g = generatorLoss(fake!, batch)
            let t = L2FLossTerms(l1: Double(g.l1.item), gan: Double(g.gan.item), audioVisual: g.av.map { Double($0.item) },
                                 visualVisual: g.vv.map { Double($0.item) }, generator: Double(g.total.item),
                                 discriminator: Double(dLoss!.item))
            try check("generator", t.generator)
            terms = t
            return g.total
        }, beforeUpdate: { [self] in
            terms!.gradientNorm = Double(clipGradNorm(generatorOptimizer.parameters, maxNorm: clipNorm ?? .infinity))
        }, afterUpdate: { [self] in
            average.update(step: generatorOptimizer.step)
        })
        return StepPlan(objectives: [discriminatorStep, generatorStep]) { terms! }
    }

    /// One step of `plan` on `batch` in one process.
    public func trainStep(_ batch: L2FBatch) throws -> L2FLossTerms {
        try TrainingLoop.take(plan(batch), gradients: LocalGradients())
    }

    func check(_ name: String, _ value: Float) throws { try check(name, Double(value)) }
    func check(_ name: String, _ value: Double) throws {
        guard value.isFinite && abs(value) <= explodingLoss else {
            throw L2FTrainingError.divergence("\(name) loss is \(value) at step \(generatorOptimizer.step + 1) "
                                              + "(limit \(explodingLoss)); no update applied")
        }
    }
}

public enum L2FTrainingError: Error, CustomStringConvertible, Equatable {
    case divergence(String)
    public var description: String {
        switch self { case .divergence(let s): return "training diverged: \(s)" }
    }
}
