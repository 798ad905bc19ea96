import Common

/// One process's share of each global batch when `worldSize` processes train together (ranks
/// 0 ..< worldSize; a single process is rank 0 of 1): positions rank, rank + worldSize, … of a
/// batch, so the shares of the ranks are disjoint and together are the whole batch. Every rank
/// draws the whole global batch from the same random state, which keeps their states equal, and
/// reads only the windows of its share. Only the primary rank (0) writes checkpoints and logs.
public struct BatchSampler: Equatable, Sendable {
    public let rank: Int
    public let worldSize: Int

    public init(rank: Int = 0, worldSize: Int = 1) throws {
        guard worldSize >= 1, rank >= 0, rank < worldSize else {
            throw InputError("rank \(rank) of \(worldSize)", "needs a world size of at least 1 and 0 ≤ rank < world size")
        }
        (self.rank, self.worldSize) = (rank, worldSize)
    }

    /// The rank that writes checkpoints, logs and plots.
    public var isPrimary: Bool { rank == 0 }

    /// The positions of this rank's share of a global batch of `size`.
    public func share(ofBatch size: Int) -> [Int] { Array(stride(from: rank, to: size, by: worldSize)) }
}
