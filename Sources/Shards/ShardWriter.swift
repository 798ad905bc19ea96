import Common
import Foundation

/// Writes one pipeline frame shard (SPEC §2, layout in `ShardFormat`), item by item, streaming.
/// The file appears under `path` only when `finish()` succeeds; a writer dropped before that
/// leaves nothing behind. The caller decides when a shard is full by asking `bytesWritten`.
///
///     let shard = try ShardWriter(path: "shards/hdtf-0001.h5", parameters: json, creator: "cals 0.1.0")
///     try shard.beginItem(ShardItem(id: "WDA_x", source: …, fingerprint: …, speaker: …, split: "train"))
///     for each frame: try shard.append(frame: crop, frameIndex: i)   // i: frame on the 25 fps timeline
///     try shard.append(melUnits: units)         // [rows, 80, 4]
///     try shard.append(boxes: boxes)            // optional, [rows, 4] int32
///     try shard.append(column: "landmarks", rowShape: [68, 2], values: v)   // optional, [rows, 68, 2]
///     try shard.endItem()                       // or discardItem() if the item failed half-way
///     let summary = try shard.finish()
public final class ShardWriter {
    private let output: AtomicOutput
    private var file: HDF5File?
    private var tables: FrameTables?
    private var items: [ShardItem] = []
    private var current: ShardItem?

    /// - Parameters:
    ///   - parameters: JSON of the stage parameters that produced the rows (attribute `parameters`).
    ///   - creator: the program and version writing the file (attribute `creator`).
    public init(path: String, parameters: String, creator: String,
                deflateLevel: Int = ShardFormat.defaultDeflateLevel) throws {
        output = try AtomicOutput(path: path)
        let file = try createOutput(output, format: ShardFormat.shardFormat, creator: creator)
        try file.setAttribute("parameters", .string(parameters))
        tables = try FrameTables(in: file, deflateLevel: deflateLevel)
        self.file = file
    }

    public var path: String { output.path }
    /// Rows of finished items.
    public var rowCount: Int { items.last.map { $0.firstRow + $0.rowCount } ?? 0 }

    /// Approximate size of the file so far (HDF5's view; the last few chunks may still be cached).
    public var bytesWritten: Int { (try? file?.size()) ?? 0 }

    /// Starts the rows of `item` (its `firstRow`/`rowCount` are filled in by `endItem`).
    public func beginItem(_ item: ShardItem) {
        precondition(current == nil, "ShardWriter: beginItem inside item \(current!.id)")
        precondition(tables != nil, "ShardWriter used after finish")
        current = item
    }

    /// Appends one 128×128 RGB frame of the current item and its frame index on the source's
    /// 25 fps timeline.
    public func append(frame: RGBImage, frameIndex: Int) throws {
        precondition(current != nil, "ShardWriter: append outside an item")
        try tables!.append(frame: frame, frameIndex: frameIndex)
    }

    /// Appends audio units [k, 80, 4] of the current item (all at once or in pieces).
    public func append(melUnits: [Float]) throws {
        precondition(current != nil, "ShardWriter: append outside an item")
        try tables!.append(melUnits: melUnits)
    }

    /// Appends face boxes [k, 4] of the current item (x, y, width, height in source pixels) to the
    /// int32 dataset `boxes`, made on the first ones: once a shard has boxes, every item must
    /// give them, like a column.
    public func append(boxes: [Int32]) throws {
        precondition(current != nil, "ShardWriter: append outside an item")
        try tables!.append(boxes: boxes)
    }

    /// Appends rows [k, rowShape...] of the current item to the float32 dataset `name` of shape
    /// [rows, rowShape...], made on its first rows: a per-row column a stage adds. Every item of
    /// the shard must give the column, so that it stays aligned row for row with `frames`.
    public func append(column name: String, rowShape: [Int], values: [Float]) throws {
        precondition(current != nil, "ShardWriter: append outside an item")
        try tables!.append(column: name, rowShape: rowShape, values: values)
    }

