import Common
import Foundation
import Shards

/// What A2L trains on: the current clips of a `ProcessedDataset` paired with the lip units one
/// sync encoder checkpoint gave their frame shards, as the ledger records them (the lip_units
/// stage's `lip_unit_shards`, stored at `<out>/lip_units/<checkpoint hash>/<frame shard name>`).
/// Only audio units and lip units are read, window by window.
public final class A2LDataset {
    public struct Clip {
        public let frames: ProcessedDataset.Clip
        public let units: LipUnitReader
        public var id: String { frames.id }
        public var speaker: String { frames.speaker }
        public var split: String { frames.split }
        public var rowCount: Int { frames.rowCount }

        /// Audio units [n, 320] (80 mel × 4) and lip units [n, 1024] of rows `rows` of the clip.
        public func window(_ rows: Range<Int>) throws -> (audio: [Float], units: [Float]) {
            let first = frames.segment.firstRow
            return (try frames.mel(rows), try units.units(rows: (first + rows.lowerBound)..<(first + rows.upperBound)))
        }
    }

    public let folder: String
    /// Content hash of the sync encoder checkpoint whose units these are.
    public let unitsCheckpoint: String
    public let clips: [Clip]
    public let speakers: [String]

    static let howToMakeUnits = "add `- lip_units: {checkpoint: <sync run>/checkpoint.safetensors}` after `shard` in the "
        + "manifest and re-run `cals preprocess` (the lip_units stage; the checkpoint comes from `cals train sync`)"

    /// `unitsCheckpoint`: the hash of the sync checkpoint whose units to use (required when the
    /// ledger records units of several checkpoints; a model's recorded hash when evaluating it).
    public init(folder: String, unitsCheckpoint: String? = nil) throws {
        let frames = try ProcessedDataset(outFolder: folder)
        let records = try LedgerReader(outFolder: folder).lipUnitShards()
        let unitRoot = (folder as NSString).appendingPathComponent("lip_units")
        let available = Array(Set(records.map(\.checkpoint))).sorted()
        guard !available.isEmpty else {
            throw InputError(folder, "no lip-unit shards in the ledger (\(unitRoot)/<sync checkpoint hash>/); to make them, \(Self.howToMakeUnits)")
        }
        let hash: String
        if let unitsCheckpoint {
            guard available.contains(unitsCheckpoint) else {
                throw InputError(unitRoot, "no lip units from sync checkpoint \(unitsCheckpoint) (the one required here); "
                                 + "found units of \(available.joined(separator: ", ")). To make them, \(Self.howToMakeUnits)")
            }
            hash = unitsCheckpoint
        } else {
            guard available.count == 1 else {
                throw InputError(unitRoot, "lip units of several sync checkpoints (\(available.joined(separator: ", "))): "
                                 + "choose one with --sync-checkpoint")
            }
            hash = available[0]
        }
        let recorded = Dictionary(uniqueKeysWithValues: records.filter { $0.checkpoint == hash }.map { ($0.file, $0) })
        let unitFolder = (unitRoot as NSString).appendingPathComponent(hash)
        var readers: [String: LipUnitReader] = [:]
        clips = try frames.clips.map { clip in
            let name = clip.shard
            if readers[name] == nil {
                let path = (unitFolder as NSString).appendingPathComponent(name)
                guard let record = recorded[name] else {
                    throw InputError(path, "not in the ledger: frame shard \(name) has no lip units from sync checkpoint \(hash); "
                                     + "re-run `cals preprocess` with the lip_units stage")
                }
                let reader = try LipUnitReader(path: path)
                guard reader.checkpoint == hash, reader.frameShard == name, reader.rowCount == record.rows,
                      reader.rowCount == clip.reader.rowCount else {
                    throw InputError(path, "units of checkpoint \(reader.checkpoint) for \(reader.frameShard) (\(reader.rowCount) rows) "
                                     + "do not belong to frame shard \(name) (\(clip.reader.rowCount) rows, \(record.rows) recorded) "
                                     + "under checkpoint \(hash)")
                }
                readers[name] = reader
            }
            return Clip(frames: clip, units: readers[name]!)
        }
        self.folder = folder
        self.unitsCheckpoint = hash
        speakers = frames.speakers
    }

    /// Clips of `speakers` (and `split`, when given) with at least `minRows` rows; throws when
    /// there are none.
    public func clips(of speakers: [String], split: String? = nil, minRows: Int, role: String) throws -> [Clip] {
        let chosen = clips.filter { speakers.contains($0.speaker) && (split == nil || $0.split == split) }
        let long = chosen.filter { $0.rowCount >= minRows }
        guard !long.isEmpty else {
            let longest = chosen.map(\.rowCount).max() ?? 0
            throw InputError(folder, "no \(role) segment (speakers \(speakers.joined(separator: ","))\(split.map { ", split \($0)" } ?? "")) has the \(minRows) frames "
                             + "a window needs (longest: \(longest)); use a smaller --frames")
        }
        return long
    }
}
