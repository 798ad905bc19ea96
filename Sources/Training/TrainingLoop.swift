import Common
import Dataset
import Distributed
import NN
import Tensor

/// How the gradients of one optimiser's parameters are made: backward, and what happens to them
/// before clipping and the update.
public protocol GradientHook {
    /// Runs `loss.backward()`. `parameters` are those the optimiser steps (`Adam.parameters`:
    /// names and tensors, in the same order on every rank); backward leaves in each `.grad` this
    /// rank's gradient of the mean loss over its share of the batch (nil where the loss does not
    /// reach the parameter). On return `.grad` must hold the gradient the update applies: one
    /// process leaves it as it is; data-parallel ranks replace it with the mean over the ranks (an
    /// all-reduce sum divided by the world size), which may start while backward runs.
    func backward(_ loss: Tensor, parameters: [(String, Tensor)]) throws

    /// Whether the forward pass failed (a diverged loss) on any rank, given whether it did on
    /// this one: the ranks agree before backward, so all of them stop together rather than some
    /// waiting in a collective the others never reach.
    func failedOnAnyRank(_ failedHere: Bool) throws -> Bool
}

/// What a rank throws when the forward pass failed on another rank (which throws its own error).
public struct FailedOnAnotherRank: Error, CustomStringConvertible {
    public var description: String { "the step failed on another rank (its error is in that rank's output); this rank stops too" }
}

/// One process: the gradients are its own.
public struct LocalGradients: GradientHook {
    public init() {}
    public func backward(_ loss: Tensor, parameters: [(String, Tensor)]) throws { loss.backward() }
    public func failedOnAnyRank(_ failedHere: Bool) throws -> Bool { failedHere }
}

/// This process's place in a (possibly data-parallel) run: which share of each global batch it
/// reads, what happens to its gradients between backward and update, and whether it writes the
/// run's files (checkpoints, logs, plots, grids, data.tsv), which only the primary rank does.
/// In an MPI run (`world`), batch-norm statistics and logged values are also summed over the ranks.
public struct TrainingRank {
    public let sampler: BatchSampler
    public let gradients: any GradientHook
    public let world: MPIWorld?

    public init(sampler: BatchSampler, gradients: any GradientHook, world: MPIWorld? = nil) {
        (self.sampler, self.gradients, self.world) = (sampler, gradients, world)
    }

    /// A single process: the whole batch, its own gradients, writes everything.
    public static var single: TrainingRank { TrainingRank(sampler: .single, gradients: LocalGradients()) }

    public var isPrimary: Bool { sampler.isPrimary }
}

/// One loss that one optimiser minimises: a part of a training step. The sync and A2L steps have
/// one; the L2F step has two (discriminator, then generator).
public struct Objective {
    public let optimizer: Adam
    /// Parameters held fixed (`requiresGrad` false) during this objective's forward and backward.
    public var frozen: [(String, Tensor)] = []
    /// The forward pass: the loss on the step's batch (a scalar with gradients). Throwing stops
    /// the step before this objective's update.
    public let forward: () throws -> Tensor
    /// After the gradient hook, before the update: learning-rate schedules, gradient clipping.
    public var beforeUpdate: () -> Void = {}
    /// After the update: moving averages.
    public var afterUpdate: () -> Void = {}

    public init(optimizer: Adam, frozen: [(String, Tensor)] = [], forward: @escaping () throws -> Tensor,
                beforeUpdate: @escaping () -> Void = {}, afterUpdate: @escaping () -> Void = {}) {
        (self.optimizer, self.frozen, self.forward) = (optimizer, frozen, forward)
        (self.beforeUpdate, self.afterUpdate) = (beforeUpdate, afterUpdate)
    }
}

/// A training step on one batch as a trainer defines it: its objectives in order, and the record
/// of the step, read after every update.
public struct StepPlan<Record> {
    public var objectives: [Objective]
    public var record: () -> Record

    public init(objectives: [Objective], record: @escaping () -> Record) {
        (self.objectives, self.record) = (objectives, record)
    }
}

/// What a trainer gives the training loop: its batches, its step, and what it does after a step.
public protocol TrainingStep: Trainer {
    associatedtype Batch
    associatedtype Record: LoggedMetrics
    var rank: TrainingRank { get }
    /// The tensors every rank must start from: weights, buffers, optimiser moments.
    var trainingState: [(String, Tensor)] { get }
    /// The step at which the run ends (the config's `steps`).
    var lastStep: Int { get }
    /// This rank's share of the next global batch (`rank.sampler`).
    func nextBatch() throws -> Batch
    func plan(_ batch: Batch) -> StepPlan<Record>
    /// After the step's updates (`step` is the step just taken): evaluation, the log, grids; the
    /// returned note goes to the progress line.
    func finish(_ record: Record, progress: Common.Progress?) throws -> String
}

/// The one training loop (as llm.c's `main`): next batch → forward → backward (the gradient hook) →
/// update, for each objective of the step, then log and checkpoint.
public enum TrainingLoop {
    /// Runs `plan`'s objectives in order and returns its record.
    public static func take<Record>(_ plan: StepPlan<Record>, gradients: any GradientHook) throws -> Record {
        for objective in plan.objectives {
            objective.optimizer.zeroGrad()
            for (_, p) in objective.frozen { p.requiresGrad = false }
            defer { for (_, p) in objective.frozen { p.requiresGrad = true } }
            let loss: Tensor
            do { loss = try objective.forward() } catch {
                _ = try? gradients.failedOnAnyRank(true)   // the ranks learn of it; this rank throws its own error
                throw error
            }
            if try gradients.failedOnAnyRank(false) { throw FailedOnAnotherRank() }
            try gradients.backward(loss, parameters: objective.optimizer.parameters)
            objective.beforeUpdate()
            objective.optimizer.update()
            objective.afterUpdate()
        }
        return plan.record()
    }

    /// One step of `trainer` on its next batch; its record averaged over the ranks.
    public static func step<T: TrainingStep>(_ trainer: T) throws -> T.Record {
        try trainer.rank.mean(take(trainer.plan(try trainer.nextBatch()), gradients: trainer.rank.gradients))
    }

    /// Trains until the trainer's last step, checkpointing every `checkpointEvery` steps, at the
    /// last step and at each kept step (primary rank only). Every rank starts from rank 0's state.
    public static func run<T: TrainingStep>(_ trainer: T, checkpointEvery: Int, progress: Common.Progress?) throws {
        try trainer.rank.broadcastFromPrimary(trainer.trainingState)
        while trainer.step < trainer.lastStep {
            let record = try step(trainer)
            let note = try trainer.finish(record, progress: progress)
            if trainer.rank.isPrimary { try trainer.checkpointIfDue(every: checkpointEvery, last: trainer.lastStep) }
            progress?.advance(note: note)
        }
    }
}
