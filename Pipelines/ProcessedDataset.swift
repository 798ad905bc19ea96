import Common
import Foundation
import Shards

/// A preprocessed output folder as the trainer reads it: the current segments of every done
/// item (from the ledger), windows of T consecutive rows through `Shards.ShardReader`, and a
/// bounded background prefetch. `reload()` re-reads the ledger, so shards a concurrent or later
/// run adds become visible.
public final class ProcessedDataset: @unchecked Sendable {
    /// One segment of one item: rows `firstRow ..< firstRow + rowCount` of `shard`.
    public struct Segment: Equatable, Sendable {
        public let item: String
        public let segment: Int
        public let speaker: String
        public let split: String
        public let shard: String
        public let firstRow: Int
        public let rowCount: Int
    }

    public let outFolder: String
    public private(set) var segments: [Segment] = []
    private let lock = NSLock()
    private var readers: [String: ShardReader] = [:]
    private var readerOrder: [String] = []
    /// Open shard readers kept (each holds a bounded HDF5 chunk cache).
    private let maxOpenShards = 8

    public init(outFolder: String) throws {
        self.outFolder = outFolder
        try reload()
    }

    /// Re-reads the ledger's current rows.
    public func reload() throws {
        let ledger = try Ledger(existing: outFolder)
        let items = try ledger.items()
        let current = try ledger.currentRows().map { row -> Segment in
            let item = items[row.item]!
            return Segment(item: row.item, segment: row.segment, speaker: item.speaker, split: item.split,
                           shard: row.shard, firstRow: row.firstRow, rowCount: row.rowCount)
        }
        lock.lock()
        segments = current
        lock.unlock()
    }

    /// Segments of `split` (and `speaker`, when given) with at least `minRows` rows.
    public func segments(split: String, speaker: String? = nil, minRows: Int = 1) -> [Segment] {
        lock.lock()
        defer { lock.unlock() }
        return segments.filter { $0.split == split && (speaker == nil || $0.speaker == speaker) && $0.rowCount >= minRows }
    }

    /// Rows `offset ..< offset + length` of `segment`: frames [T, 128, 128, 3], mel [T, 80, 4].
    public func window(_ segment: Segment, offset: Int, length: Int) throws -> ShardWindow {
        let reader = try self.reader(segment.shard)
        let id = "\(segment.item)#\(segment.segment)"
        guard let item = reader.item(id: id), item.firstRow == segment.firstRow, item.rowCount == segment.rowCount else {
            throw InputError(reader.path, "segment \(id) is not where the ledger says")
        }
        return try reader.window(item, offset: offset, length: length)
    }

    private func reader(_ shard: String) throws -> ShardReader {
        lock.lock()
        defer { lock.unlock() }
        if let reader = readers[shard] { return reader }
        let path = ((outFolder as NSString).appendingPathComponent("shards") as NSString).appendingPathComponent(shard)
        let reader = try ShardReader(path: path)
        readers[shard] = reader
        readerOrder.append(shard)
        if readerOrder.count > maxOpenShards { readers[readerOrder.removeFirst()] = nil }
        return reader
    }

    /// Random windows of `length` rows from `segments`, read ahead on a background thread into
    /// a queue of at most `depth` windows (so memory stays bounded whatever the dataset size).
    public func prefetch(_ segments: [Segment], length: Int, depth: Int = 8) -> WindowPrefetcher {
        WindowPrefetcher(dataset: self, segments: segments.filter { $0.rowCount >= length }, length: length, depth: depth)
    }
}

/// Background reader of random windows; `next()` blocks until one is ready. The thread stops
/// when the prefetcher is dropped.
public final class WindowPrefetcher: @unchecked Sendable {
    /// What the reading thread and the consumer share (the thread does not hold the prefetcher).
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var windows: [Result<ShardWindow, Error>] = []
        var stopped = false
    }
    private let shared = Queue()

    init(dataset: ProcessedDataset, segments: [ProcessedDataset.Segment], length: Int, depth: Int) {
        let shared = self.shared
        Thread.detachNewThread {
            while true {
                let result: Result<ShardWindow, Error>
                if segments.isEmpty {
                    result = .failure(InputError(dataset.outFolder, "no segment has \(length) rows"))
                } else {
                    let segment = segments.randomElement()!
                    let offset = Int.random(in: 0...(segment.rowCount - length))
                    result = Result { try dataset.window(segment, offset: offset, length: length) }
                }
                shared.condition.lock()
                while shared.windows.count >= depth && !shared.stopped { shared.condition.wait() }
                let stop = shared.stopped
                if !stop { shared.windows.append(result) }
                shared.condition.broadcast()
                shared.condition.unlock()
                if stop { return }
            }
        }
    }

    deinit {
        shared.condition.lock()
        shared.stopped = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// The next window (blocks while none is ready).
    public func next() throws -> ShardWindow {
        shared.condition.lock()
        while shared.windows.isEmpty { shared.condition.wait() }
        let result = shared.windows.removeFirst()
        shared.condition.broadcast()
        shared.condition.unlock()
        return try result.get()
    }
}
