import Common
import Foundation
import XCTest

/// The handoff between a producer thread and its consumer (a dub's threads, a trainer's
/// prefetch): values in order, at most `depth` waiting, the producer's error once after the
/// values put before it, and a producer that stops, releasing what it holds, when the consumer
/// drops the handoff.
final class HandoffTests: XCTestCase {
    struct Failure: Error, Equatable {}

    /// A count shared with a producer thread.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.lock(); value += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }

    func testValuesArriveInOrderThenNil() throws {
        let handoff = Handoff<Int>(name: "test", depth: 3) { put in for i in 0..<100 { try put(i) } }
        var received: [Int] = []
        while let value = try handoff.next() { received.append(value) }
        XCTAssertEqual(received, Array(0..<100))
        XCTAssertNil(try handoff.next())
    }

    func testProducerWaitsWhenDepthValuesWait() throws {
        let made = Counter()
        let handoff = Handoff<Int>(name: "test", depth: 4) { put in
            for i in 0..<50 { made.increment(); try put(i) }
        }
        // 4 waiting, and the fifth made and blocked in `put` (a producer that did not wait would
        // have made all 50 in the extra 0.2 s).
        waitUntil { made.count >= 5 }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(made.count, 5)
        XCTAssertEqual(try handoff.next(), 0)
        waitUntil { made.count >= 6 }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(made.count, 6)
    }

    /// Polls `condition` for up to 10 s (the machine may be busy).
    func waitUntil(_ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    func testErrorComesAfterTheValuesPutBeforeIt() throws {
        let handoff = Handoff<Int>(name: "test", depth: 8) { put in
            try put(1)
            try put(2)
            throw Failure()
        }
        XCTAssertEqual(try handoff.next(), 1)
        XCTAssertEqual(try handoff.next(), 2)
        XCTAssertThrowsError(try handoff.next()) { XCTAssertEqual($0 as? Failure, Failure()) }
        XCTAssertNil(try handoff.next())
    }

    func testDroppingTheHandoffStopsTheProducer() throws {
        let made = Counter(), stopped = expectation(description: "the producer's put throws Stopped")
        var handoff: Handoff<Int>? = Handoff<Int>(name: "test", depth: 2) { put in
            do { for i in 0..<1000 { made.increment(); try put(i) } } catch is Handoff<Int>.Stopped { stopped.fulfill() }
        }
        XCTAssertEqual(try handoff?.next(), 0)
        handoff = nil
        wait(for: [stopped], timeout: 10)
        XCTAssertLessThan(made.count, 10)
    }

    /// Something a producer holds (a shard reader in a prefetch).
    final class Resource: Sendable {}

    func testDroppedWhileWaitingForRoomTheProducerReleasesWhatItHolds() throws {
        weak var held: Resource?
        do {
            let resource = Resource()
            held = resource
            let endless = Handoff<Int>(name: "test", depth: 2) { put in while true { try put(ObjectIdentifier(resource).hashValue) } }
            XCTAssertNotNil(try endless.next())
        }
        waitUntil { held == nil }
        XCTAssertNil(held, "the producer's thread should end and release what it captured")
    }
}
