import Common
import Foundation
import Models
import Shards
import Yams

/// `av_sync` (optional, after `shard`): audio-video sync curation. For every current item it
/// measures, from a sync encoder checkpoint, the best audio offset within ±15 frames and its
/// confidence, per segment and for the item (its segments' windows pooled): the `cals
/// sync-score` computation (`OffsetSimilarities`, LSE-D / LSE-C style, our encoder's scale).
/// Offset k: the audio of video frame t is at t + k (k frames late). Scores are recorded in the
/// ledger under the checkpoint's content hash and the item's output key, so a re-run with the
/// same checkpoint scores only new or changed items and a new checkpoint scores everything again.
///
/// Then every current item gets a decision (`SyncCuration`, recorded in the ledger, read by
/// `Dataset.ProcessedDataset`): an item below `min_confidence` or beyond ±`max_offset` is
/// dropped with that reason (the offset cannot be trusted or is too far); otherwise a non-zero
/// offset is, by `action`, shifted (readers take the audio units k rows later, losing |k| rows
/// at the edges) or dropped; `keep` only records. The shard rows are never changed, so a
/// decision is undone by the next run with other parameters, or without the stage.
public struct AVSyncStage: RowStage {
    public static let name = "av_sync"
    public static let version = 1

    /// What to do with an item whose audio is out of sync.
    public enum Action: String, CaseIterable, Sendable {
        case shift, drop, keep
    }

    public struct Parameters: Codable, Equatable, Sendable, DefaultConstructible {
        /// Sync encoder checkpoint (`cals train sync`), relative to the working directory.
        public var checkpoint = ""
        /// Items whose confidence (median − minimum of the mean distances over the offsets) is
        /// lower are dropped: their best offset is not told apart from the others.
        public var minConfidence = 0.1
        /// Items whose best offset is farther than this many frames are dropped.
        public var maxOffset = 6
        /// `shift`, `drop` or `keep` (see `Action`).
        public var action = Action.shift.rawValue
        public init() {}

        /// What is wrong with these parameters, or nil.
        var problem: String? {
            if Action(rawValue: action) == nil {
                return "'action' is '\(action)', not one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            if !(0...AVSyncStage.searchRange).contains(maxOffset) { return "'max_offset' must be 0…\(AVSyncStage.searchRange), got \(maxOffset)" }
            if !(minConfidence >= 0) { return "'min_confidence' must be ≥ 0, got \(minConfidence)" }
            return nil
        }
    }

    public let parameters: Parameters
    public init(parameters: Parameters = Parameters()) { self.parameters = parameters }
    public var checkpoint: String { parameters.checkpoint }

    /// Offsets searched, ±frames (as `cals sync-score`).
    public static let searchRange = 15
    /// Rows scored at a time (a block's crops take 49 KB a row), so memory stays flat on long segments.
    static let blockRows = 500
    /// The segment number of an item's pooled score in `sync_scores`.
    public static let wholeItem = -1

    public static func read(_ node: Node?, file: String, context: String) throws -> AVSyncStage {
        let stage = AVSyncStage(parameters: try decodeParameters(Parameters.self, from: node, file: file, context: context))
        if let problem = stage.parameters.problem { throw ManifestError(file, YAMLMapping.line(node), "\(context): \(problem)") }
        return stage
    }

