import Foundation

/// Values made on a thread of their own and taken in order by one consumer: a bounded producer
/// beside its consumer (a dub's decoding beside its generator beside its encoder, a trainer's
/// window reads ahead of its steps). At most `depth` values wait, so memory stays bounded.
/// `produce` runs on the new thread and hands each value to `put`; its error, if any, is thrown
/// once by `next()` after the values put before it, and `next()` returns nil after that.
/// Dropping the handoff makes the next `put` throw `Handoff.Stopped`, which ends the thread
/// (and releases what `produce` holds).
public final class Handoff<Value: Sendable>: Sendable {
    /// Thrown by `put` once the consumer has gone.
    public struct Stopped: Error {}

    /// What the thread and the consumer share (the thread does not keep the handoff itself
    /// alive, so dropping it stops the thread).
    /// @unchecked Sendable: every stored property is read and written only while holding `condition`.
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var ready: [Value] = []
        var end: Error?? = nil   // .some(nil): finished; .some(error): failed
        var stopped = false

        /// Runs `body` holding the lock, then wakes every waiting thread.
        func changing<T>(_ body: () throws -> T) rethrows -> T {
            condition.lock()
            defer { condition.broadcast(); condition.unlock() }
            return try body()
        }
    }

    /// The producer on its way to its thread.
    /// @unchecked Sendable: the caller hands the closure over and only the new thread ever calls it.
    private struct Producer: @unchecked Sendable {
        let produce: (_ put: (Value) throws -> Void) throws -> Void
    }

    private let queue = Queue()

    public init(name: String, depth: Int, produce: @escaping (_ put: (Value) throws -> Void) throws -> Void) {
        precondition(depth >= 1)
        let queue = self.queue, producer = Producer(produce: produce)
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
            do { try producer.produce(put); end = nil } catch { end = error }
            queue.changing { queue.end = .some(end) }
        }
        thread.name = name
        thread.start()
    }

    deinit { queue.changing { queue.stopped = true } }

    /// The next value in the order put, nil after the last one; throws the producer's error once.
    public func next() throws -> Value? {
        try queue.changing {
            while queue.ready.isEmpty && queue.end == nil { queue.condition.wait() }
            if !queue.ready.isEmpty { return queue.ready.removeFirst() }
            if case .some(.some(let error)) = queue.end {
                queue.end = .some(nil)
                throw error
            }
            return nil
        }
    }
}
