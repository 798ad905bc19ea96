import Dataset
import Distributed
import NN
import Tensor

/// Data-parallel gradients over MPI: after backward, every rank's gradients are summed with
/// MPI_Allreduce and divided by the world size, in buckets of up to `bucketBytes` taken in the
/// parameters' order (the same on every rank), so a few large messages carry many small tensors.
/// The all-reduce runs after the whole backward pass, not overlapped with it.
public final class MPIGradients: GradientHook {
    public let world: MPIWorld
    public let bucketBytes: Int
    /// The bucket's floats, reused from step to step.
    private var bucket: [Float] = []

    public init(world: MPIWorld, bucketBytes: Int = 25 << 20) {
        (self.world, self.bucketBytes) = (world, bucketBytes)
    }

    /// Averages the gradients of `parameters` over the ranks. Parameters without a gradient
    /// (the loss does not reach them) are left out: the graph, and so which ones they are, is
    /// the same on every rank.
    public func reduce(_ parameters: [(String, Tensor)]) throws {
        try world.throwPendingError()   // a failed sync-batch-norm sum of this step's forward or backward
        let gradients = parameters.compactMap { $0.1.grad }
        let capacity = max(1, bucketBytes / MemoryLayout<Float>.size)
        var start = 0
        while start < gradients.count {
            // The next gradients in order while they fit (a gradient larger than a bucket goes alone).
            var end = start + 1, floats = gradients[start].count
            while end < gradients.count && floats + gradients[end].count <= capacity {
                floats += gradients[end].count
                end += 1
            }
            try average(gradients[start..<end], floats: floats)
            start = end
        }
    }

    /// Copies `gradients` into the bucket, sums it over the ranks and writes the mean back: the
    /// one place that reads and writes gradient memory.
    private func average(_ gradients: ArraySlice<Storage>, floats: Int) throws {
        if bucket.count < floats { bucket = [Float](repeating: 0, count: floats) }
        let size = Float(world.size)
        try bucket.withUnsafeMutableBufferPointer { b in
            var offset = 0
            for g in gradients {
                g.withUnsafeBufferPointer { (b.baseAddress! + offset).update(from: $0.baseAddress!, count: g.count) }
                offset += g.count
            }
            try world.sum(UnsafeMutableBufferPointer(rebasing: b[0..<floats]))
            offset = 0
            for g in gradients {
                g.withUnsafeMutableBufferPointer { gb in for i in 0..<g.count { gb[i] = b[offset + i] / size } }
                offset += g.count
            }
        }
    }
}

extension TrainingRank {
    /// Rank `world.rank` of `world.size`: its share of each global batch, gradients averaged over
    /// the ranks, batch-norm statistics summed over them.
    public static func distributed(_ world: MPIWorld) throws -> TrainingRank {
        TrainingRank(sampler: try BatchSampler(rank: world.rank, worldSize: world.size),
                     gradients: MPIGradients(world: world), world: world)
    }

    /// `record` with each value replaced by its mean over the ranks (what one process with the
    /// whole batch logs, since every rank's share is equally large); nil values stay nil.
    func mean<Record: LoggedMetrics>(_ record: Record) throws -> Record {
        guard let world else { return record }
        let values = record.values
        var sums = values.map { $0 ?? 0 }
        try sums.withUnsafeMutableBufferPointer { try world.sum($0) }
        let means = zip(values, sums).map { value, sum in value.map { _ in sum / Double(world.size) } }
        return Record(step: record.step, values: means) ?? record
    }

    /// Gives every rank rank 0's copy of `state` (weights, buffers, optimiser moments), so all
    /// start the run from the same tensors.
    func broadcastFromPrimary(_ state: [(String, Tensor)]) throws {
        guard let world else { return }
        for (_, t) in state { try t.withUnsafeMutableBufferPointer { try world.broadcast($0) } }
    }
}