    /// Scores the current items the ledger has no score of under this checkpoint, then decides
    /// for every current item; `written`: the ids of the items scored.
    public func run(outFolder: String, ledger: Ledger, say: (String) -> Void) throws -> RowStageResult {
        guard !checkpoint.isEmpty else { throw InputError(Self.name, "parameter 'checkpoint' is required") }
        if let problem = parameters.problem { throw InputError(Self.name, problem) }
        let hash = try fileChecksum(checkpoint)
        let items = try ledger.items().values.filter { $0.state == "done" }.sorted { $0.id < $1.id }
        let rows = Dictionary(grouping: try ledger.currentRows(), by: \.item)
        var scores = Dictionary(grouping: try ledger.syncScores(checkpoint: hash).filter { $0.stageVersion == Self.version },
                                by: { "\($0.item)|\($0.key)" })
        let shards = (outFolder as NSString).appendingPathComponent("shards")
        var model: SyncEncoder?
        var readers: [String: ShardReader] = [:]
        var scored: [String] = []
        for item in items {
            guard let segments = rows[item.id], scores["\(item.id)|\(item.key)"]?.contains(where: { $0.segment == Self.wholeItem }) != true
            else { continue }
            if model == nil { model = try SyncEncoder.load(checkpoint: checkpoint) }
            var records: [SyncScoreRecord] = []
            var parts: [(meanDistances: [Float], windows: Int)] = []
            for segment in segments {
                if readers[segment.shard] == nil {
                    readers[segment.shard] = try ShardReader(path: (shards as NSString).appendingPathComponent(segment.shard))
                }
                let part = try Self.meanDistances(model!, readers[segment.shard]!,
                                                  rows: segment.firstRow..<(segment.firstRow + segment.rowCount),
                                                  source: "\(item.id)#\(segment.segment)")
                parts.append(part)
                records.append(record(hash, item, segment.segment, part))
            }
            let pooled = SyncScore.pooled(parts)?.meanDistances ?? []
            let whole = record(hash, item, Self.wholeItem, (pooled, parts.reduce(0) { $0 + $1.windows }))
            records.append(whole)
            try ledger.recordSyncScores(records)
            scores["\(item.id)|\(item.key)"] = records
            scored.append(item.id)
            say(whole.windows == 0 ? "av_sync: \(item.id): too short to score (segments need \(Self.minimumRows) rows)"
                : String(format: "av_sync: %@: offset %+d, confidence %.4f (%d windows)", item.id, whole.offset, whole.confidence, whole.windows))
        }
        let decisions = items.compactMap { item in
            scores["\(item.id)|\(item.key)"]?.first { $0.segment == Self.wholeItem }.map(decision)
        }
        try ledger.replaceSyncCuration(decisions)
        return RowStageResult(stage: Self.name, written: scored, line: "av_sync: scored \(scored.count) item(s) with checkpoint \(hash); "
                              + Self.tally(decisions))
    }

    /// Rows a segment needs to be scored (windows with ±15 frames of audio around them).
    static var minimumRows: Int { OffsetSimilarities.minimumFrames(maxOffset: searchRange) }

    /// Mean distances at offsets −15…15 over every scorable window of shard rows `rows`, scored
    /// block by block, and the number of windows (0 and no distances when the rows are too few).
    static func meanDistances(_ model: SyncEncoder, _ reader: ShardReader, rows: Range<Int>,
                              source: String) throws -> (meanDistances: [Float], windows: Int) {
        guard rows.count >= minimumRows else { return ([], 0) }
        // Consecutive blocks overlap by the 2M + 4 rows around their windows, so every window
        // centre is scored exactly once.
        let overlap = minimumRows - 1
        var parts: [(meanDistances: [Float], windows: Int)] = []
        var start = rows.lowerBound
        while true {
            let end = min(start + blockRows, rows.upperBound)
            let block = try OffsetSimilarities(model: model, frames: try reader.frames(rows: start..<end),
                                               mel: try reader.mel(rows: start..<end), maxOffset: searchRange, source: source)
            parts.append((block.score.meanDistances, block.centres.count))
            if end == rows.upperBound { break }
            start = end - overlap
        }
        // Every block has windows, so the pool exists.
        return (SyncScore.pooled(parts)!.meanDistances, parts.reduce(0) { $0 + $1.windows })
    }

    private func record(_ checkpoint: String, _ item: LedgerItem, _ segment: Int,
                        _ part: (meanDistances: [Float], windows: Int)) -> SyncScoreRecord {
        let score = part.windows > 0 ? SyncScore(meanDistances: part.meanDistances) : nil
        return SyncScoreRecord(checkpoint: checkpoint, item: item.id, key: item.key, segment: segment, windows: part.windows,
                               offset: score?.offset ?? 0, confidence: Double(score?.confidence ?? 0),
                               distance: Double(score?.distance ?? 0), stageVersion: Self.version)
    }

