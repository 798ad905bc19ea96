import ArgumentParser
import Dataset
import Distributed
import Models
import NN
import Training

/// `mpirun -np R cals bench data-parallel`: the sync-encoder training step of `cals train sync
/// --distributed` on random inputs, the global batch split over the R ranks: milliseconds per
/// phase on rank 0 (forward and backward with sync batch norm, the gradient all-reduce, the
/// update; "wait" is the barrier before the all-reduce: the time the ranks wait for each other)
/// and samples (clips) per second of the whole job. Run alone it is one rank.
struct DataParallelStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data-parallel",
                                                    abstract: "Samples/s and all-reduce time of a data-parallel sync-encoder step.")
    @OptionGroup var options: BenchCommand.Options   // --batch: the global batch of clips
    @OptionGroup var shape: SyncStepBench.Options

    func run() throws {
        let world = try MPIWorld()
        let sampler = try BatchSampler(rank: world.rank, worldSize: world.size)
        try sampler.requireShare(ofBatch: options.batch, of: "clips")
        let step = SyncStepBench(clips: sampler.share(ofBatch: options.batch).count, shape)
        step.ctx.batchStatistics = world
        let gradients = MPIGradients(world: world)
        var failure: Error?
        let extra = ["ranks": Double(world.size), "samples_per_step": Double(options.batch),
                     "allreduce_mb_per_step": Double(step.model.parameterCount * MemoryLayout<Float>.size) / 1e6]
        BenchCommand.report(options, extra: extra, printing: world.rank == 0) {
            BenchCommand.timePhases(step.phases(between: [
                // The ranks first wait for each other, so "allreduce" times the transfer alone.
                ("wait", { do { try world.barrier() } catch { failure = failure ?? error } }),
                ("allreduce", { do { try gradients.reduce(step.adam.parameters) } catch { failure = failure ?? error } }),
            ]))
        }
        if let failure { throw failure }
    }
}
