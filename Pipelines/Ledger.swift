// The ledger's record types and every query live in Dataset (the read side, below Training and
// Pipelines); re-exported so users of Pipelines see one ledger API.
import Common
@_exported import Dataset
import Face
import Foundation
import GRDB

/// Where a run of rows of one item segment lives.
public struct RowRange: Equatable, Sendable {
    public var segment: Int
    public var firstRow: Int
    public var rowCount: Int
    public init(segment: Int, firstRow: Int, rowCount: Int) {
        self.segment = segment
        self.firstRow = firstRow
        self.rowCount = rowCount
    }
}

/// An item processed in one run: the source, its fingerprint, the key of every stage's output,
/// and (when done) its rows in the shard being recorded.
public struct ProcessedItem: Sendable {
    public var item: SourceItem
    public var fingerprint: FileFingerprint
    public var stageKeys: [(stage: String, key: String)]
    public var rows: [RowRange]
    public var videoDamage: StreamDamage
    public var audioDamage: StreamDamage
    /// With `speaker: active`: how every face track of every shot scored.
    public var trackScores: [TrackScore] = []

    public init(item: SourceItem, fingerprint: FileFingerprint, stageKeys: [(stage: String, key: String)], rows: [RowRange],
                videoDamage: StreamDamage = StreamDamage(), audioDamage: StreamDamage = StreamDamage()) {
        self.item = item
        self.fingerprint = fingerprint
        self.stageKeys = stageKeys
        self.rows = rows
        self.videoDamage = videoDamage
        self.audioDamage = audioDamage
    }
}

/// The SQLite ledger of an output folder (`<out>/ledger.sqlite`): items, stage results,
/// shards and item rows. What is not in the ledger does not exist: shard files are recorded
/// only after they are complete on disk, in one transaction with the rows they hold.
///
/// Schema (version 6; older ledgers are upgraded on open: version 1 had no lip_unit_shards,
/// version 2 not the items' damage and quarantine columns, version 3 not their metadata,
/// version 4 not the av_sync tables, version 5 not speaker_scores):
///   meta(key PRIMARY KEY, value)                    schema_version, dataset, adapter
///   items(id PRIMARY KEY, source, size, mtime, fingerprint, speaker, split, label,
///         state, error, key, updated,               state: done | quarantined | removed
///         video_packets, video_undecodable, video_first_second_lost,
///         audio_packets, audio_undecodable, audio_first_second_lost,   decode damage (integers)
///         quarantine_cause, quarantine_version, quarantine_time_limit, see QuarantineCause
///         metadata)                                 JSON object of strings (SourceItem.metadata)
///   stage_results(item_id, stage, key, state, error, PRIMARY KEY(item_id, stage, key))
///   shards(file PRIMARY KEY, rows, bytes, checksum, created)
///   item_rows(item_id, key, segment, shard_file, first_row, row_count)
///   lip_unit_shards(checkpoint, file REFERENCES shards, rows, bytes, checksum, stage_version, created,
///         PRIMARY KEY(checkpoint, file))
///   sync_scores(checkpoint, item_id, key, segment, windows, best_offset, confidence, distance,
///         stage_version, created, PRIMARY KEY(checkpoint, item_id, key, segment))   SyncScoreRecord
///   sync_curation(item_id PRIMARY KEY, key, checkpoint, best_offset, confidence, windows, shift,
///         excluded, action)                         the av_sync stage's decisions (SyncCuration)
///   speaker_scores(item_id, key, shot, track, first_frame, last_frame, confidence, best_offset,
///         segment, PRIMARY KEY(item_id, key, shot, track))   `speaker: active`'s TrackScore
///                                                   (confidence, best_offset, segment NULL: none)
public final class Ledger {
    public static let schemaVersion = LedgerReader.schemaVersion
    public static let fileName = LedgerReader.fileName

    public let path: String
    private let db: DatabaseQueue
    /// Every read goes through the read side's queries, over this connection.
    private let reader: LedgerReader

