import Common
import Foundation

/// Names and fixed numbers of our HDF5 files (SPEC §2). Three kinds share the layout rules:
///
/// - extract file (`cals extract`, one video): `frames` uint8 [N,128,128,3] (one frame per chunk,
///   deflate), `mel` float32 [N,80,4], `boxes` int32 [N,4] (x, y, width, height in source pixels),
///   `segment` int32 [N]; attributes `format` = "cals-extract", `format_version`, `creator`,
///   `source`, `fps`, `sample_rate`, `parameters` (JSON) and whatever the caller adds.
/// - frame shard (pipeline): `frames`, `mel` as above; group `items` of parallel 1-D datasets,
///   one row per segment: `id`, `source`, `fingerprint`, `speaker`, `split` (UTF-8 strings),
///   `first_row`, `row_count` (int64); attributes `format` = "cals-shard", `format_version`,
///   `parameters` (JSON of the stage parameters), `creator`.
/// - lip-unit shard: `units` float32 or float16 [N,1024], row r = frame row r of the frame shard
///   named by attribute `frame_shard`; attributes `format` = "cals-lip-units", `format_version`,
///   `checkpoint` (hash of the sync encoder checkpoint), `creator`.
public enum ShardFormat {
    public static let version = 1
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

    /// Rows per chunk of the small per-row datasets (mel, boxes, units).
    static let rowChunk = 64
    /// Default zlib level of the frame chunks (h5py's default for "gzip").
    public static let defaultDeflateLevel = 4
}

/// The `frames` and `mel` datasets of extract files and frame shards, appended row by row.
final class FrameTables {
    let frames: HDF5Dataset
    let mel: HDF5Dataset

    init(in file: HDF5File, deflateLevel: Int) throws {
        let side = ShardFormat.frameSize
        frames = try file.createDataset("frames", type: .uint8, shape: [0, side, side, 3], extendable: true,
                                        chunk: [1, side, side, 3], deflate: deflateLevel)
        mel = try file.createDataset("mel", type: .float32, shape: [0, ShardFormat.melBins, ShardFormat.melFramesPerUnit],
                                     extendable: true, chunk: [ShardFormat.rowChunk, ShardFormat.melBins,
                                                               ShardFormat.melFramesPerUnit])
    }

    /// Appends one 128×128 RGB frame.
    func append(frame: RGBImage) throws {
        precondition(frame.width == ShardFormat.frameSize && frame.height == ShardFormat.frameSize,
                     "frames must be \(ShardFormat.frameSize)x\(ShardFormat.frameSize), got \(frame.width)x\(frame.height)")
        try frames.append(frame.pixels)
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

    public init(id: String, source: String, fingerprint: String, speaker: String, split: String,
                firstRow: Int = 0, rowCount: Int = 0) {
        self.id = id
        self.source = source
        self.fingerprint = fingerprint
        self.speaker = speaker
        self.split = split
        self.firstRow = firstRow
        self.rowCount = rowCount
    }

    public var rows: Range<Int> { firstRow..<(firstRow + rowCount) }

    static let stringFields = ["id", "source", "fingerprint", "speaker", "split"]
    var strings: [String] { [id, source, fingerprint, speaker, split] }
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
