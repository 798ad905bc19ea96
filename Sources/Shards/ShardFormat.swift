import Common
import Foundation

/// Names and fixed numbers of our HDF5 files (SPEC §2). Three kinds share the layout rules:
///
/// - extract file (`cals extract`, one video): `frames` uint8 [N,128,128,3] (one frame per chunk,
///   deflate), `mel` float32 [N,80,4], `boxes` int32 [N,4] (x, y, width, height in source pixels),
///   `segment` int32 [N], `frame_index` int64 [N] (the row's frame on the source's 25 fps
///   timeline: time = frame_index / 25 s); attributes `format` = "cals-extract",
///   `format_version`, `creator`, `source`, `fps`, `sample_rate`, `parameters` (JSON), the decode
///   damage `video_packets`, `video_undecodable`, `audio_packets`, `audio_undecodable` (int) and
///   whatever the caller adds.
/// - frame shard (pipeline): `frames`, `mel`, `frame_index` as above, `boxes` as above when the
///   writer was given them (the pipeline's face stage does); group `items` of parallel
///   1-D datasets, one row per segment: `id`, `source`, `fingerprint`, `speaker`, `split` (UTF-8
///   strings), `first_row`, `row_count`, and the item's decode damage `video_packets`,
///   `video_undecodable`, `video_first_second_lost`, `audio_packets`, `audio_undecodable`,
///   `audio_first_second_lost` (int64; the last of each three is 0 or 1); attributes `format` =
///   "cals-shard", `format_version`, `parameters` (JSON of the stage parameters), `creator`.
/// - lip-unit shard: `units` float32 or float16 [N,1024], row r = frame row r of the frame shard
///   named by attribute `frame_shard`; attributes `format` = "cals-lip-units", `format_version`,
///   `checkpoint` (hash of the sync encoder checkpoint), `creator`.
///
/// Versions: 2 added `frame_index` and the damage columns and attributes. Version 1 files (no
/// `frame_index`, no damage) are still read: their frame indices are unknown (nil) and their
/// damage reads as none.
public enum ShardFormat {
    public static let version = 2
    /// The oldest version this cals reads.
    public static let oldestReadableVersion = 1
    public static let extractFormat = "cals-extract"
    public static let shardFormat = "cals-shard"
    public static let lipUnitFormat = "cals-lip-units"

    public static let frameSize = 128
    /// Bytes of one frame row: 128·128·3.
    public static let frameBytes = frameSize * frameSize * 3
    public static let melBins = 80
    public static let melFramesPerUnit = 4
    /// Floats of one mel row (one audio unit): 80·4.
    public static let melUnitSize = melBins * melFramesPerUnit
    public static let lipUnitSize = 1024

    /// The datasets every frame shard or extract file has; a column a stage adds to the rows
    /// (`ShardWriter.append(column:rowShape:values:)`) takes any other name.
    public static let rowDatasets: Set<String> = ["frames", "frame_index", "mel", "boxes", "segment", "items"]

    /// Rows per chunk of the small per-row datasets (mel, boxes, units).
    static let rowChunk = 64
    /// Default zlib level of the frame chunks. On 128×128 face crops levels 1–6 all shrink a
    /// frame to ~82%, and level 1 is the fastest.
    public static let defaultDeflateLevel = 1
}

/// The `frames`, `frame_index`, `mel` and `boxes` datasets of extract files and frame shards,
/// appended row by row.
final class FrameTables {
    let frames: HDF5Dataset
    let frameIndex: HDF5Dataset
    let mel: HDF5Dataset
    /// int32 [N, 4], made on the first boxes appended.
    private(set) var boxes: HDF5Dataset?
    /// Per-row float32 datasets stages added, made on their first rows.
    private(set) var columns: [(name: String, dataset: HDF5Dataset)] = []
    private let file: HDF5File

    init(in file: HDF5File, deflateLevel: Int) throws {
        self.file = file
        let side = ShardFormat.frameSize
        frames = try file.createDataset("frames", type: .uint8, shape: [0, side, side, 3], extendable: true,
                                        chunk: [1, side, side, 3], deflate: deflateLevel)
        mel = try file.createDataset("mel", type: .float32, shape: [0, ShardFormat.melBins, ShardFormat.melFramesPerUnit],
                                     extendable: true, chunk: [ShardFormat.rowChunk, ShardFormat.melBins,
                                                               ShardFormat.melFramesPerUnit])
        frameIndex = try file.createDataset("frame_index", type: .int64, shape: [0], extendable: true,
                                            chunk: [ShardFormat.rowChunk * 16])
    }

    /// Appends one 128×128 RGB frame and its frame index on the source's 25 fps timeline.
    func append(frame: RGBImage, frameIndex index: Int) throws {
        precondition(frame.width == ShardFormat.frameSize && frame.height == ShardFormat.frameSize,
                     "frames must be \(ShardFormat.frameSize)x\(ShardFormat.frameSize), got \(frame.width)x\(frame.height)")
        try frames.append(frame.pixels)
        try frameIndex.append([Int64(index)])
    }

    /// Drops every row from `rows` on.
    func truncate(to rows: Int) throws {
        try frames.setRowCount(rows)
        try frameIndex.setRowCount(rows)
        try mel.setRowCount(rows)
        try boxes?.setRowCount(min(rows, boxes?.rowCount ?? 0))
        for column in columns { try column.dataset.setRowCount(min(rows, column.dataset.rowCount)) }
    }