    /// Opens (or creates) the ledger of `outFolder` for `dataset` read with `adapter`. Throws
    /// `LedgerError` if the folder belongs to another dataset or adapter, or the ledger has a
    /// newer schema.
    public init(outFolder: String, dataset: String, adapter: String, create: Bool = true) throws {
        path = (outFolder as NSString).appendingPathComponent(Ledger.fileName)
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && !create { throw LedgerError("\(outFolder): no ledger (\(Ledger.fileName)); nothing was preprocessed here") }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        try EnvironmentError.fileOperation(outFolder, "cannot make the output folder") {
            try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        }
        do {
            db = try DatabaseQueue(path: path, configuration: configuration)
            reader = LedgerReader(database: db, path: path)
            try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            try db.write { db in
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            }
        } catch let error as DatabaseError {
            if let environment = LedgerReader.environmentError(error, path) { throw environment }
            throw LedgerError("\(path): not a usable ledger: \(error.message ?? "\(error)")")
        }
        let meta = try readMeta()
        if let version = meta["schema_version"].flatMap(Int.init), version > Ledger.schemaVersion {
            throw LedgerError("\(path): ledger format version \(version) is newer than this cals reads (\(Ledger.schemaVersion)); use a newer cals")
        }
        if let other = meta["dataset"], other != dataset, !dataset.isEmpty {
            throw LedgerError("\(outFolder): made by the manifest of dataset '\(other)', not '\(dataset)'; use another output folder")
        }
        if let other = meta["adapter"], other != adapter, !adapter.isEmpty {
            throw LedgerError("\(outFolder): made with adapter '\(other)', not '\(adapter)'; use another output folder")
        }
        if let version = meta["schema_version"].flatMap(Int.init) {
            if version < Ledger.schemaVersion { try migrate(from: version) }
        } else {
            guard !dataset.isEmpty else { throw LedgerError("\(path): ledger has no dataset") }
            try createSchema(dataset: dataset, adapter: adapter)
        }
    }

    /// Opens an existing ledger whatever its dataset (for status and merge).
    public convenience init(existing outFolder: String) throws {
        try self.init(outFolder: outFolder, dataset: "", adapter: "", create: false)
    }

    private func readMeta() throws -> [String: String] { try reader.meta() }

    public var dataset: String { (try? readMeta()["dataset"]) ?? "" }
    public var adapter: String { (try? readMeta()["adapter"]) ?? "" }