    /// Ends the current item: its frames, mel and column rows must match in number.
    @discardableResult
    public func endItem() throws -> ShardItem {
        guard var item = current, let tables else { preconditionFailure("ShardWriter: endItem outside an item") }
        try tables.checkAligned("\(output.path) item \(item.id)")
        item.firstRow = rowCount
        item.rowCount = tables.frames.rowCount - item.firstRow
        guard item.rowCount > 0 else { throw InputError(output.path, "item \(item.id) has no rows") }
        items.append(item)
        current = nil
        return item
    }

    /// Drops the rows of the current item (the shard goes on as if it had never begun).
    public func discardItem() throws {
        precondition(current != nil, "ShardWriter: discardItem outside an item")
        current = nil
        try tables!.truncate(to: rowCount)
    }

    /// Writes the `items` table, closes, syncs and renames the file.
    @discardableResult
    public func finish() throws -> ShardSummary {
        precondition(current == nil, "ShardWriter: finish inside item \(current!.id)")
        guard let file else { preconditionFailure("ShardWriter finished twice") }
        tables = nil
        try writeItems(items, to: file)
        self.file = nil
        return try finishOutput(file, output, rows: rowCount, items: items)
    }

    private func writeItems(_ items: [ShardItem], to file: HDF5File) throws {
        try file.createGroup("items")
        for (index, name) in ShardItem.stringFields.enumerated() {
            let column = try file.createDataset("items/\(name)", type: .string, shape: [items.count])
            try column.write(strings: items.map { $0.strings[index] }, atRow: 0)
        }
        let first = try file.createDataset("items/first_row", type: .int64, shape: [items.count])
        try first.write(items.map { Int64($0.firstRow) }, atRow: 0)
        let count = try file.createDataset("items/row_count", type: .int64, shape: [items.count])
        try count.write(items.map { Int64($0.rowCount) }, atRow: 0)
        for (index, name) in ShardItem.damageFields.enumerated() {
            let column = try file.createDataset("items/\(name)", type: .int64, shape: [items.count])
            try column.write(items.map { $0.damageValues[index] }, atRow: 0)
        }
    }
}

/// Writes one lip-unit shard: 1024-d units aligned row for row with frame shard `frameShard`,
/// produced by the sync encoder checkpoint whose hash is `checkpoint`. Same atomic rules as
/// `ShardWriter`.
public final class LipUnitWriter {
    private let output: AtomicOutput
    private var file: HDF5File?
    private var units: HDF5Dataset?
    private let half: Bool

    /// - Parameters:
    ///   - frameShard: file name of the frame shard these units belong to (attribute `frame_shard`).
    ///   - checkpoint: hash of the sync encoder checkpoint (attribute `checkpoint`).
    ///   - half: store float16 instead of float32.
    public init(path: String, frameShard: String, checkpoint: String, creator: String, half: Bool = false) throws {
        output = try AtomicOutput(path: path)
        let file = try createOutput(output, format: ShardFormat.lipUnitFormat, creator: creator)
        try file.setAttribute("frame_shard", .string(frameShard))
        try file.setAttribute("checkpoint", .string(checkpoint))
        units = try file.createDataset("units", type: half ? .float16 : .float32, shape: [0, ShardFormat.lipUnitSize],
                                       extendable: true, chunk: [ShardFormat.rowChunk, ShardFormat.lipUnitSize])
        self.half = half
        self.file = file
    }

    public var rowCount: Int { units?.rowCount ?? 0 }

    /// Appends units [k, 1024].
    public func append(units values: [Float]) throws {
        guard let units else { preconditionFailure("LipUnitWriter used after finish") }
        precondition(values.count % ShardFormat.lipUnitSize == 0, "lip units must be [k, 1024]")
        if half { try units.append(values.map { Float16($0) }) } else { try units.append(values) }
    }

    @discardableResult
    public func finish() throws -> ShardSummary {
        guard let file, let rows = units?.rowCount else { preconditionFailure("LipUnitWriter finished twice") }
        (units, self.file) = (nil, nil)
        return try finishOutput(file, output, rows: rows, items: [])
    }
}
