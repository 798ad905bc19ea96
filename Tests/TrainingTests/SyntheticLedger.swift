import Foundation
@testable import Pipelines
import Shards

/// Records the frame shard `file` (in `<folder>/shards`, summarised by `summary`) in the folder's
/// ledger with every one of its segments as the current rows of an item (segment ids
/// `<item>#<segment>`), as a `cals preprocess` run records what it wrote.
func recordInLedger(_ folder: String, _ file: String, _ summary: ShardSummary) throws {
    let ledger = try Ledger(outFolder: folder, dataset: "synthetic", adapter: "test")
    let segments = Dictionary(grouping: summary.items) { String($0.id.prefix { $0 != "#" }) }
    try ledger.recordShard(ShardRecord(file: file, rows: summary.rows, bytes: Int64(summary.bytes), checksum: summary.checksum),
                           items: segments.keys.sorted().map { id in
        let items = segments[id]!
        return ProcessedItem(item: SourceItem(id: id, source: items[0].source, speaker: items[0].speaker, split: items[0].split),
                             fingerprint: FileFingerprint(size: 0, mtime: 0, contentHash: items[0].fingerprint),
                             stageKeys: [(stage: "shard", key: "synthetic")],
                             rows: items.map { RowRange(segment: Int($0.id.split(separator: "#").last!)!, firstRow: $0.firstRow,
                                                        rowCount: $0.rowCount) })
    })
}
