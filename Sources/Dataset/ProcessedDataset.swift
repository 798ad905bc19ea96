import Common
import Foundation
import Shards

/// A preprocessed output folder as trainers, evaluators and experiments read it: exactly the
/// ledger's current rows (the current segments of every done item, with the ledger's speaker and
/// split), as clips to read rows from, windows of T consecutive rows, and a bounded background
/// prefetch. Shard files the ledger does not record, and rows of removed or superseded items,
/// are never read. `reload()` re-reads the ledger, so shards a concurrent or later run adds
/// become visible.
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

    /// A current segment opened for reading (a clip, or a shot of it), checked against its shard.
    public struct Clip: @unchecked Sendable {
        public let segment: Segment
        let reader: ShardReader
        let item: ShardItem
        /// `<item>#<segment>`, the segment's id in its shard.
        public var id: String { item.id }
        public var speaker: String { segment.speaker }
        public var split: String { segment.split }
        public var rowCount: Int { segment.rowCount }
        /// The shard's file name (relative to `<out>/shards`).
        public var shard: String { segment.shard }

        /// Frames [n, 128, 128, 3] and audio units [n, 80, 4] of rows `rows` (counted within the clip).
        public func rows(_ rows: Range<Int>) throws -> (frames: [UInt8], mel: [Float]) {
            let w = try reader.window(item, offset: rows.lowerBound, length: rows.count)
            return (w.frames, w.mel)
        }

        /// Audio units [n, 80, 4] of rows `rows` (counted within the clip).
        public func mel(_ rows: Range<Int>) throws -> [Float] {
            guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
                throw InputError(reader.path, "rows \(rows) outside segment \(id) of \(rowCount) rows")
            }
            return try reader.mel(rows: (item.firstRow + rows.lowerBound)..<(item.firstRow + rows.upperBound))
        }
    }

    public let outFolder: String
    public private(set) var segments: [Segment] = []
    /// The current segments, opened, sorted by id.
    public private(set) var clips: [Clip] = []
    /// Distinct speakers of the current segments, sorted.
    public private(set) var speakers: [String] = []
    private let lock = NSLock()

    /// Opens the ledger's current rows of `outFolder`; throws when there are none.
    public init(outFolder: String) throws {
        self.outFolder = outFolder
        try reload()
    }

    /// Re-reads the ledger's current rows and opens their shards (each once).
    public func reload() throws {
        let ledger = try LedgerReader(outFolder: outFolder)
        let items = try ledger.items()
        let current = try ledger.currentRows().map { row -> Segment in
            guard let item = items[row.item] else { throw LedgerError("\(ledger.path): rows of unknown item \(row.item)") }
            return Segment(item: row.item, segment: row.segment, speaker: item.speaker, split: item.split,
                           shard: row.shard, firstRow: row.firstRow, rowCount: row.rowCount)
        }
        guard !current.isEmpty else {
            throw InputError(outFolder, "the ledger records no current rows (run `cals preprocess` first)")
        }
        let shardFolder = (outFolder as NSString).appendingPathComponent("shards")
        var readers: [String: ShardReader] = [:]
        let opened = try current.map { segment -> Clip in
            if readers[segment.shard] == nil {
                readers[segment.shard] = try ShardReader(path: (shardFolder as NSString).appendingPathComponent(segment.shard))
            }
            return try Self.locate(segment, in: readers[segment.shard]!)
        }.sorted { $0.id < $1.id }
        lock.lock()
        (segments, clips, speakers) = (current, opened, Array(Set(current.map(\.speaker))).sorted())
        lock.unlock()
    }

    /// `segment` in `reader`'s shard, where the ledger says it is.
    private static func locate(_ segment: Segment, in reader: ShardReader) throws -> Clip {
        let id = "\(segment.item)#\(segment.segment)"
        guard let item = reader.item(id: id), item.firstRow == segment.firstRow, item.rowCount == segment.rowCount else {
            throw InputError(reader.path, "segment \(id) is not where the ledger says")
        }
        return Clip(segment: segment, reader: reader, item: item)
    }

    /// The clip with id `id` (`<item>#<segment>`).
    public func clip(id: String) throws -> Clip {
        guard let clip = clips.first(where: { $0.id == id }) else {
            throw InputError(outFolder, "no current item '\(id)' in the ledger (ids look like '\(clips[0].id)')")
        }
        return clip
    }

    /// Segments of `split` (and `speaker`, when given) with at least `minRows` rows.
    public func segments(split: String, speaker: String? = nil, minRows: Int = 1) -> [Segment] {
        lock.lock()
        defer { lock.unlock() }
        return segments.filter { $0.split == split && (speaker == nil || $0.speaker == speaker) && $0.rowCount >= minRows }
    }

    /// Rows `offset ..< offset + length` of `segment`: frames [T, 128, 128, 3], mel [T, 80, 4].
    public func window(_ segment: Segment, offset: Int, length: Int) throws -> ShardWindow {
        let clip = try opened(segment)
        return try clip.reader.window(clip.item, offset: offset, length: length)
    }

    /// The open clip of `segment`, which must be current.
    private func opened(_ segment: Segment) throws -> Clip {
        lock.lock()
        defer { lock.unlock() }
        guard let clip = clips.first(where: { $0.segment == segment }) else {
            throw InputError(outFolder, "segment \(segment.item)#\(segment.segment) is not a current row of the ledger")
        }
        return clip
    }

    /// Random windows of `length` rows from `segments` (those long enough), read ahead by
    /// `WindowPrefetcher` (at most `depth` held). `count` windows, or endless when nil.
    public func prefetch(_ segments: [Segment], length: Int, count: Int? = nil, depth: Int = 8) throws -> WindowPrefetcher {
        let located = try segments.filter { $0.rowCount >= length }.map { try opened($0) }
        guard !located.isEmpty else { throw InputError(outFolder, "no segment has \(length) rows") }
        var remaining = count ?? Int.max
        return WindowPrefetcher(depth: depth) {
            guard remaining > 0 else { return nil }
            remaining -= 1
            let clip = located.randomElement()!
            return WindowRequest(reader: clip.reader, item: clip.item, offset: Int.random(in: 0...(clip.rowCount - length)),
                                 length: length)
        }
    }

    /// The rows of `clips` as tab-separated lines after a header (item, segment, speaker, split,
    /// shard, first_row, row_count): what a run read, to check against the ledger (a removed item
    /// must not appear).
    public static func table(_ clips: [Clip]) -> String {
        (["item\tsegment\tspeaker\tsplit\tshard\tfirst_row\trow_count"] + clips.map { c in
            let s = c.segment
            return [s.item, "\(s.segment)", s.speaker, s.split, s.shard, "\(s.firstRow)", "\(s.rowCount)"].joined(separator: "\t")
        }).joined(separator: "\n") + "\n"
    }
}
