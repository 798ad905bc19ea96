import Foundation
import Pipelines
import Shards
import TestSupport
import XCTest

final class LedgerTests: XCTestCase {
    func testStringHashIsMixedFNV1a() {
        // Values from a Python transcription of FNV-1a 64 + fmix64.
        XCTAssertEqual(stringHash(""), "efd01f60ba992926")
        XCTAssertEqual(stringHash("a"), "82a2a958a9bece5b")
        XCTAssertNotEqual(stringHash("ab"), stringHash("ba"))
    }

    func testFingerprintFastPathAndContentHash() throws {
        let s = ScratchDir()
        let path = s.path("v.mp4")
        try "one".write(toFile: path, atomically: false, encoding: .utf8)
        let first = try FileFingerprint.of(path, known: nil)
        XCTAssertEqual(first.contentHash, try fileChecksum(path))
        // Same size and mtime: the stored hash is trusted (no read).
        let stale = FileFingerprint(size: first.size, mtime: first.mtime, contentHash: "stored")
        XCTAssertEqual(try FileFingerprint.of(path, known: stale).contentHash, "stored")
        // Touched: re-hashed, same content hash.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: path)
        let touched = try FileFingerprint.of(path, known: first)
        XCTAssertNotEqual(touched.mtime, first.mtime)
        XCTAssertEqual(touched.contentHash, first.contentHash)
        XCTAssertThrowsError(try FileFingerprint.of(s.url.path, known: nil)) { XCTAssertTrue("\($0)".contains("not a regular file")) }
        XCTAssertEqual(mkfifo(s.path("fifo.mp4"), 0o644), 0)
        XCTAssertThrowsError(try FileFingerprint.of(s.path("fifo.mp4"), known: nil)) { XCTAssertTrue("\($0)".contains("not a regular file")) }
    }

    func testOtherManifestAndNewerSchemaAreRefused() throws {
        let s = ScratchDir()
        _ = try Ledger(outFolder: s.url.path, dataset: "hdtf", adapter: "hdtf")
        _ = try Ledger(outFolder: s.url.path, dataset: "hdtf", adapter: "hdtf")  // reopen is fine
        XCTAssertThrowsError(try Ledger(outFolder: s.url.path, dataset: "lrs2", adapter: "lrs2")) {
            XCTAssertTrue("\($0)".contains("made by the manifest of dataset 'hdtf'"), "\($0)")
        }
        let db = s.path(Ledger.fileName)
        try TestSupport.run("sqlite3", [db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'"])
        XCTAssertThrowsError(try Ledger(outFolder: s.url.path, dataset: "hdtf", adapter: "hdtf")) {
            XCTAssertTrue("\($0)".contains("format version 99 is newer"), "\($0)")
        }
        try "not sqlite at all, just text".write(toFile: db, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try Ledger(outFolder: s.url.path, dataset: "hdtf", adapter: "hdtf")) {
            XCTAssertTrue("\($0)".contains(db), "\($0)")
        }
    }

    /// A ledger written by schema 1 (no lip_unit_shards) opens, keeps its rows and is upgraded.
    func testSchemaOneLedgerIsUpgraded() throws {
        let s = ScratchDir()
        let db = s.path(Ledger.fileName)
        let r = try TestSupport.run("sqlite3", [db, """
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1'), ('dataset', 'hdtf'), ('adapter', 'hdtf');
            CREATE TABLE items(id TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER NOT NULL,
                mtime REAL NOT NULL, fingerprint TEXT NOT NULL, speaker TEXT NOT NULL,
                split TEXT NOT NULL, label TEXT NOT NULL, state TEXT NOT NULL, error TEXT NOT NULL,
                key TEXT NOT NULL, updated REAL NOT NULL);
            CREATE TABLE stage_results(item_id TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL,
                state TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY(item_id, stage, key));
            CREATE TABLE shards(file TEXT PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL,
                checksum TEXT NOT NULL, created REAL NOT NULL);
            CREATE TABLE item_rows(item_id TEXT NOT NULL, key TEXT NOT NULL, segment INTEGER NOT NULL,
                shard_file TEXT NOT NULL REFERENCES shards(file), first_row INTEGER NOT NULL,
                row_count INTEGER NOT NULL);
            CREATE INDEX item_rows_item ON item_rows(item_id, key);
            INSERT INTO shards VALUES ('shard-a.h5', 12, 4096, '00000000000000aa', 1.0);
            """])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ledger = try Ledger(outFolder: s.url.path, dataset: "hdtf", adapter: "hdtf")
        XCTAssertEqual(try ledger.shards(), [ShardRecord(file: "shard-a.h5", rows: 12, bytes: 4096, checksum: "00000000000000aa")])
        XCTAssertEqual(try ledger.lipUnitShards(), [])
        let unit = LipUnitShardRecord(checkpoint: "c0ffee", file: "shard-a.h5", rows: 12, bytes: 999, checksum: "11", stageVersion: 1)
        try ledger.recordLipUnitShard(unit)
        XCTAssertEqual(try Ledger(existing: s.url.path).lipUnitShards(), [unit])
        XCTAssertEqual(try TestSupport.run("sqlite3", [db, "SELECT value FROM meta WHERE key = 'schema_version'"]).stdout,
                       "\(Ledger.schemaVersion)\n")
    }

    func testPartitionIsDeterministicAndCovers() throws {
        let ids = (0..<500).map { "spk\($0 % 7)/clip\($0)" }
        let parts = try (0..<4).map { try Partition(index: $0, count: 4) }
        var seen = Set<String>()
        for p in parts {
            let mine = ids.filter(p.contains)
            XCTAssertGreaterThan(mine.count, 80)
            XCTAssertTrue(seen.isDisjoint(with: mine))
            seen.formUnion(mine)
        }
        XCTAssertEqual(seen.count, ids.count)
        XCTAssertEqual(try Partition(parsing: "2/4"), parts[2])
        XCTAssertThrowsError(try Partition(parsing: "4/4"))
        XCTAssertThrowsError(try Partition(parsing: "x"))
    }
}
