import CMPI
import Common
import Tensor

/// An MPI call that failed: the call and MPI's error string.
public struct MPIError: Error, CustomStringConvertible {
    public let description: String
}

/// The processes of an MPI job (`mpirun -np R …`, `srun --mpi=pmix …`) as MPI_COMM_WORLD: this
/// process's rank, the world size, and the collectives data-parallel training uses. Owns MPI:
/// `MPI_Init` in `init`, `MPI_Finalize` in `deinit` (one world per process). Errors are returned
/// by MPI (MPI_ERRORS_RETURN, not its default abort) and thrown with MPI's message.
public final class MPIWorld {
    public let rank: Int
    public let size: Int
    /// The first error of a collective that cannot throw where it is called (the batch-norm
    /// statistics inside forward and backward); `throwPendingError` throws it.
    private var pendingError: MPIError?

    public init() throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        guard initialized == 0 else { throw MPIError(description: "MPI_Init: MPI is already initialised in this process") }
        guard MPI_Init(nil, nil) == MPI_SUCCESS else { throw MPIError(description: "MPI_Init failed") }
        let world = cals_mpi_comm_world()
        var rank: Int32 = 0, size: Int32 = 0
        do {
            try Self.check(MPI_Comm_set_errhandler(world, cals_mpi_errors_return()), "MPI_Comm_set_errhandler")
            try Self.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
            try Self.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        } catch {
            MPI_Finalize()
            throw error
        }
        (self.rank, self.size) = (Int(rank), Int(size))
    }

    deinit { MPI_Finalize() }

    /// Sums `values` over every process, in place (MPI_Allreduce); every process calls it with
    /// the same count at the same point.
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(values, type: cals_mpi_float())
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try allReduce(values, type: cals_mpi_double())
    }

    /// Replaces `values` on every process by those of process `root` (MPI_Bcast).
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int = 0) throws {
        for chunk in Self.chunks(values.count) {
            try Self.check(MPI_Bcast(values.baseAddress! + chunk.lowerBound, Int32(chunk.count), cals_mpi_float(),
                                     Int32(root), cals_mpi_comm_world()), "MPI_Bcast")
        }
    }

    /// Waits until every process has called it (MPI_Barrier).
    public func barrier() throws { try Self.check(MPI_Barrier(cals_mpi_comm_world()), "MPI_Barrier") }

    /// Throws the error of a failed batch-statistics sum, if one failed since the last call.
    public func throwPendingError() throws {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
    }

    private func allReduce<T>(_ values: UnsafeMutableBufferPointer<T>, type: MPI_Datatype) throws {
        for chunk in Self.chunks(values.count) {
            try Self.check(MPI_Allreduce(cals_mpi_in_place(), values.baseAddress! + chunk.lowerBound, Int32(chunk.count), type,
                                         cals_mpi_sum(), cals_mpi_comm_world()), "MPI_Allreduce")
        }
    }

    /// 0..<count in pieces whose length fits MPI's Int32 counts.
    static func chunks(_ count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: Int(Int32.max)).map { $0..<min($0 + Int(Int32.max), count) }
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(CALS_MPI_MAX_ERROR_STRING) + 1), length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(description: "\(call): \(String(cBuffer: text))")
    }
}

/// Sync batch norm: the per-channel sums of every rank's share added up, so each rank normalises
/// with the statistics of the whole global batch (as one process with the whole batch does).
extension MPIWorld: BatchStatisticsSum {
    public func sumAcrossProcesses(_ values: UnsafeMutableBufferPointer<Double>) {
        do { try sum(values) } catch {
            if pendingError == nil { pendingError = MPIError(description: "\(error)") }
        }
    }
}
