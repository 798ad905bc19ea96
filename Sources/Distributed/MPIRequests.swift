import CMPI

/// Sums in flight: non-blocking all-reduces (MPI_Iallreduce) over the processes of `world`,
/// started while the caller goes on computing, progressed by `test()` and finished by `wait()`.
/// Owns its MPI requests; a buffer handed to `startSum` must stay valid and untouched until
/// `test()` returned true or `wait()` returned. Every process starts the same sums (same counts)
/// in the same order, as with the blocking `MPIWorld.sum`.
public final class MPIRequests {
    /// Holds MPI open (MPI_Finalize runs in the world's deinit) while sums are in flight.
    public let world: MPIWorld
    private var requests: [MPI_Request?] = []

    public init(world: MPIWorld) { self.world = world }

    /// Whether sums were started and are not known to be finished.
    public var isEmpty: Bool { requests.isEmpty }

    /// Starts summing `values` over every process, in place (MPI_Iallreduce).
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        for chunk in MPIWorld.chunks(values.count) {
            var request: MPI_Request?
            try MPIWorld.check(MPI_Iallreduce(cals_mpi_in_place(), values.baseAddress! + chunk.lowerBound, Int32(chunk.count),
                                              cals_mpi_float(), cals_mpi_sum(), cals_mpi_comm_world(), &request), "MPI_Iallreduce")
            requests.append(request)
        }
    }

    /// Lets MPI move the sums on (Open MPI progresses non-blocking collectives only inside MPI
    /// calls) and returns whether all of them are finished (MPI_Testall); once they are, their
    /// buffers hold the sums and the requests are released.
    public func test() throws -> Bool {
        guard !requests.isEmpty else { return true }
        var done: Int32 = 0
        try MPIWorld.check(MPI_Testall(Int32(requests.count), &requests, &done, nil), "MPI_Testall")
        if done != 0 { requests.removeAll(keepingCapacity: true) }
        return done != 0
    }

    /// Waits until every sum is finished (MPI_Waitall); their buffers then hold the sums.
    public func wait() throws {
        guard !requests.isEmpty else { return }
        defer { requests.removeAll(keepingCapacity: true) }
        try MPIWorld.check(MPI_Waitall(Int32(requests.count), &requests, nil), "MPI_Waitall")
    }

    /// A request cannot be abandoned while MPI still writes its buffer: finish what is in flight
    /// (after a thrown error, on the way out).
    deinit {
        if !requests.isEmpty { MPI_Waitall(Int32(requests.count), &requests, nil) }
    }
}
