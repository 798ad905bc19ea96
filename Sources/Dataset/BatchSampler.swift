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

    /// A single process: rank 0 of 1, whose share is the whole batch.
    public static let single = BatchSampler(checkedRank: 0, worldSize: 1)

    private init(checkedRank rank: Int, worldSize: Int) { (self.rank, self.worldSize) = (rank, worldSize) }

    /// The rank that writes checkpoints, logs and plots.
    public var isPrimary: Bool { rank == 0 }

    /// The positions of this rank's share of a global batch of `size`.
    public func share(ofBatch size: Int) -> [Int] { Array(stride(from: rank, to: size, by: worldSize)) }

    /// Calls `draw` for each of the `size` positions of a global batch in order (every rank makes
    /// every draw, so the random states of the ranks stay equal) and returns the draws of this
    /// rank's share, in order: what the rank then reads.
    public func share<Draw>(ofBatch size: Int, drawing draw: () throws -> Draw) rethrows -> [Draw] {
        var share: [Draw] = []
        for position in 0..<size {
            let drawn = try draw()
            if position % worldSize == rank { share.append(drawn) }
        }
        return share
    }

    /// Throws unless every rank gets an equal, non-empty share of a global batch of `size` (`what`
    /// names the batch's items): the mean of the ranks' mean gradients is the batch's mean
    /// gradient only when their shares are equally large.
    public func requireShare(ofBatch size: Int, of what: String) throws {
        guard size >= worldSize, size % worldSize == 0 else {
            throw InputError("rank \(rank) of \(worldSize)", "a batch of \(size) \(what) does not split into \(worldSize) equal shares")
        }
    }
}
