import Distributed
import XCTest

/// The MPI world of a process started without mpirun (Open MPI's singleton: rank 0 of 1). MPI can
/// be initialised once per process, so one test holds every check; collectives over two ranks are
/// tested through the trainers (`TrainingTests.DistributedTrainingTests`, `mpirun -np 2`).
final class MPIWorldTests: XCTestCase {
    func testSingletonWorldSumsBroadcastsAndRefusesASecondInit() throws {
        let world = try MPIWorld()
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)

        // One process: a sum over the world and a broadcast from rank 0 leave the values as they are.
        var floats: [Float] = [1.5, -2, 0, 3e-8]
        try floats.withUnsafeMutableBufferPointer { try world.sum($0) }
        XCTAssertEqual(floats, [1.5, -2, 0, 3e-8])
        var doubles: [Double] = [0.25, 7]
        try doubles.withUnsafeMutableBufferPointer { try world.sum($0) }
        XCTAssertEqual(doubles, [0.25, 7])
        try floats.withUnsafeMutableBufferPointer { try world.broadcast($0, from: 0) }
        XCTAssertEqual(floats, [1.5, -2, 0, 3e-8])
        var empty: [Float] = []
        try empty.withUnsafeMutableBufferPointer { try world.sum($0) }
        try world.barrier()

        // A broadcast from a rank that does not exist is MPI's error, thrown with MPI's message.
        XCTAssertThrowsError(try floats.withUnsafeMutableBufferPointer { try world.broadcast($0, from: 3) }) { error in
            XCTAssertTrue("\(error)".hasPrefix("MPI_Bcast: "), "\(error)")
        }
        try world.throwPendingError()

        // MPI is initialised once per process: a second world is refused, not a crash.
        XCTAssertThrowsError(try MPIWorld()) { error in
            XCTAssertEqual("\(error)", "MPI_Init: MPI is already initialised in this process")
        }
    }
}
