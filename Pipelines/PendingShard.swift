import Foundation
import Shards

/// The shard a run is filling. Items are appended whole (every segment of an item as one
/// `items` row of the shard); `close()` finishes the file (temporary name, fsync, rename) and
/// returns what the caller must then record in the ledger. Until that record, the rows do not
/// exist: a run killed before it leaves a file the next run deletes.
final class PendingShard {
    let folder: String
    let parameters: String
    let runTag: String
    private var sequence = 0
    private var writer: ShardWriter?
    private var name = ""
    private var items: [ProcessedItem] = []

    init(folder: String, stages: PipelineStages, runTag: String) {
        self.folder = folder
        self.parameters = stages.description
        self.runTag = runTag
    }

    /// Bytes written to the open shard so far (0 when none is open).
    var byteCount: Int { writer?.bytesWritten ?? 0 }

    /// Writes the rows of one item to the open shard (opening one if needed). On an error the
    /// open shard is dropped (its partial file deleted, none of its items recorded): the caller
    /// stops the run, and the next run processes those items again.
    func append(_ item: ProcessedItem, _ output: ItemOutput) throws {
        do { try write(item, output) } catch {
            writer = nil
            items = []
            throw error
        }
    }

    private func write(_ item: ProcessedItem, _ output: ItemOutput) throws {
        if writer == nil {
            name = "\(ShardFiles.prefix)\(runTag)-\(String(format: "%04d", sequence)).h5"
            writer = try ShardWriter(path: (folder as NSString).appendingPathComponent(name),
                                     parameters: parameters, creator: "cals \(calsVersion)")
        }
        let writer = writer!
        var processed = item
        processed.videoDamage = output.videoDamage
        processed.audioDamage = output.audioDamage
        processed.trackScores = output.trackScores
        for range in output.segmentRanges {
            let shardItem = ShardItem(id: "\(item.item.id)#\(range.segment)", source: item.item.source,
                                      fingerprint: item.fingerprint.contentHash, speaker: item.item.speaker,
                                      split: item.item.split, videoDamage: output.videoDamage,
                                      audioDamage: output.audioDamage)
            let written = try ShardStage.write(output, range, shardItem, to: writer)
            processed.rows.append(RowRange(segment: range.segment, firstRow: written.firstRow, rowCount: written.rowCount))
        }
        items.append(processed)
    }

    /// Finishes the open shard; returns its record and the items it holds, or nil if none is open.
    func close() throws -> (ShardRecord, [ProcessedItem])? {
        guard let writer else { return nil }
        let summary = try writer.finish()
        let done = (ShardRecord(file: name, rows: summary.rows, bytes: Int64(summary.bytes), checksum: summary.checksum),
                    items)
        self.writer = nil
        items = []
        sequence += 1
        return done
    }
}

/// The version written into every output file's `creator` attribute.
public let calsVersion = "0.1.0"

extension ItemOutput {
    /// Writes these rows as the single-video file of `cals extract` (frames, mel, boxes,
    /// segment, frame_index, the stages' columns; attributes source, fps, sample rate, parameters, damage), renamed
    /// into place when complete.
    public func writeExtractFile(to path: String, source: String, stages: PipelineStages) throws {
        let writer = try ExtractFileWriter(path: path, source: source, parameters: stages.description,
                                           videoDamage: videoDamage, audioDamage: audioDamage,
                                           creator: "cals \(calsVersion)")
        for row in 0..<rowCount {
            try writer.append(frame: crops.crop(row), box: Array(boxes[row * 4 ..< row * 4 + 4]), segment: Int(segments[row]),
                              frameIndex: Int(frameIndices[row]))
        }
        try writer.append(melUnits: mel)
        for column in columns { try writer.append(column: column.name, rowShape: column.rowShape, values: column.values) }
        try writer.finish()
    }
}
