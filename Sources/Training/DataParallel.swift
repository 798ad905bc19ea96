import Dataset
import Distributed
import NN
import Tensor

/// Data-parallel gradients over MPI: every rank's gradients are summed over the ranks and divided
/// by the world size, in buckets of about `bucketBytes` taken in reverse parameter order (the
/// order backward finishes them; the same on every rank), so a few messages carry many small
/// tensors. With `overlapsBackward` a bucket's sum (MPI_Iallreduce) starts during backward as
/// soon as all its gradients are final and MPI moves it on while backward computes the earlier
/// layers; the update waits for all of them. Without, every bucket starts after backward.
/// Buckets start in their order on every rank (a bucket finished early waits for the ones
/// before it), as MPI requires of collectives.
public final class MPIGradients: GradientHook, GradientReadyHook {
    public let world: MPIWorld
    public let bucketBytes: Int
    public let overlapsBackward: Bool
    /// What the last `backward` did: buckets, how many started during backward, seconds spent on
    /// the sums during backward (copies, starts, progress) and after it (the rest: waiting).
    public private(set) var report = Report()
    private let sums: MPIRequests
    /// The buckets of each optimiser's parameters (L2F has two optimisers).
    private var layouts: [[ObjectIdentifier]: Layout] = [:]
    /// During `backward`: its layout, the next bucket to start, the first error of the hook.
    private var layout = Layout(buckets: [], bucketOf: [:])
    private var nextBucket = 0
    private var hookError: Error?

    public struct Report {
        public var buckets = 0, startedDuringBackward = 0
        public var secondsDuringBackward = 0.0, secondsAfterBackward = 0.0
    }

    /// Parameters whose gradients travel together in one buffer, which MPI reads and writes
    /// while the sum is in flight (so it is not an engine `Storage`, whose floats do not escape).
    final class Bucket {
        let parameters: [Tensor]
        let floats: UnsafeMutableBufferPointer<Float>
        /// Parameters whose gradient is not final yet in this backward pass.
        var waiting = 0

        init(_ parameters: [Tensor]) {
            self.parameters = parameters
            floats = .allocate(capacity: parameters.reduce(0) { $0 + $1.count })
        }

        deinit { floats.deallocate() }
    }

    struct Layout {
        let buckets: [Bucket]
        let bucketOf: [ObjectIdentifier: Int]
    }

    public init(world: MPIWorld, bucketBytes: Int = MPIGradients.defaultBucketBytes, overlapsBackward: Bool = true) {
        (self.world, self.bucketBytes, self.overlapsBackward) = (world, bucketBytes, overlapsBackward)
        sums = MPIRequests(world: world)
    }

    /// Sums still in flight (a step that threw) finish before the buckets MPI writes are freed.
    deinit { try? sums.wait() }

    public static let defaultBucketBytes = 4 << 20

    /// Backward with the sums started as buckets complete, then the mean over the ranks in every
    /// `.grad`. A parameter without a gradient (the loss does not reach it) sends zeros and stays
    /// without one: the graph, and so which ones they are, is the same on every rank.
    public func backward(_ loss: Tensor, parameters: [(String, Tensor)]) throws {
        try world.throwPendingError()   // a failed sync-batch-norm sum of this step's forward
        layout = self.layout(parameters.map { $0.1 })
        for bucket in layout.buckets { bucket.waiting = bucket.parameters.count }
        (nextBucket, hookError) = (0, nil)
        report = Report(buckets: layout.buckets.count)
        let clock = ContinuousClock()
        loss.backward(reportingTo: overlapsBackward ? self : nil)
        if let hookError { throw hookError }
        try world.throwPendingError()   // … or of its backward
        report.startedDuringBackward = nextBucket
        let afterBackward = clock.now
        while nextBucket < layout.buckets.count { try startNextBucket() }
        try sums.wait()
        let size = Float(world.size)
        for bucket in layout.buckets {
            var offset = 0
            for p in bucket.parameters {
                if let grad = p.grad {
                    let sum = bucket.floats.baseAddress! + offset
                    grad.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] = sum[i] / size } }
                }
                offset += p.count
            }
        }
        report.secondsAfterBackward = Self.seconds(clock.now - afterBackward)
    }

    /// Sums one flag over the ranks (a blocking all-reduce of one float per objective and step).
    public func failedOnAnyRank(_ failedHere: Bool) throws -> Bool {
        var flag: [Float] = [failedHere ? 1 : 0]
        try flag.withUnsafeMutableBufferPointer { try world.sum($0) }
        return flag[0] > 0
    }

    /// During backward: starts the buckets that are complete (in order), then lets MPI progress.
    public func gradientIsReady(_ leaf: Tensor) {
        guard hookError == nil, let index = layout.bucketOf[ObjectIdentifier(leaf)] else { return }
        let clock = ContinuousClock(), start = clock.now
        layout.buckets[index].waiting -= 1
        do {
            while nextBucket < layout.buckets.count && layout.buckets[nextBucket].waiting == 0 { try startNextBucket() }
            _ = try sums.test()
        } catch {
            hookError = error
        }
        report.secondsDuringBackward += Self.seconds(clock.now - start)
    }

    /// Copies the next bucket's gradients (zeros for none) into its buffer and starts its sum.
    private func startNextBucket() throws {
        let bucket = layout.buckets[nextBucket]
        var offset = 0
        for p in bucket.parameters {
            let destination = bucket.floats.baseAddress! + offset
            if let grad = p.grad {
                grad.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: p.count) }
            } else {
                destination.update(repeating: 0, count: p.count)
            }
            offset += p.count
        }
        try sums.startSum(bucket.floats)
        nextBucket += 1
    }

    /// `parameters` from last to first, cut into buckets of up to `bucketBytes` (a parameter larger
    /// than a bucket goes alone); made once per parameter list and kept with its buffers.
    private func layout(_ parameters: [Tensor]) -> Layout {
        let key = parameters.map(ObjectIdentifier.init)
        if let known = layouts[key] { return known }
        let capacity = max(1, bucketBytes / MemoryLayout<Float>.size)
        var buckets: [Bucket] = [], current: [Tensor] = [], floats = 0
        for p in parameters.reversed() {
            if !current.isEmpty && floats + p.count > capacity {
                buckets.append(Bucket(current))
                (current, floats) = ([], 0)
            }
            current.append(p)
            floats += p.count
        }
        if !current.isEmpty { buckets.append(Bucket(current)) }
        var bucketOf: [ObjectIdentifier: Int] = [:]
        for (index, bucket) in buckets.enumerated() { for p in bucket.parameters { bucketOf[ObjectIdentifier(p)] = index } }
        let made = Layout(buckets: buckets, bucketOf: bucketOf)
        layouts[key] = made
        return made
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

extension TrainingRank {
    /// Rank `world.rank` of `world.size`: its share of each global batch, gradients averaged over
    /// the ranks, batch-norm statistics summed over them.
    public static func distributed(_ world: MPIWorld, gradients: MPIGradients) throws -> TrainingRank {
        TrainingRank(sampler: try BatchSampler(rank: world.rank, worldSize: world.size), gradients: gradients, world: world)
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
