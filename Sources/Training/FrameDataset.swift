import Common
import Foundation
import Shards

/// The processed clips of a dataset folder (`<data>/shards/shard-*.h5`, written by
/// `cals preprocess`), with their speakers: what every trainer samples from. When an item was
/// re-processed into a newer shard (shard names sort by run time), the newest copy is used.
public final class FrameDataset {
    /// One segment of one shard (a clip, or a shot of it).
    public struct Clip {
        public let reader: ShardReader
        public let item: ShardItem
        public var rowCount: Int { item.rowCount }
    }

    public let folder: String
    /// Clips sorted by item id.
    public let clips: [Clip]
    /// Distinct speakers, sorted.
    public let speakers: [String]

    public init(folder: String) throws {
        let shardFolder = (folder as NSString).appendingPathComponent("shards")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: shardFolder) else {
            throw InputError(folder, "no shards folder (run `cals preprocess` first)")
        }
        var newest: [String: Clip] = [:]
        for name in names.sorted() where name.hasPrefix("shard-") && name.hasSuffix(".h5") {
            let reader = try ShardReader(path: (shardFolder as NSString).appendingPathComponent(name))
            for item in reader.items { newest[item.id] = Clip(reader: reader, item: item) }
        }
        guard !newest.isEmpty else { throw InputError(shardFolder, "no frame shards with items (run `cals preprocess` first)") }
        self.folder = folder
        clips = newest.values.sorted { $0.item.id < $1.item.id }
        speakers = Array(Set(clips.map(\.item.speaker))).sorted()
    }

    /// The clip with item id `id`.
    public func clip(id: String) throws -> Clip {
        guard let clip = clips.first(where: { $0.item.id == id }) else {
            throw InputError(folder, "no item '\(id)' in the shards (ids look like '\(clips[0].item.id)')")
        }
        return clip
    }
}

extension FrameDataset.Clip {
    /// Frames [n, 128, 128, 3] and audio units [n, 80, 4] of rows `rows` (counted within the clip).
    public func rows(_ rows: Range<Int>) throws -> (frames: [UInt8], mel: [Float]) {
        let w = try reader.window(item, offset: rows.lowerBound, length: rows.count)
        return (w.frames, w.mel)
    }

    /// The audio of window `rows` (counted within the clip) with up to `context` units on each side.
    public func audio(for rows: Range<Int>, context: Int) throws -> WindowAudio {
        let span = WindowAudio.span(around: rows, context: context, within: rowCount)
        return WindowAudio(mel: try reader.mel(rows: (item.firstRow + span.lowerBound)..<(item.firstRow + span.upperBound)),
                           span: span, window: rows)
    }
}
