import ArgumentParser
import Dataset
import Distributed
import Models
import NN
import Training

/// `mpirun -np R cals bench data-parallel`: the sync-encoder training step of `cals train sync
/// --distributed` on random inputs, the global batch split over the R ranks: milliseconds per
/// phase on rank 0 and samples (clips) per second of the whole job. "wait" is a barrier between
/// forward and backward (the time the ranks wait for each other, kept out of the all-reduce
/// times); "backward" is backward alone, "allreduce_exposed" the all-reduce time left after it
/// (starting the buckets not started yet, waiting for all, writing the means back), and
/// "allreduce_in_backward" the part of backward spent on the all-reduce (copying, starting,
/// progressing buckets). Without overlap every bucket starts after backward. Run alone it is one rank.
struct DataParallelStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data-parallel",
                                                    abstract: "Samples/s and all-reduce time of a data-parallel sync-encoder step.")
    @OptionGroup var options: BenchCommand.Options   // --batch: the global batch of clips
    @OptionGroup var shape: SyncStepBench.Options
    @Option(help: "MiB of gradients per all-reduce bucket.") var bucketMb = Double(MPIGradients.defaultBucketBytes) / 1048576
    @Flag(inversion: .prefixedNo, help: "Start each bucket's all-reduce during backward (--no-overlap: all after backward).")
    var overlap = true

    func validate() throws {
        if !(bucketMb > 0 && bucketMb < 1e6) { throw ValidationError("--bucket-mb must be positive (and below 1e6)") }
    }

    func run() throws {
        let world = try MPIWorld()
        let sampler = try BatchSampler(rank: world.rank, worldSize: world.size)
        try sampler.requireShare(ofBatch: options.batch, of: "clips")
        let step = SyncStepBench(clips: sampler.share(ofBatch: options.batch).count, shape)
        step.ctx.batchStatistics = world
        let gradients = MPIGradients(world: world, bucketBytes: Int(bucketMb * 1048576), overlapsBackward: overlap)
        var failure: Error?
        let extra = ["ranks": Double(world.size), "samples_per_step": Double(options.batch),
                     "allreduce_mb_per_step": Double(step.model.parameterCount * MemoryLayout<Float>.size) / 1e6]
        BenchCommand.report(options, extra: extra, printing: world.rank == 0) {
            var ms = BenchCommand.timePhases(step.phases(
                beforeBackward: [("wait", { do { try world.barrier() } catch { failure = failure ?? error } })],
                backward: { loss in
                    do { try gradients.backward(loss, parameters: step.adam.parameters) } catch { failure = failure ?? error }
                }))
            let report = gradients.report
            ms["backward_ms", default: 0] -= report.secondsAfterBackward * 1000
            ms["allreduce_exposed_ms"] = report.secondsAfterBackward * 1000
            ms["allreduce_in_backward_ms"] = report.secondsDuringBackward * 1000
            ms["buckets"] = Double(report.buckets)
            ms["buckets_started_in_backward"] = Double(report.startedDuringBackward)
            return ms
        }
        if let failure { throw failure }
    }
}
