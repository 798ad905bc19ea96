import Common
import Foundation
import GRDB

/// A problem with an output folder or its ledger that the user must resolve.
public struct LedgerError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What identifies one version of a source file: its size and modification time (the fast
/// path) and a hash of its content (computed only when size or mtime differ from the ledger).
public struct FileFingerprint: Equatable, Sendable {
    public var size: Int64
    public var mtime: Double
    /// xxHash64 of the content, 16 hex digits (`Shards.fileChecksum`).
    public var contentHash: String

    public init(size: Int64, mtime: Double, contentHash: String) {
        self.size = size
        self.mtime = mtime
        self.contentHash = contentHash
    }
}

/// What the ledger knows of one item (the latest processing of it).
public struct LedgerItem: Equatable, Sendable {
    public var id: String
    public var source: String
    public var fingerprint: FileFingerprint
    public var speaker: String
    public var split: String
    public var label: String
    /// `done`, `quarantined` or `removed`.
    public var state: String
    public var error: String
    /// The key of the item's final output (shard stage) when it was processed.
    public var key: String
    /// The decode damage of the item's streams (done items; none in ledgers before schema 3).
    public var videoDamage = StreamDamage()
    public var audioDamage = StreamDamage()
    /// For a quarantined item: whether the reason may pass, and the cals version and item time
    /// limit it was quarantined under (to retry it when they change).
    public var quarantineCause = QuarantineCause.input
    public var quarantineVersion = ""
    public var quarantineTimeLimit = 0.0
    /// What the dataset says about the item (transcript, tags, word timings, hints; none in
    /// ledgers before schema 4).
    public var metadata: [String: String] = [:]
}

/// Item metadata as stored in the ledger's `items.metadata`: a JSON object of strings, keys sorted.
public enum ItemMetadata {
    public static func json(_ metadata: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A [String: String] always encodes.
        return String(decoding: (try? encoder.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The stored object; [:] for text that is not one (a hand-edited ledger).
    public static func parse(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}

/// Why an item is quarantined, as far as retrying it goes.
public enum QuarantineCause: String, Sendable {
    /// Its file (or its damage): retried when the file or the parameters change, or on
    /// `--retry-quarantined`.
    case input = ""
    /// Its worker died on a signal: also retried by another cals version.
    case crashed
    /// It ran past the item time limit: also retried under a higher limit or another cals version.
    case timedOut = "timed_out"
    /// Its worker passed `--worker-memory-limit`, or an allocation failed in it: also retried by
    /// another cals version (and on `--retry-quarantined` after raising the limit).
    case outOfMemory = "out_of_memory"
}

/// One shard file recorded in the ledger (file name relative to `<out>/shards`).
public struct ShardRecord: Equatable, Sendable {
    public var file: String
    public var rows: Int
    public var bytes: Int64
    public var checksum: String
    public init(file: String, rows: Int, bytes: Int64, checksum: String) {
        self.file = file
        self.rows = rows
        self.bytes = bytes
        self.checksum = checksum
    }
}

/// One lip-unit shard recorded in the ledger: the units of checkpoint `checkpoint` for frame
/// shard `file` (stored at `<out>/lip_units/<checkpoint>/<file>`), made by `lip_units` v`stageVersion`.
public struct LipUnitShardRecord: Equatable, Sendable {
    public var checkpoint: String
    public var file: String
    public var rows: Int
    public var bytes: Int64
    public var checksum: String
    public var stageVersion: Int
    public init(checkpoint: String, file: String, rows: Int, bytes: Int64, checksum: String, stageVersion: Int) {
        self.checkpoint = checkpoint
        self.file = file
        self.rows = rows
        self.bytes = bytes
        self.checksum = checksum
        self.stageVersion = stageVersion
    }
}

/// The av_sync stage's measurement under the sync checkpoint `checkpoint` (content hash) of one
/// segment of an item as its output `key` held it; segment −1 is the whole item (the windows of
/// its segments pooled). Offset k: the audio of video frame t is at t + k (k frames late);
/// `windows` 0: too short to score (offset, confidence and distance are then 0).
public struct SyncScoreRecord: Equatable, Sendable {
    public var checkpoint: String
    public var item: String
    public var key: String
    public var segment: Int
    public var windows: Int
    public var offset: Int
    public var confidence: Double
    public var distance: Double
    public var stageVersion: Int
    public init(checkpoint: String, item: String, key: String, segment: Int, windows: Int, offset: Int, confidence: Double,
                distance: Double, stageVersion: Int) {
        (self.checkpoint, self.item, self.key, self.segment, self.windows) = (checkpoint, item, key, segment, windows)
        (self.offset, self.confidence, self.distance, self.stageVersion) = (offset, confidence, distance, stageVersion)
    }
}

/// What the last run of the av_sync stage decided for one item (output `key`) from its score
/// under `checkpoint`, by the manifest's `action` then: readers take its audio units `shift`
/// rows later (0: as stored), or leave the item out when `excluded` (the reason) is not empty.
/// The shard rows themselves are never changed.
public struct SyncCuration: Equatable, Sendable {
    public var item: String
    public var key: String
    public var checkpoint: String
    /// The item's measured offset, confidence and scored windows (0: not scored, too short).
    public var offset: Int
    public var confidence: Double
    public var windows: Int
    public var shift: Int
    public var excluded: String
    /// `shift`, `drop` or `keep`.
    public var action: String
    public init(item: String, key: String, checkpoint: String, offset: Int, confidence: Double, windows: Int, shift: Int,
                excluded: String, action: String) {
        (self.item, self.key, self.checkpoint, self.offset, self.confidence) = (item, key, checkpoint, offset, confidence)
        (self.windows, self.shift, self.excluded, self.action) = (windows, shift, excluded, action)
    }
}

/// The rows of one segment of a current item: rows `firstRow ..< firstRow + rowCount` of `shard`.
public struct CurrentRows: Equatable, Sendable {
    public var item: String
    public var segment: Int
    public var shard: String
    public var firstRow: Int
    public var rowCount: Int
    public init(item: String, segment: Int, shard: String, firstRow: Int, rowCount: Int) {
        (self.item, self.segment, self.shard, self.firstRow, self.rowCount) = (item, segment, shard, firstRow, rowCount)
    }
}

/// The read side of an output folder's ledger (`<out>/ledger.sqlite`, written by
/// `Pipelines.Ledger`): every query that says what exists. What the ledger does not record does
/// not exist, so every reader of processed data (trainers, evaluators, dubbing, the lip_units
/// stage) asks here rather than listing folders. The one place these queries are written:
/// `Pipelines.Ledger` reads through a `LedgerReader` over its own connection.
public final class LedgerReader {
    /// The newest ledger schema this cals reads (see `Pipelines.Ledger` for the tables).
    public static let schemaVersion = 6
    public static let fileName = "ledger.sqlite"

    public let path: String
    private let db: any DatabaseReader

    /// Opens the ledger of `outFolder` read-only. Throws `LedgerError` when there is none, it is
    /// not a ledger, or its schema is newer than this cals reads.
    public convenience init(outFolder: String) throws {
        let path = (outFolder as NSString).appendingPathComponent(Self.fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError("\(outFolder): no ledger (\(Self.fileName)); nothing was preprocessed here (run `cals preprocess` first)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch let error as DatabaseError {
            throw LedgerError("\(path): not a usable ledger: \(error.message ?? "\(error)")")
        }
        self.init(database: queue, path: path)
        if let version = try meta()["schema_version"].flatMap(Int.init), version > Self.schemaVersion {
            throw LedgerError("\(path): ledger format version \(version) is newer than this cals reads (\(Self.schemaVersion)); use a newer cals")
        }
    }

    /// Reads through `database`, an open connection to the ledger at `path` (the writer's own).
    public init(database: any DatabaseReader, path: String) {
        self.db = database
        self.path = path
    }

    /// Turns SQLite errors into `EnvironmentError` (a full disk, an I/O error, a read-only or
    /// vanished folder) or else `LedgerError`, naming the ledger file.
    public func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as DatabaseError {
            if let environment = LedgerReader.environmentError(error, path) { throw environment }
            throw LedgerError("\(path): \(error.message ?? "\(error)")")
        }
    }

    /// The machine's fault behind an SQLite result code, if it is one.
    public static func environmentError(_ error: DatabaseError, _ path: String) -> EnvironmentError? {
        let codes: [(ResultCode, Int32)] = [(.SQLITE_FULL, ENOSPC), (.SQLITE_IOERR, EIO), (.SQLITE_READONLY, EROFS),
                                            (.SQLITE_CANTOPEN, EACCES), (.SQLITE_PERM, EPERM), (.SQLITE_NOMEM, ENOMEM)]
        guard let code = codes.first(where: { $0.0 == error.resultCode.primaryResultCode })?.1 else { return nil }
        return EnvironmentError("\(path): \(error.message ?? "SQLite error")", code: code)
    }

    /// The meta table: schema_version, dataset, adapter.
    public func meta() throws -> [String: String] {
        try guarded {
            try db.read { db in
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM meta").map {
                    ($0["key"] as String, $0["value"] as String)
                })
            }
        }
    }

    /// Every item the ledger knows (done, quarantined or removed), by id.
    public func items() throws -> [String: LedgerItem] {
        try guarded {
            try db.read { db in
                var out: [String: LedgerItem] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT * FROM items") {
                    let item = LedgerItem(
                        id: row["id"], source: row["source"],
                        fingerprint: FileFingerprint(size: row["size"], mtime: row["mtime"], contentHash: row["fingerprint"]),
                        speaker: row["speaker"], split: row["split"], label: row["label"],
                        state: row["state"], error: row["error"], key: row["key"],
                        // Columns of schema 3; a read-only reader of an older ledger sees none.
                        videoDamage: StreamDamage(packets: row["video_packets"] ?? 0, undecodable: row["video_undecodable"] ?? 0,
                                                  firstSecondLost: row["video_first_second_lost"] ?? false),
                        audioDamage: StreamDamage(packets: row["audio_packets"] ?? 0, undecodable: row["audio_undecodable"] ?? 0,
                                                  firstSecondLost: row["audio_first_second_lost"] ?? false),
                        quarantineCause: (row["quarantine_cause"] as String?).flatMap(QuarantineCause.init(rawValue:)) ?? .input,
                        quarantineVersion: row["quarantine_version"] ?? "", quarantineTimeLimit: row["quarantine_time_limit"] ?? 0,
                        metadata: ItemMetadata.parse(row["metadata"] ?? "{}"))
                    out[item.id] = item
                }
                return out
            }
        }
    }

    /// The speakers of the dataset's test split (items not removed), when no speaker of it has
    /// items in another split (a split by speaker); else [] (a split by clip holds no speaker
    /// out). What trainers hold out when `--held-out` names no one.
    public func testSpeakers() throws -> [String] {
        var splits: [String: Set<String>] = [:]  // speaker → splits
        for item in try items().values where item.state != "removed" { splits[item.speaker, default: []].insert(item.split) }
        let test = splits.filter { $0.value.contains("test") }
        guard test.allSatisfy({ $0.value.count == 1 }) else { return [] }
        return test.keys.sorted()
    }

    /// The recorded frame shards, oldest first.
    public func shards() throws -> [ShardRecord] {
        try guarded {
            try db.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM shards ORDER BY created, file").map {
                    ShardRecord(file: $0["file"], rows: $0["rows"], bytes: $0["bytes"], checksum: $0["checksum"])
                }
            }
        }
    }

    /// The recorded lip-unit shards (of `checkpoint` only, when given), by checkpoint and file.
    /// A version 1 ledger (before the lip_units stage) has none.
    public func lipUnitShards(checkpoint: String? = nil) throws -> [LipUnitShardRecord] {
        try guarded {
            try db.read { db in
                guard try db.tableExists("lip_unit_shards") else { return [] }
                return try Row.fetchAll(db, sql: """
                    SELECT * FROM lip_unit_shards WHERE ? IS NULL OR checkpoint = ? ORDER BY checkpoint, file
                    """, arguments: [checkpoint, checkpoint]).map {
                    LipUnitShardRecord(checkpoint: $0["checkpoint"], file: $0["file"], rows: $0["rows"], bytes: $0["bytes"],
                                       checksum: $0["checksum"], stageVersion: $0["stage_version"])
                }
            }
        }
    }

    /// The av_sync scores under `checkpoint` (every checkpoint when nil), by checkpoint, item,
    /// key and segment. A ledger before schema 5 has none.
    public func syncScores(checkpoint: String? = nil) throws -> [SyncScoreRecord] {
        try guarded {
            try db.read { db in
                guard try db.tableExists("sync_scores") else { return [] }
                return try Row.fetchAll(db, sql: """
                    SELECT * FROM sync_scores WHERE ? IS NULL OR checkpoint = ? ORDER BY checkpoint, item_id, key, segment
                    """, arguments: [checkpoint, checkpoint]).map {
                    SyncScoreRecord(checkpoint: $0["checkpoint"], item: $0["item_id"], key: $0["key"], segment: $0["segment"],
                                    windows: $0["windows"], offset: $0["best_offset"], confidence: $0["confidence"],
                                    distance: $0["distance"], stageVersion: $0["stage_version"])
                }
            }
        }
    }

    /// The av_sync stage's current decisions, by item (none when the manifest has no av_sync
    /// stage, or before schema 5).
    public func syncCuration() throws -> [String: SyncCuration] {
        try guarded {
            try db.read { db in
                guard try db.tableExists("sync_curation") else { return [:] }
                var out: [String: SyncCuration] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT * FROM sync_curation") {
                    let c = SyncCuration(item: row["item_id"], key: row["key"], checkpoint: row["checkpoint"], offset: row["best_offset"],
                                         confidence: row["confidence"], windows: row["windows"], shift: row["shift"],
                                         excluded: row["excluded"], action: row["action"])
                    out[c.item] = c
                }
                return out
            }
        }
    }

    /// The rows of the current output of every done item (the rows of its current key), by item
    /// and segment.
    public func currentRows() throws -> [CurrentRows] {
        try guarded {
            try db.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT r.item_id, r.segment, r.shard_file, r.first_row, r.row_count FROM item_rows r
                    JOIN items i ON i.id = r.item_id AND i.key = r.key WHERE i.state = 'done'
                    ORDER BY r.item_id, r.segment
                    """).map { CurrentRows(item: $0[0], segment: $0[1], shard: $0[2], firstRow: $0[3], rowCount: $0[4]) }
            }
        }
    }
}
