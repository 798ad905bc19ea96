@testable import Dataset
import Foundation
import GRDB
import TestSupport
import XCTest

final class BatchSamplerTests: XCTestCase {
    func testSharesAreDisjointAndCoverTheBatch() throws {
        XCTAssertEqual(try BatchSampler().share(ofBatch: 5), [0, 1, 2, 3, 4])
        XCTAssertTrue(try BatchSampler().isPrimary)
        for worldSize in 1...4 {
            for size in [1, 3, 8, 9] {
                let shares = try (0..<worldSize).map { try BatchSampler(rank: $0, worldSize: worldSize).share(ofBatch: size) }
                XCTAssertEqual(shares.joined().sorted(), Array(0..<size), "world size \(worldSize), batch \(size)")
                XCTAssertLessThanOrEqual(shares.map(\.count).max()! - shares.map(\.count).min()!, 1, "balanced")
            }
        }
        XCTAssertFalse(try BatchSampler(rank: 1, worldSize: 2).isPrimary)
        for (rank, worldSize) in [(0, 0), (2, 2), (-1, 3)] {
            XCTAssertThrowsError(try BatchSampler(rank: rank, worldSize: worldSize)) {
                XCTAssertTrue("\($0)".hasPrefix("rank \(rank) of \(worldSize): "), "\($0)")
            }
        }
    }
}

/// The read-only side of the ledger: what it refuses, and a ledger from before lip units.
final class LedgerReaderTests: XCTestCase {
    func testOpensReadOnlyAndRefusesWhatItCannotRead() throws {
        let s = ScratchDir("ledger-reader")
        XCTAssertThrowsError(try LedgerReader(outFolder: s.path("none"))) {
            XCTAssertTrue("\($0)".contains("no ledger (ledger.sqlite)") && "\($0)".contains("cals preprocess"), "\($0)")
        }
        // A version 1 ledger (no lip_unit_shards table) with one done item of two segments and
        // the rows of an older key, and one removed item.
        try FileManager.default.createDirectory(atPath: s.path("v1"), withIntermediateDirectories: true)
        let path = s.path("v1/ledger.sqlite")
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO meta VALUES ('schema_version', '1'), ('dataset', 'd'), ('adapter', 'folder');
                CREATE TABLE items(id TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL,
                    fingerprint TEXT NOT NULL, speaker TEXT NOT NULL, split TEXT NOT NULL, label TEXT NOT NULL,
                    state TEXT NOT NULL, error TEXT NOT NULL, key TEXT NOT NULL, updated REAL NOT NULL);
                CREATE TABLE shards(file TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL,
                    checksum TEXT NOT NULL, created REAL NOT NULL);
                CREATE TABLE item_rows(item_id TEXT NOT NULL, key TEXT NOT NULL, segment INTEGER NOT NULL,
                    shard_file TEXT NOT NULL, first_row INTEGER NOT NULL, row_count INTEGER NOT NULL);
                INSERT INTO items VALUES ('a', 'a.mp4', 1, 0, 'f', 'spk', 'train', '', 'done', '', 'k2', 0),
                                         ('b', 'b.mp4', 1, 0, 'g', 'spk', 'train', '', 'removed', '', 'k1', 0);
                INSERT INTO shards VALUES ('s1.h5', 30, 10, 'c1', 1), ('s2.h5', 20, 10, 'c2', 2);
                INSERT INTO item_rows VALUES ('a', 'k1', 0, 's1.h5', 0, 10), ('b', 'k1', 0, 's1.h5', 10, 20),
                                             ('a', 'k2', 0, 's2.h5', 0, 12), ('a', 'k2', 1, 's2.h5', 12, 8);
                """)
        }
        let reader = try LedgerReader(outFolder: s.path("v1"))
        XCTAssertEqual(try reader.currentRows(), [CurrentRows(item: "a", segment: 0, shard: "s2.h5", firstRow: 0, rowCount: 12),
                                                  CurrentRows(item: "a", segment: 1, shard: "s2.h5", firstRow: 12, rowCount: 8)])
        XCTAssertEqual(try reader.items().mapValues(\.state), ["a": "done", "b": "removed"])
        XCTAssertEqual(try reader.shards().map(\.file), ["s1.h5", "s2.h5"])
        XCTAssertEqual(try reader.lipUnitShards(), [])
        // Read-only: the reader never upgrades or writes.
        XCTAssertEqual(try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'schema_version'") }, "1")
        // A newer schema than this cals reads.
        try DatabaseQueue(path: path).write { try $0.execute(sql: "UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
        XCTAssertThrowsError(try LedgerReader(outFolder: s.path("v1"))) {
            XCTAssertTrue("\($0)".contains("ledger format version 99 is newer than this cals reads"), "\($0)")
        }
    }
}

/// `data.tsv` of a run: one line of 8 fields per segment, whatever its names hold.
final class SegmentTableTests: XCTestCase {
    func testEscapesTabsNewlinesAndBackslashesInNames() {
        let odd = ProcessedDataset.Segment(item: "clips/a\tb\nc\\d\r.mp4", segment: 2, speaker: "spk\t1", split: "train",
                                           shard: "shard-0001.h5", firstRow: 10, rowCount: 50, audioShift: -1)
        let plain = ProcessedDataset.Segment(item: "clips/e.mp4", segment: 0, speaker: "spk2", split: "test", shard: "shard-0002.h5",
                                             firstRow: 0, rowCount: 25)
        let lines = ProcessedDataset.table([odd, plain]).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 4, "header, two rows, and the final newline's empty rest: \(lines)")
        XCTAssertEqual(lines[1].split(separator: "\t", omittingEmptySubsequences: false),
                       ["clips/a\\tb\\nc\\\\d\\r.mp4", "2", "spk\\t1", "train", "shard-0001.h5", "10", "50", "-1"])
        XCTAssertEqual(lines[2], "clips/e.mp4\t0\tspk2\ttest\tshard-0002.h5\t0\t25\t0")
    }
}