    private func createSchema(dataset: String, adapter: String) throws {
        try guarded {
            try db.write { db in
                try db.execute(sql: """
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
                    """)
                try db.execute(sql: Ledger.lipUnitShardsTable)
                try db.execute(sql: Ledger.itemColumnsOfVersion3)
                try db.execute(sql: Ledger.itemColumnsOfVersion4)
                try db.execute(sql: Ledger.syncTablesOfVersion5)
                try db.execute(sql: Ledger.speakerScoresOfVersion6)
                for (key, value) in [("schema_version", "\(Ledger.schemaVersion)"), ("dataset", dataset), ("adapter", adapter)] {
                    try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
        }
    }

    /// Added in version 2.
    private static let lipUnitShardsTable = """
        CREATE TABLE lip_unit_shards(checkpoint TEXT NOT NULL, file TEXT NOT NULL REFERENCES shards(file),
            rows INTEGER NOT NULL, bytes INTEGER NOT NULL, checksum TEXT NOT NULL, stage_version INTEGER NOT NULL,
            created REAL NOT NULL, PRIMARY KEY(checkpoint, file))
        """

    /// Added in version 3 (at the end of `items`, so fresh and upgraded ledgers agree on the
    /// column order `merge` relies on).
    private static let itemColumnsOfVersion3 = """
        ALTER TABLE items ADD COLUMN video_packets INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN video_undecodable INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN video_first_second_lost INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN audio_packets INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN audio_undecodable INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN audio_first_second_lost INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE items ADD COLUMN quarantine_cause TEXT NOT NULL DEFAULT '';
        ALTER TABLE items ADD COLUMN quarantine_version TEXT NOT NULL DEFAULT '';
        ALTER TABLE items ADD COLUMN quarantine_time_limit REAL NOT NULL DEFAULT 0;
        """

    /// Added in version 4: what the dataset says about each item (`ItemMetadata`).
    private static let itemColumnsOfVersion4 = "ALTER TABLE items ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}'"

    /// Added in version 5: the av_sync stage's scores and decisions.
    private static let syncTablesOfVersion5 = """
        CREATE TABLE sync_scores(checkpoint TEXT NOT NULL, item_id TEXT NOT NULL, key TEXT NOT NULL, segment INTEGER NOT NULL,
            windows INTEGER NOT NULL, best_offset INTEGER NOT NULL, confidence REAL NOT NULL, distance REAL NOT NULL,
            stage_version INTEGER NOT NULL, created REAL NOT NULL, PRIMARY KEY(checkpoint, item_id, key, segment));
        CREATE TABLE sync_curation(item_id TEXT PRIMARY KEY, key TEXT NOT NULL, checkpoint TEXT NOT NULL,
            best_offset INTEGER NOT NULL, confidence REAL NOT NULL, windows INTEGER NOT NULL, shift INTEGER NOT NULL,
            excluded TEXT NOT NULL, action TEXT NOT NULL);
        """

    /// Added in version 6: the face tracks `speaker: active` scored, per item output.
    private static let speakerScoresOfVersion6 = """
        CREATE TABLE speaker_scores(item_id TEXT NOT NULL, key TEXT NOT NULL, shot INTEGER NOT NULL, track INTEGER NOT NULL,
            first_frame INTEGER NOT NULL, last_frame INTEGER NOT NULL, confidence REAL, best_offset INTEGER, segment INTEGER,
            PRIMARY KEY(item_id, key, shot, track))
        """

    /// Upgrades a ledger of an older schema `version` in place, in one transaction.
    private func migrate(from version: Int) throws {
        try guarded {
            try db.write { db in
                if version < 2 { try db.execute(sql: Ledger.lipUnitShardsTable) }
                if version < 3 { try db.execute(sql: Ledger.itemColumnsOfVersion3) }
                if version < 4 { try db.execute(sql: Ledger.itemColumnsOfVersion4) }
                if version < 5 { try db.execute(sql: Ledger.syncTablesOfVersion5) }
                if version < 6 { try db.execute(sql: Ledger.speakerScoresOfVersion6) }
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                               arguments: ["\(Ledger.schemaVersion)"])
            }
        }
    }

    /// SQLite errors as `EnvironmentError` or `LedgerError` (see `LedgerReader.guarded`).
    private func guarded<T>(_ body: () throws -> T) throws -> T { try reader.guarded(body) }

    // MARK: Reading (the queries of `Dataset.LedgerReader`)

    public func items() throws -> [String: LedgerItem] { try reader.items() }

    public func shards() throws -> [ShardRecord] { try reader.shards() }

    /// The recorded lip-unit shards (of `checkpoint` only, when given), by checkpoint and file.
    public func lipUnitShards(checkpoint: String? = nil) throws -> [LipUnitShardRecord] {
        try reader.lipUnitShards(checkpoint: checkpoint)
    }

    /// The rows of the current output of every done item.
    public func currentRows() throws -> [CurrentRows] { try reader.currentRows() }

    /// The av_sync scores under `checkpoint` (every checkpoint when nil).
    public func syncScores(checkpoint: String? = nil) throws -> [SyncScoreRecord] { try reader.syncScores(checkpoint: checkpoint) }

    /// The av_sync stage's current decisions, by item.
    public func syncCuration() throws -> [String: SyncCuration] { try reader.syncCuration() }

    /// How `speaker: active` scored the face tracks of item `id`'s output of key `key`, in shot
    /// and track order.
    public func trackScores(item id: String, key: String) throws -> [TrackScore] {
        try guarded {
            try db.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT shot, track, first_frame, last_frame, confidence, best_offset, segment FROM speaker_scores
                    WHERE item_id = ? AND key = ? ORDER BY shot, track
                    """, arguments: [id, key]).map {
                    TrackScore(shot: $0[0], track: $0[1], first: $0[2], last: $0[3], confidence: $0[4], offset: $0[5], segment: $0[6])
                }
            }
        }
    }

    /// Counts of the latest result of each (item, stage) by (stage, state), removed items left out.
    public func stageCounts() throws -> [(stage: String, state: String, count: Int)] {
        try guarded {
            try db.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT s.stage, s.state, COUNT(*) FROM stage_results s
                    JOIN items i ON i.id = s.item_id AND i.state != 'removed'
                    WHERE s.rowid IN (SELECT MAX(rowid) FROM stage_results GROUP BY item_id, stage)
                    GROUP BY s.stage, s.state
                    """).map { ($0[0], $0[1], $0[2]) }
            }
        }
    }

    // MARK: Writing

    /// Records a finished shard and the items whose rows it holds, in one transaction. Call only
    /// after the shard file is complete and renamed into place.
    public func recordShard(_ shard: ShardRecord, items: [ProcessedItem]) throws {
        try guarded {
            try db.write { db in
                try db.execute(sql: "INSERT INTO shards(file, rows, bytes, checksum, created) VALUES (?, ?, ?, ?, ?)",
                               arguments: [shard.file, shard.rows, shard.bytes, shard.checksum, Date().timeIntervalSince1970])
                for processed in items {
                    let finalKey = processed.stageKeys.last!.key
                    try upsertItem(db, processed.item, processed.fingerprint, state: "done", error: "", key: finalKey,
                                   videoDamage: processed.videoDamage, audioDamage: processed.audioDamage)
                    try recordStages(db, processed.item.id, processed.stageKeys, failedStage: nil, error: "")
                    try db.execute(sql: "DELETE FROM item_rows WHERE item_id = ? AND key = ?",
                                   arguments: [processed.item.id, finalKey])
                    for range in processed.rows {
                        try db.execute(sql: """
                            INSERT INTO item_rows(item_id, key, segment, shard_file, first_row, row_count)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """, arguments: [processed.item.id, finalKey, range.segment, shard.file,
                                             range.firstRow, range.rowCount])
                    }
                    try db.execute(sql: "DELETE FROM speaker_scores WHERE item_id = ? AND key = ?",
                                   arguments: [processed.item.id, finalKey])
                    for t in processed.trackScores {
                        try db.execute(sql: """
                            INSERT INTO speaker_scores(item_id, key, shot, track, first_frame, last_frame, confidence, best_offset, segment)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [processed.item.id, finalKey, t.shot, t.track, t.first, t.last, t.confidence, t.offset,
                                             t.segment])
                    }
                }
            }
        }
    }

    /// Records a finished lip-unit shard (replacing an earlier record of the same checkpoint and
    /// frame shard). Call only after the file is complete and renamed into place.
    public func recordLipUnitShard(_ shard: LipUnitShardRecord) throws {
        try guarded {
            try db.write { db in
                try db.execute(sql: """
                    INSERT OR REPLACE INTO lip_unit_shards(checkpoint, file, rows, bytes, checksum, stage_version, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [shard.checkpoint, shard.file, shard.rows, shard.bytes, shard.checksum,
                                     shard.stageVersion, Date().timeIntervalSince1970])
            }
        }
    }

    /// Records the av_sync scores of one item (its segments and the item, all under one
    /// checkpoint and output key), replacing earlier ones of that checkpoint and key.
    public func recordSyncScores(_ scores: [SyncScoreRecord]) throws {
        try guarded {
            try db.write { db in
                for r in scores {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO sync_scores(checkpoint, item_id, key, segment, windows, best_offset, confidence,
                            distance, stage_version, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [r.checkpoint, r.item, r.key, r.segment, r.windows, r.offset, r.confidence, r.distance,
                                         r.stageVersion, Date().timeIntervalSince1970])
                }
            }
        }
    }

    /// Replaces every av_sync decision by `decisions` (none: readers see the rows as stored).
    public func replaceSyncCuration(_ decisions: [SyncCuration]) throws {
        try guarded {
            try db.write { db in
                try db.execute(sql: "DELETE FROM sync_curation")
                for c in decisions {
                    try db.execute(sql: """
                        INSERT INTO sync_curation(item_id, key, checkpoint, best_offset, confidence, windows, shift, excluded, action)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [c.item, c.key, c.checkpoint, c.offset, c.confidence, c.windows, c.shift, c.excluded, c.action])
                }
            }
        }
    }

    /// Records an item that cannot be processed (at `failedStage`) with its one-line reason;
    /// `cause`, `version` and `timeLimit` say when it is worth retrying (see `QuarantineCause`).
    public func recordQuarantine(_ processed: ProcessedItem, failedStage: String, reason: String,
                                 cause: QuarantineCause = .input, version: String = "", timeLimit: Double = 0) throws {
        try guarded {
            try db.write { db in
                try upsertItem(db, processed.item, processed.fingerprint, state: "quarantined", error: reason,
                               key: processed.stageKeys.last!.key, videoDamage: processed.videoDamage,
                               audioDamage: processed.audioDamage, quarantine: (cause, version, timeLimit))
                try recordStages(db, processed.item.id, processed.stageKeys, failedStage: failedStage, error: reason)
            }
        }
    }

    /// Stores a new size/mtime, speaker, split, label or metadata for an item whose content did not change.
    public func touch(_ item: SourceItem, fingerprint: FileFingerprint) throws {
        try guarded {
            try db.write { db in
                try db.execute(sql: "UPDATE items SET size = ?, mtime = ?, speaker = ?, split = ?, label = ?, metadata = ? WHERE id = ?",
                               arguments: [fingerprint.size, fingerprint.mtime, item.speaker, item.split, item.label,
                                           ItemMetadata.json(item.metadata), item.id])
            }
        }
    }

    /// Marks items whose source is gone. Their rows stay in the (immutable) shards.
    public func markRemoved(_ ids: [String]) throws {
        try guarded {
            try db.write { db in
                for id in ids {
                    try db.execute(sql: "UPDATE items SET state = 'removed', error = '', updated = ? WHERE id = ?",
                                   arguments: [Date().timeIntervalSince1970, id])
                }
            }
        }
    }

    private func upsertItem(_ db: Database, _ item: SourceItem, _ fp: FileFingerprint, state: String,
                            error: String, key: String, videoDamage: StreamDamage, audioDamage: StreamDamage,
                            quarantine: (QuarantineCause, String, Double) = (.input, "", 0)) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO items(id, source, size, mtime, fingerprint, speaker, split, label,
                state, error, key, updated, video_packets, video_undecodable, video_first_second_lost,
                audio_packets, audio_undecodable, audio_first_second_lost,
                quarantine_cause, quarantine_version, quarantine_time_limit, metadata)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [item.id, item.source, fp.size, fp.mtime, fp.contentHash, item.speaker, item.split,
                             item.label, state, error, key, Date().timeIntervalSince1970,
                             videoDamage.packets, videoDamage.undecodable, videoDamage.firstSecondLost,
                             audioDamage.packets, audioDamage.undecodable, audioDamage.firstSecondLost,
                             quarantine.0.rawValue, quarantine.1, quarantine.2, ItemMetadata.json(item.metadata)])
    }

    /// One result per stage: done up to `failedStage`, which gets `error`; later stages are not run.
    private func recordStages(_ db: Database, _ id: String, _ keys: [(stage: String, key: String)],
                              failedStage: String?, error: String) throws {
        for (stage, key) in keys {
            let failed = stage == failedStage
            try db.execute(sql: "DELETE FROM stage_results WHERE item_id = ? AND stage = ? AND key = ?",
                           arguments: [id, stage, key])
            try db.execute(sql: "INSERT INTO stage_results(item_id, stage, key, state, error) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, stage, key, failed ? "failed" : "done", failed ? error : ""])
            if failed { break }
        }
    }

    // MARK: Merging

    /// Copies every item, stage result, shard, row, lip-unit shard, av_sync score and decision,
    /// and active-speaker score of `other` into this ledger. An item known to both keeps the most recently updated record. Shard files must be
    /// copied by the caller (`mergeOutputs`).
    public func merge(from other: Ledger) throws {
        try guarded {
            try db.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS other", arguments: [other.path])
                defer { try? db.execute(sql: "DETACH DATABASE other") }
                try db.inTransaction {
                    try db.execute(sql: """
                    INSERT OR IGNORE INTO shards SELECT * FROM other.shards;
                    DELETE FROM items WHERE id IN (SELECT o.id FROM other.items o JOIN items m ON m.id = o.id
                                                   WHERE o.updated > m.updated);
                    INSERT OR IGNORE INTO items SELECT * FROM other.items;
                    INSERT OR REPLACE INTO stage_results SELECT * FROM other.stage_results;
                    INSERT INTO item_rows SELECT * FROM other.item_rows o WHERE NOT EXISTS (
                        SELECT 1 FROM item_rows m WHERE m.item_id = o.item_id AND m.key = o.key
                        AND m.segment = o.segment AND m.shard_file = o.shard_file);
                    INSERT OR IGNORE INTO lip_unit_shards SELECT * FROM other.lip_unit_shards;
                    INSERT OR IGNORE INTO sync_scores SELECT * FROM other.sync_scores;
                    INSERT OR REPLACE INTO sync_curation SELECT * FROM other.sync_curation;
                    INSERT OR IGNORE INTO speaker_scores SELECT * FROM other.speaker_scores;
                    """)
                    return .commit
                }
            }
        }
    }
}
