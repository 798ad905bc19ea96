import Foundation
import Shards

/// One window to read: rows `offset ..< offset + length` of `item` in `reader`'s shard, with
/// the audio units `audioShift` rows later (`ShardReader.window`).
public struct WindowRequest: Sendable {
    public let reader: ShardReader
    public let item: ShardItem
    public let offset: Int
    public let length: Int
    public let audioShift: Int

    public init(reader: ShardReader, item: ShardItem, offset: Int, length: Int, audioShift: Int = 0) {
        self.reader = reader
        self.item = item
        self.offset = offset
        self.length = length
        self.audioShift = audioShift
    }

    public func read() throws -> ShardWindow { try reader.window(item, offset: offset, length: length, audioShift: audioShift) }
}

/// Reads windows ahead on a background thread so the consumer (the trainer) rarely waits on
/// HDF5. `requests` is called on that thread for the next window to read (nil: no more);
/// `next()` hands the windows back in request order. At most `depth` windows are held, so
/// memory stays bounded whatever the dataset size. Dropping the prefetcher stops the thread.
public final class WindowPrefetcher: @unchecked Sendable {
    /// What the reading thread and the consumer share (the thread does not keep the
    /// prefetcher itself alive, so dropping it stops the thread).
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var ready: [Result<ShardWindow, Error>] = []
        var exhausted = false
        var stopped = false
    }

    private let queue = Queue()

    public init(depth: Int = 8, requests: @escaping () -> WindowRequest?) {
        precondition(depth >= 1)
        let queue = self.queue
        let thread = Thread {
            while true {
                // Wait for room (at most `depth` windows held) or for the end.
                queue.condition.lock()
                while queue.ready.count >= depth && !queue.stopped { queue.condition.wait() }
                let stopped = queue.stopped
                queue.condition.unlock()
                if stopped { return }
                let request = requests()
                let window = request.map { r in Result { try r.read() } }
                queue.condition.lock()
                if let window { queue.ready.append(window) } else { queue.exhausted = true }
                queue.condition.broadcast()
                queue.condition.unlock()
                if window == nil { return }
            }
        }
        thread.name = "cals.prefetch"
        thread.start()
    }

    deinit {
        queue.condition.lock()
        queue.stopped = true
        queue.condition.broadcast()
        queue.condition.unlock()
    }

    /// The next window in request order, nil after the last one; rethrows a failed read.
    public func next() throws -> ShardWindow? {
        queue.condition.lock()
        defer { queue.condition.unlock() }
        while queue.ready.isEmpty && !queue.exhausted { queue.condition.wait() }
        if queue.ready.isEmpty { return nil }
        let window = queue.ready.removeFirst()
        queue.condition.broadcast()
        return try window.get()
    }
}
