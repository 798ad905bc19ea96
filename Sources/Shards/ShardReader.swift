import Common
import Foundation

/// T consecutive rows of one item: frames [T, 128, 128, 3] uint8 and mel [T, 80, 4] float32.
public struct ShardWindow: Sendable {
    public let item: ShardItem
    /// First row of the window, counted from the item's first row.
    public let offset: Int
    public let length: Int
    public let frames: [UInt8]
    public let mel: [Float]
}

/// Opens a frame shard, checks it and serves windows of rows. Every problem with the file —
/// not HDF5, truncated, foreign, another format version, inconsistent tables — is an
/// `InputError(path, reason)`. HDF5's chunk cache (sized by `cacheBytes`) keeps recently read
/// frame chunks, so overlapping or nearby random windows cost little. Thread-safe (all HDF5
/// calls are serialised).
/// @unchecked Sendable: only `let`s, and every HDF5 call on its datasets goes through `HDF5.locked`.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    public let parameters: String
    public let creator: String
    /// Segments in row order.
    public let items: [ShardItem]
    public let rowCount: Int
    /// The file's `format_version` (1 or 2).
    public let formatVersion: Int
    private let frames: HDF5Dataset
    private let mel: HDF5Dataset
    /// `frame_index` (nil in version 1 files).
    private let frameIndex: HDF5Dataset?

    /// - Parameter cacheBytes: chunk cache for `frames` (a frame chunk is ≤ 48 KiB).
    public init(path: String, cacheBytes: Int = 16 << 20) throws {
        self.path = path
        let (file, version) = try openChecked(path, ShardFormat.shardFormat)
        formatVersion = version
        (parameters, creator, frames, mel, frameIndex, rowCount, items) = try reportingDamage(path, "unreadable shard") {
            let frames = try checkedDataset(file, "frames", .uint8, [ShardFormat.frameSize, ShardFormat.frameSize, 3],
                                            cacheBytes: cacheBytes)
            let mel = try checkedDataset(file, "mel", .float32, [ShardFormat.melBins, ShardFormat.melFramesPerUnit])
            guard mel.rowCount == frames.rowCount else {
                throw InputError(path, "\(frames.rowCount) frames but \(mel.rowCount) mel rows")
            }
            var frameIndex: HDF5Dataset?
            if version >= 2 {
                let index = try checkedDataset(file, "frame_index", .int64, [])
                guard index.rowCount == frames.rowCount else {
                    throw InputError(path, "\(frames.rowCount) frames but \(index.rowCount) frame indices")
                }
                frameIndex = index
            }
            return (try stringAttribute(file, "parameters"), try stringAttribute(file, "creator"), frames, mel,
                    frameIndex, frames.rowCount, try Self.readItems(file, rowCount: frames.rowCount, version: version))
        }
    }

    private static func readItems(_ file: HDF5File, rowCount: Int, version: Int) throws -> [ShardItem] {
        let path = file.path
        let columns = try ShardItem.stringFields.map { name -> [String] in
            let column = try checkedDataset(file, "items/\(name)", .string, [])
            return try column.readStrings(rows: 0..<column.rowCount)
        }
        let first: [Int64] = try checkedDataset(file, "items/first_row", .int64, []).read(rows: 0..<columns[0].count)
        let count: [Int64] = try checkedDataset(file, "items/row_count", .int64, []).read(rows: 0..<columns[0].count)
        // Damage columns (version 2): damage[field][item].
        let damage: [[Int64]] = version >= 2
            ? try ShardItem.damageFields.map { try checkedDataset(file, "items/\($0)", .int64, []).read(rows: 0..<columns[0].count) }
            : []
        guard columns.allSatisfy({ $0.count == columns[0].count }) else {
            throw InputError(path, "items table columns differ in length")
        }
        var items: [ShardItem] = []
        var end = 0
        for i in 0..<columns[0].count {
            var item = ShardItem(id: columns[0][i], source: columns[1][i], fingerprint: columns[2][i],
                                 speaker: columns[3][i], split: columns[4][i],
                                 firstRow: Int(clamping: first[i]), rowCount: Int(clamping: count[i]))
            if !damage.isEmpty { (item.videoDamage, item.audioDamage) = ShardItem.damage(damage.map { $0[i] }) }
            guard item.firstRow == end, item.rowCount > 0 else {
                throw InputError(path, "item \(item.id) rows \(item.firstRow)+\(item.rowCount) do not follow row \(end)")
            }
            end += item.rowCount
            items.append(item)
        }
        guard end == rowCount else { throw InputError(path, "items cover \(end) rows but the shard has \(rowCount)") }
        return items
    }

    /// The item with `id`, if the shard has it.
    public func item(id: String) -> ShardItem? { items.first { $0.id == id } }

    /// Rows `offset ..< offset + length` of `item`; with `audioShift` k the audio units of rows
    /// `offset + k ..< offset + k + length` beside them (audio that is k frames late, re-aligned).
    public func window(_ item: ShardItem, offset: Int, length: Int, audioShift: Int = 0) throws -> ShardWindow {
        guard offset >= 0, length > 0, offset + length <= item.rowCount,
              offset + audioShift >= 0, offset + audioShift + length <= item.rowCount else {
            throw InputError(path, "window \(offset)+\(length) (audio shifted by \(audioShift)) outside item \(item.id) of \(item.rowCount) rows")
        }
        let rows = (item.firstRow + offset)..<(item.firstRow + offset + length)
        return ShardWindow(item: item, offset: offset, length: length, frames: try frames(rows: rows),
                           mel: try mel(rows: (rows.lowerBound + audioShift)..<(rows.upperBound + audioShift)))
    }

    /// Frames of shard rows `rows`: [rows.count, 128, 128, 3].
    public func frames(rows: Range<Int>) throws -> [UInt8] { try read(frames, rows) }

    /// Audio units of shard rows `rows`: [rows.count, 80, 4].
    public func mel(rows: Range<Int>) throws -> [Float] { try read(mel, rows) }

    /// Source frame (25 fps timeline) of shard rows `rows`: [rows.count]; nil for a version 1
    /// file, which does not record it.
    public func frameIndices(rows: Range<Int>) throws -> [Int64]? {
        guard let frameIndex else { return nil }
        return try read(frameIndex, rows) as [Int64]
    }

    private func read<T: HDF5Element>(_ dataset: HDF5Dataset, _ rows: Range<Int>) throws -> [T] {
        try reportingDamage(path, "damaged shard") { try dataset.read(rows: rows) }
    }
}