    /// Appends rows [k, rowShape...] of the float32 column `name` (made on its first rows).
    func append(column name: String, rowShape: [Int], values: [Float]) throws {
        let rowSize = rowShape.reduce(1, *)
        precondition(!ShardFormat.rowDatasets.contains(name) && rowSize > 0 && values.count % rowSize == 0,
                     "column \(name): \(values.count) values are not rows of \(rowShape)")
        if let column = columns.first(where: { $0.name == name }) {
            precondition(Array(column.dataset.shape.dropFirst()) == rowShape, "column \(name): rows of \(rowShape), made with \(column.dataset.shape)")
            try column.dataset.append(values)
            return
        }
        let dataset = try file.createDataset(name, type: .float32, shape: [0] + rowShape,
                                             extendable: true, chunk: [ShardFormat.rowChunk] + rowShape)
        columns.append((name, dataset))
        try dataset.append(values)
    }

    /// Appends face boxes [k, 4] (x, y, width, height in source pixels) for any k.
    func append(boxes values: [Int32]) throws {
        precondition(values.count % 4 == 0, "boxes must be [k, 4]")
        if boxes == nil {
            boxes = try file.createDataset("boxes", type: .int32, shape: [0, 4], extendable: true,
                                           chunk: [ShardFormat.rowChunk * 16, 4])
        }
        try boxes!.append(values)
    }

    /// Appends audio units: [k, 80, 4] floats for any k.
    func append(melUnits: [Float]) throws {
        precondition(melUnits.count % ShardFormat.melUnitSize == 0, "mel units must be [k, 80, 4]")
        try mel.append(melUnits)
    }

    func checkAligned(_ path: String) throws {
        guard frames.rowCount == mel.rowCount else {
            throw InputError(path, "\(frames.rowCount) frames but \(mel.rowCount) mel units")
        }
        if let boxes, boxes.rowCount != frames.rowCount {
            throw InputError(path, "\(frames.rowCount) frames but \(boxes.rowCount) boxes")
        }
        for column in columns where column.dataset.rowCount != frames.rowCount {
            throw InputError(path, "\(frames.rowCount) frames but \(column.dataset.rowCount) rows of \(column.name)")
        }
    }
}

/// What a finished shard writer produced.
public struct ShardSummary: Equatable, Sendable {
    /// Final path of the file.
    public let path: String
    public let rows: Int
    /// Segments in the shard (empty for lip-unit shards).
    public let items: [ShardItem]
    public let bytes: Int
    /// xxHash64 of the file bytes, 16 hex digits (`fileChecksum`).
    public let checksum: String
}

/// One segment in a frame shard: rows `firstRow ..< firstRow + rowCount`.
public struct ShardItem: Equatable, Hashable, Sendable {
    public var id: String
    public var source: String
    public var fingerprint: String
    public var speaker: String
    public var split: String
    public var firstRow: Int
    public var rowCount: Int
    /// The decode damage of the item's video and audio streams (none for version 1 files).
    public var videoDamage: StreamDamage
    public var audioDamage: StreamDamage

    public init(id: String, source: String, fingerprint: String, speaker: String, split: String,
                firstRow: Int = 0, rowCount: Int = 0, videoDamage: StreamDamage = StreamDamage(),
                audioDamage: StreamDamage = StreamDamage()) {
        self.id = id
        self.source = source
        self.fingerprint = fingerprint
        self.speaker = speaker
        self.split = split
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.videoDamage = videoDamage
        self.audioDamage = audioDamage
    }

    public var rows: Range<Int> { firstRow..<(firstRow + rowCount) }

    static let stringFields = ["id", "source", "fingerprint", "speaker", "split"]
    var strings: [String] { [id, source, fingerprint, speaker, split] }

    /// The int64 columns of the `items` table after `first_row` and `row_count` (version 2).
    static let damageFields = ["video_packets", "video_undecodable", "video_first_second_lost",
                               "audio_packets", "audio_undecodable", "audio_first_second_lost"]
    var damageValues: [Int64] {
        [videoDamage, audioDamage].flatMap { [Int64($0.packets), Int64($0.undecodable), $0.firstSecondLost ? 1 : 0] }
    }

    /// The damage of both streams from the six `damageFields` values.
    static func damage(_ values: [Int64]) -> (video: StreamDamage, audio: StreamDamage) {
        func stream(_ v: ArraySlice<Int64>) -> StreamDamage {
            StreamDamage(packets: Int(clamping: v[v.startIndex]), undecodable: Int(clamping: v[v.startIndex + 1]),
                         firstSecondLost: v[v.startIndex + 2] != 0)
        }
        return (stream(values[0..<3]), stream(values[3..<6]))
    }
}

/// Closes a writer's file and gives it its final name: shared end of every writer.
func finishOutput(_ file: HDF5File, _ output: AtomicOutput, rows: Int, items: [ShardItem]) throws -> ShardSummary {
    try file.close()
    let bytes = (try FileManager.default.attributesOfItem(atPath: output.temporaryPath)[.size] as? NSNumber)?.intValue ?? 0
    let checksum = try fileChecksum(output.temporaryPath)
    try output.commit()
    return ShardSummary(path: output.path, rows: rows, items: items, bytes: bytes, checksum: checksum)
}

/// Creates the temporary file of a writer with the attributes every kind of file carries.
func createOutput(_ output: AtomicOutput, format: String, creator: String) throws -> HDF5File {
    let file = try HDF5File(creating: output.temporaryPath)
    try file.setAttribute("format", .string(format))
    try file.setAttribute("format_version", .int(ShardFormat.version))
    try file.setAttribute("creator", .string(creator))
    return file
}
