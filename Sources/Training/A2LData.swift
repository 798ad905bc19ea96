import Common
import Foundation
import Shards
import Tensor

/// What A2L trains on: the clips of a `FrameDataset` paired with their lip-unit shards from one
/// sync encoder checkpoint (`<data>/lip_units/<checkpoint hash>/<frame shard name>`, written by
/// the `lip_units` stage). Only audio units and lip units are read, window by window.
public final class A2LDataset {
    public struct Clip {
        public let frames: FrameDataset.Clip
        public let units: LipUnitReader
        public var item: ShardItem { frames.item }
        public var rowCount: Int { frames.rowCount }

        /// Audio units [n, 320] (80 mel × 4) and lip units [n, 1024] of rows `rows` of the clip.
        public func window(_ rows: Range<Int>) throws -> (audio: [Float], units: [Float]) {
            let r = (item.firstRow + rows.lowerBound)..<(item.firstRow + rows.upperBound)
            return (try frames.reader.mel(rows: r), try units.units(rows: r))
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
    /// folder holds units of several checkpoints; a model's recorded hash when evaluating it).
    public init(folder: String, unitsCheckpoint: String? = nil) throws {
        let frames = try FrameDataset(folder: folder)
        let unitRoot = (folder as NSString).appendingPathComponent("lip_units")
        let available = ((try? FileManager.default.contentsOfDirectory(atPath: unitRoot)) ?? []).filter { name in
            ((try? FileManager.default.contentsOfDirectory(atPath: (unitRoot as NSString).appendingPathComponent(name))) ?? [])
                .contains { $0.hasPrefix("shard-") && $0.hasSuffix(".h5") }
        }.sorted()
        guard !available.isEmpty else {
            throw InputError(folder, "no lip-unit shards (\(unitRoot)/<sync checkpoint hash>/); to make them, \(Self.howToMakeUnits)")
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
        let unitFolder = (unitRoot as NSString).appendingPathComponent(hash)
        var readers: [String: LipUnitReader] = [:]
        clips = try frames.clips.map { clip in
            let name = (clip.reader.path as NSString).lastPathComponent
            if readers[name] == nil {
                let path = (unitFolder as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: path) else {
                    throw InputError(path, "missing: frame shard \(name) has no lip units from sync checkpoint \(hash); "
                                     + "re-run `cals preprocess` with the lip_units stage")
                }
                let reader = try LipUnitReader(path: path)
                guard reader.checkpoint == hash, reader.frameShard == name, reader.rowCount == clip.reader.rowCount else {
                    throw InputError(path, "units of checkpoint \(reader.checkpoint) for \(reader.frameShard) (\(reader.rowCount) rows) "
                                     + "do not belong to frame shard \(name) (\(clip.reader.rowCount) rows) under checkpoint \(hash)")
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
        let chosen = clips.filter { speakers.contains($0.item.speaker) && (split == nil || $0.item.split == split) }
        let long = chosen.filter { $0.rowCount >= minRows }
        guard !long.isEmpty else {
            let longest = chosen.map(\.rowCount).max() ?? 0
            throw InputError(folder, "no \(role) segment (speakers \(speakers.joined(separator: ","))\(split.map { ", split \($0)" } ?? "")) has the \(minRows) frames "
                             + "a window needs (longest: \(longest)); use a smaller --frames")
        }
        return long
    }
}

/// A batch of A2L windows: input audio units [B, T, 320] with some steps zeroed, true lip
/// units [B, T, 1024], mask [B, T] of the steps scored (1 = scored). In training the zeroed and
/// the scored steps are the same masked spans.
public struct A2LBatch {
    public var input: Tensor
    public var target: Tensor
    public var mask: Tensor

    /// Stacks windows (audio [T·320], units [T·1024]); steps with `zeroed[s] != 0` get zero
    /// audio; `scored` [T] becomes the mask.
    public init(_ windows: [(audio: [Float], units: [Float], zeroed: [Float], scored: [Float])], frames t: Int) {
        let b = windows.count, a = ShardFormat.melUnitSize, u = ShardFormat.lipUnitSize
        input = Tensor(shape: [b, t, a]); target = Tensor(shape: [b, t, u]); mask = Tensor(shape: [b, t])
        let I = input.data, Y = target.data, M = mask.data
        for (i, w) in windows.enumerated() {
            w.audio.withUnsafeBufferPointer { src in
                for s in 0..<t {
                    let dst = I + (i * t + s) * a
                    if w.zeroed[s] != 0 { dst.update(repeating: 0, count: a) } else { dst.update(from: src.baseAddress! + s * a, count: a) }
                }
            }
            w.units.withUnsafeBufferPointer { (Y + i * t * u).update(from: $0.baseAddress!, count: t * u) }
            w.scored.withUnsafeBufferPointer { (M + i * t).update(from: $0.baseAddress!, count: t) }
        }
    }
}
