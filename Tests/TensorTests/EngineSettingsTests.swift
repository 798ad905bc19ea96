import Foundation
import XCTest
import Tensor

/// The engine's settings belong to the thread (or task) that binds them: `withoutGrad` on one
/// thread leaves another thread's ops recording, and the worker threads of a parallel loop see
/// the caller's settings.
final class EngineSettingsTests: XCTestCase {
    func testWithoutGradOnOneThreadLeavesAnotherRecording() {
        let insideWithoutGrad = DispatchSemaphore(value: 0), otherThreadDone = DispatchSemaphore(value: 0)
        let recorded = Box(false)
        let other = Thread {
            insideWithoutGrad.wait()   // this thread's op runs while the main thread is inside withoutGrad
            let p = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
            recorded.value = (p * p).requiresGrad
            otherThreadDone.signal()
        }
        other.start()
        let inside: Bool = withoutGrad {
            insideWithoutGrad.signal()
            otherThreadDone.wait()
            let p = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
            return (p * p).requiresGrad
        }
        XCTAssertFalse(inside, "an op inside withoutGrad recorded a gradient")
        XCTAssertTrue(recorded.value, "withoutGrad on the main thread stopped another thread's op recording")
        XCTAssertTrue(Tensor.isGradEnabled)
    }

    func testParallelWorkersSeeTheCallersSettings() {
        let seen = Box<[Int]>([])
        let lock = NSLock()
        Engine.withSettings(EngineSettings(threads: 3)) {
            withoutGrad {
                parallelItems(3) { _ in
                    let s = Engine.settings
                    lock.lock(); seen.value.append(s.isGradEnabled ? -s.threads : s.threads); lock.unlock()
                }
            }
        }
        XCTAssertEqual(seen.value, [3, 3, 3])
        XCTAssertEqual(Engine.settings, EngineSettings())
    }
}

/// A mutable value shared with a closure on another thread (the test orders the accesses).
private final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