    /// What readers do with the item scored `whole` (see the type's comment).
    func decision(_ whole: SyncScoreRecord) -> SyncCuration {
        let action = Action(rawValue: parameters.action) ?? .keep   // checked in `run`
        var shift = 0, excluded = ""
        if whole.windows > 0 {
            let problem: String?
            if whole.confidence < parameters.minConfidence {
                problem = String(format: "sync confidence %.4f below min_confidence %g (offset %+d)", whole.confidence,
                                 parameters.minConfidence, whole.offset)
            } else if abs(whole.offset) > parameters.maxOffset {
                problem = String(format: "audio offset %+d frames beyond max_offset %d", whole.offset, parameters.maxOffset)
            } else {
                problem = nil
            }
            switch action {
            case .keep: break
            case .shift: if let problem { excluded = problem } else { shift = whole.offset }
            case .drop:
                if let problem { excluded = problem } else if whole.offset != 0 {
                    excluded = String(format: "audio offset %+d frames", whole.offset)
                }
            }
        }
        return SyncCuration(item: whole.item, key: whole.key, checkpoint: whole.checkpoint, offset: whole.offset,
                            confidence: whole.confidence, windows: whole.windows, shift: shift, excluded: excluded,
                            action: action.rawValue)
    }

    /// "N items: shifted a, dropped b, as stored c (d too short to score)".
    static func tally(_ decisions: [SyncCuration]) -> String {
        let shifted = decisions.filter { $0.shift != 0 }.count, dropped = decisions.filter { !$0.excluded.isEmpty }.count
        let unscored = decisions.filter { $0.windows == 0 }.count
        return "\(decisions.count) item(s): shifted \(shifted), dropped \(dropped), as stored \(decisions.count - shifted - dropped)"
            + (unscored > 0 ? " (\(unscored) too short to score)" : "")
    }

    /// A run without the stage withdraws its decisions: readers see the rows as stored. The
    /// scores stay (a later run with the same checkpoint decides again without scoring).
    public static func withdraw(outFolder: String, ledger: Ledger, say: (String) -> Void) throws {
        let decisions = try ledger.syncCuration()
        guard !decisions.isEmpty else { return }
        try ledger.replaceSyncCuration([])
        say("av_sync: not in the manifest; its \(decisions.count) decision(s) withdrawn (readers see the rows as stored)")
    }

    /// The decisions (action, tally), the histogram of the items' offsets, the distribution of
    /// their confidence, and each dropped item with its reason.
    public static func statusLines(outFolder: String, ledger: Ledger) throws -> [String] {
        let decisions = try ledger.syncCuration().values.sorted { $0.item < $1.item }
        guard let first = decisions.first else { return ["av_sync: none"] }
        let checkpoints = Set(decisions.map(\.checkpoint)).sorted().joined(separator: ", ")
        var lines = ["av_sync: checkpoint \(checkpoints), action \(first.action): " + tally(decisions)]
        let scored = decisions.filter { $0.windows > 0 }
        if !scored.isEmpty {
            let histogram = Dictionary(grouping: scored, by: \.offset).sorted { $0.key < $1.key }
            lines.append("  offsets (frames: items): " + histogram.map { String(format: "%+d: %d", $0.key, $0.value.count) }
                .joined(separator: "  "))
            let c = scored.map(\.confidence).sorted()
            let at = { (q: Double) in c[min(c.count - 1, Int(q * Double(c.count - 1) + 0.5))] }
            lines.append(String(format: "  confidence: min %.4f  10%% %.4f  median %.4f  90%% %.4f  max %.4f",
                                c[0], at(0.1), at(0.5), at(0.9), c[c.count - 1]))
        }
        for d in decisions where !d.excluded.isEmpty { lines.append("  dropped \(d.item): \(d.excluded)") }
        return lines
    }
}
