import Foundation

/// Values made on a thread of their own and taken in order by one consumer, so that the parts
/// of a dub run at the same time (decoding beside the generator beside the encoder). At most
/// `depth` values wait, so memory stays bounded. `produce` runs on the new thread and hands each
/// value to `put`; its error, if any, is rethrown by `next()` after the values put before it.
/// Dropping the handoff makes the next `put` throw `Handoff.Stopped`, which ends the thread.
final class Handoff<Value>: @unchecked Sendable {
    /// Thrown by `put` once the consumer has gone.
    struct Stopped: Error {}

    /// What the thread and the consumer share (the thread does not keep the handoff itself
    /// alive, so dropping it stops the thread).
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var ready: [Value] = []
        var end: Error?? = nil   // .some(nil): finished; .some(error): failed
        var stopped = false

        /// Runs `body` holding the lock, then wakes every waiting thread.
        func changing(_ body: () -> Void) {
            condition.lock()
            body()
            condition.broadcast()
            condition.unlock()
        }
    }

    private let queue = Queue()

    init(name: String, depth: Int, produce: @escaping (_ put: (Value) throws -> Void) throws -> Void) {
        precondition(depth >= 1)
        let queue = self.queue
        let thread = Thread {
            func put(_ value: Value) throws {
                queue.condition.lock()
                defer { queue.condition.unlock() }
                while queue.ready.count >= depth && !queue.stopped { queue.condition.wait() }
                if queue.stopped { throw Stopped() }
                queue.ready.append(value)
                queue.condition.broadcast()
            }
            let end: Error?
            do { try produce(put); end = nil } catch { end = error }
            queue.changing { queue.end = .some(end) }
        }
        thread.name = name
        thread.start()
    }

    deinit { queue.changing { queue.stopped = true } }

    /// The next value in the order put, nil after the last one; rethrows the producer's error.
    func next() throws -> Value? {
        queue.condition.lock()
        defer { queue.condition.unlock() }
        while queue.ready.isEmpty && queue.end == nil { queue.condition.wait() }
        guard queue.ready.isEmpty else {
            queue.condition.broadcast()
            return queue.ready.removeFirst()
        }
        if case .some(.some(let error)) = queue.end { throw error }
        return nil
    }
}