/// Opens a lip-unit shard: `units` [N, 1024] (float16 files are widened to Float on read).
/// @unchecked Sendable: only `let`s, and every HDF5 call on its datasets goes through `HDF5.locked`.
public final class LipUnitReader: @unchecked Sendable {
    public let path: String
    /// File name of the frame shard the rows belong to.
    public let frameShard: String
    /// Hash of the sync encoder checkpoint that produced the units.
    public let checkpoint: String
    public let rowCount: Int
    private let units: HDF5Dataset

    public init(path: String) throws {
        self.path = path
        let (file, _) = try openChecked(path, ShardFormat.lipUnitFormat)
        (frameShard, checkpoint, units) = try reportingDamage(path, "unreadable lip-unit shard") {
            let units = try file.dataset("units")
            guard units.type == .float32 || units.type == .float16, units.shape.count == 2,
                  units.shape[1] == ShardFormat.lipUnitSize else {
                throw InputError(path, "units is \(units.type) \(units.shape), expected float32/float16 [N, 1024]")
            }
            return (try stringAttribute(file, "frame_shard"), try stringAttribute(file, "checkpoint"), units)
        }
        rowCount = units.rowCount
    }

    /// Units of rows `rows`: [rows.count, 1024].
    public func units(rows: Range<Int>) throws -> [Float] {
        try reportingDamage(path, "damaged lip-unit shard") {
            if units.type == .float16 { return try (units.read(rows: rows) as [Float16]).map { Float($0) } }
            return try units.read(rows: rows)
        }
    }
}

/// Runs `body`, turning HDF5's errors into `InputError(path, "<what>: <HDF5's words>")`.
func reportingDamage<T>(_ path: String, _ what: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as HDF5Error { throw InputError(path, "\(what): \(error.detail)") }
}

/// Opens a file of `format` for reading and checks its format attributes, with plain words
/// for the commonest problems; gives the file and its format version.
func openChecked(_ path: String, _ format: String) throws -> (HDF5File, Int) {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
        throw InputError(path, "no such file")
    }
    guard (attributes[.size] as? NSNumber)?.intValue ?? 0 > 0 else { throw InputError(path, "empty file") }
    return try reportingDamage(path, "unreadable \(format) file") {
        let file = try HDF5File(readingAt: path)
        return (file, try checkFormat(file, format))
    }
}

/// Checks the `format` and `format_version` attributes of a file we are about to read; gives
/// the version (one of `oldestReadableVersion ... version`).
func checkFormat(_ file: HDF5File, _ format: String) throws -> Int {
    guard case .string(let found)? = try file.attribute("format"), found == format else {
        throw InputError(file.path, "not a \(format) file (no matching 'format' attribute)")
    }
    guard case .int(let version)? = try file.attribute("format_version") else {
        throw InputError(file.path, "no format_version attribute")
    }
    guard (ShardFormat.oldestReadableVersion...ShardFormat.version).contains(version) else {
        throw InputError(file.path, "\(format) format version \(version); this cals reads versions "
                         + "\(ShardFormat.oldestReadableVersion) to \(ShardFormat.version)")
    }
    return version
}

func stringAttribute(_ file: HDF5File, _ name: String) throws -> String {
    guard case .string(let value)? = try file.attribute(name) else {
        throw InputError(file.path, "missing string attribute '\(name)'")
    }
    return value
}

/// Opens `name` and checks its element type and the dimensions after the first.
func checkedDataset(_ file: HDF5File, _ name: String, _ type: HDF5ElementType, _ rowShape: [Int],
                    cacheBytes: Int? = nil) throws -> HDF5Dataset {
    guard file.contains(name) else { throw InputError(file.path, "no dataset '\(name)'") }
    let dataset = try file.dataset(name, chunkCacheBytes: cacheBytes)
    guard dataset.type == type, Array(dataset.shape.dropFirst()) == rowShape else {
        throw InputError(file.path, "dataset '\(name)' is \(dataset.type) \(dataset.shape), expected \(type) [N"
                         + rowShape.map { ", \($0)" }.joined() + "]")
    }
    return dataset
}
