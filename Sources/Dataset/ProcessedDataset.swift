import Common
import Foundation
import Shards

/// A preprocessed output folder as trainers, evaluators and experiments read it: exactly the
/// ledger's current rows (the current segments of every done item, with the ledger's speaker and
/// split), curated by the av_sync stage's decisions (`SyncCuration`: an excluded item is left
/// out, a shifted one is read with its audio units re-aligned), as clips to read rows from,
/// windows of T consecutive rows, and a bounded background prefetch. Shard files the ledger does
/// not record, and rows of removed or superseded items, are never read. `reload()` re-reads the
/// ledger, so shards a concurrent or later run adds become visible.
/// @unchecked Sendable: `reload` replaces the lists only while holding `lock`, and the methods
/// other threads call (`segments(split:)`, `clip(id:)`, `window`, `prefetch`) read them only while holding it.
public final class ProcessedDataset: @unchecked Sendable {
    /// One segment of one item: the frames of rows `firstRow ..< firstRow + rowCount` of `shard`,
    /// each with the audio unit `audioShift` rows later (av_sync's shift; 0: as stored). A
    /// shifted segment is its stored rows less the |audioShift| at the edges that have no partner.
    public struct Segment: Equatable, Sendable {
        public let item: String
        public let segment: Int
        public let speaker: String
        public let split: String
        public let shard: String
        public let firstRow: Int
        public let rowCount: Int
        public var audioShift = 0
    }

    /// A current segment opened for reading (a clip, or a shot of it), checked against its shard.
    public struct Clip: Sendable {
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
            try checked(rows)
            let w = try read(rows)
            return (w.frames, w.mel)
        }

        /// Audio units [n, 80, 4] of rows `rows` (counted within the clip).
        public func mel(_ rows: Range<Int>) throws -> [Float] {
            try checked(rows)
            let first = segment.firstRow + segment.audioShift
            return try reader.mel(rows: (first + rows.lowerBound)..<(first + rows.upperBound))
        }

        /// Rows `rows` (counted within the clip) read from the shard.
        func read(_ rows: Range<Int>) throws -> ShardWindow {
            try reader.window(item, offset: segment.firstRow - item.firstRow + rows.lowerBound,
                              length: rows.count, audioShift: segment.audioShift)
        }

        func checked(_ rows: Range<Int>) throws {
            guard rows.lowerBound >= 0, rows.upperBound <= rowCount, !rows.isEmpty else {
                throw InputError(reader.path, "rows \(rows) outside segment \(id) of \(rowCount) rows")
            }
        }
    }

    public let outFolder: String
    public private(set) var segments: [Segment] = []
    /// The current segments, opened, sorted by id.
    public private(set) var clips: [Clip] = []
    /// Distinct speakers of the current segments, sorted.
    public private(set) var speakers: [String] = []
    /// Items the av_sync stage left out, with its reason, by item id.
    public private(set) var excluded: [String: String] = [:]
    private let lock = NSLock()

    /// Opens the ledger's current rows of `outFolder`; throws when there are none.
    public init(outFolder: String) throws {
        self.outFolder = outFolder
        try reload()
    }

    /// Re-reads the ledger's current rows and av_sync decisions and opens their shards (each once).
    public func reload() throws {
        let ledger = try LedgerReader(outFolder: outFolder)
        let items = try ledger.items()
        // Decisions about an item's current output only (one about an earlier key is stale).
        let curation = try ledger.syncCuration().filter { items[$0.key]?.key == $0.value.key }
        let excluded = curation.filter { !$0.value.excluded.isEmpty }.mapValues(\.excluded)
        let stored = try ledger.currentRows().filter { excluded[$0.item] == nil }.map { row -> Segment in
            guard let item = items[row.item] else { throw LedgerError("\(ledger.path): rows of unknown item \(row.item)") }
            return Segment(item: row.item, segment: row.segment, speaker: item.speaker, split: item.split,
                           shard: row.shard, firstRow: row.firstRow, rowCount: row.rowCount)
        }
        let shardFolder = (outFolder as NSString).appendingPathComponent("shards")
        var readers: [String: ShardReader] = [:]
        let opened = try stored.compactMap { segment -> Clip? in
            if readers[segment.shard] == nil {
                readers[segment.shard] = try ShardReader(path: (shardFolder as NSString).appendingPathComponent(segment.shard))
            }
            let clip = try Self.locate(segment, in: readers[segment.shard]!)
            return Self.shifted(clip, by: curation[segment.item]?.shift ?? 0)
        }.sorted { $0.id < $1.id }
        guard !opened.isEmpty else {
            throw InputError(outFolder, excluded.isEmpty ? "the ledger records no current rows (run `cals preprocess` first)"
                             : "av_sync excludes every current item (\(excluded.count)); see `cals status`")
        }
        let current = opened.map(\.segment)
        lock.lock()
        (segments, clips, speakers, self.excluded) = (current, opened, Array(Set(current.map(\.speaker))).sorted(), excluded)
        lock.unlock()
    }

    /// `clip` read with its audio units `shift` rows later: frames of the rows that have a
    /// partner unit. Nil when no row has one (a segment of at most |shift| rows).
    private static func shifted(_ clip: Clip, by shift: Int) -> Clip? {
        guard shift != 0 else { return clip }
        let s = clip.segment
        guard s.rowCount > abs(shift) else { return nil }
        let segment = Segment(item: s.item, segment: s.segment, speaker: s.speaker, split: s.split, shard: s.shard,
                              firstRow: s.firstRow + max(0, -shift), rowCount: s.rowCount - abs(shift), audioShift: shift)
        return Clip(segment: segment, reader: clip.reader, item: clip.item)
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
        lock.lock()
        defer { lock.unlock() }
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
        try clip.checked(offset..<(offset + length))
        return try clip.read(offset..<(offset + length))
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

    /// Random windows of `length` rows from `segments` (those long enough), read ahead on a
    /// thread of their own (at most `depth` held). `count` windows, or endless when nil; a failed
    /// read ends them.
    public func prefetch(_ segments: [Segment], length: Int, count: Int? = nil, depth: Int = 8) throws -> Handoff<ShardWindow> {
        let located = try segments.filter { $0.rowCount >= length }.map { try opened($0) }
        guard !located.isEmpty else { throw InputError(outFolder, "no segment has \(length) rows") }
        return Handoff(name: "cals.prefetch", depth: depth) { put in
            for _ in 0..<max(0, count ?? Int.max) {
                let clip = located[Int.random(in: 0..<located.count)]
                let offset = Int.random(in: 0...(clip.rowCount - length))
                try put(try clip.read(offset..<(offset + length)))
            }
        }
    }

    /// The rows of `segments` as tab-separated lines after a header (item, segment, speaker, split,
    /// shard, first_row, row_count, audio_shift): what a run read, to check against the ledger (a
    /// removed item must not appear). A backslash, tab, newline or carriage return in a name (file
    /// names may hold any of them) is written \\, \t, \n or \r, so a row is one line of 8 fields.
    public static func table(_ segments: [Segment]) -> String {
        func field(_ name: String) -> String {
            name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
        }
        return (["item\tsegment\tspeaker\tsplit\tshard\tfirst_row\trow_count\taudio_shift"] + segments.map { s in
            [field(s.item), "\(s.segment)", field(s.speaker), field(s.split), field(s.shard), "\(s.firstRow)", "\(s.rowCount)",
             "\(s.audioShift)"].joined(separator: "\t")
        }).joined(separator: "\n") + "\n"
    }
}
