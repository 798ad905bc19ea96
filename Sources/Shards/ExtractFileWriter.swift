import Common
import Foundation

/// Writes the single-video output of `cals extract` (layout in `ShardFormat`), streaming:
/// frames arrive one at a time and go straight to the file. The file appears under `path` only
/// when `finish()` succeeds; a writer dropped before that leaves nothing behind.
///
///     let out = try ExtractFileWriter(path: "clip.h5", source: "clip.mp4", parameters: json)
///     for each frame: try out.append(frame: crop, box: [x, y, w, h], segment: s, frameIndex: i)
///     try out.append(melUnits: units)          // [N, 80, 4], in one go or in pieces
///     let summary = try out.finish()
public final class ExtractFileWriter {
    private let output: AtomicOutput
    private var file: HDF5File?
    private var tables: FrameTables?
    private var segments: HDF5Dataset?

    /// - Parameters:
    ///   - source: the input video path (attribute `source`).
    ///   - parameters: JSON of every extraction parameter (attribute `parameters`).
    ///   - videoDamage, audioDamage: the decode damage of the source's streams (attributes
    ///     `video_packets`, `video_undecodable`, `audio_packets`, `audio_undecodable`).
    ///   - attributes: more attributes to store on the file root.
    public init(path: String, source: String, parameters: String, fps: Double = 25, sampleRate: Int = 16_000,
                videoDamage: StreamDamage = StreamDamage(), audioDamage: StreamDamage = StreamDamage(),
                attributes: [String: HDF5Attribute] = [:], creator: String = "cals",
                deflateLevel: Int = ShardFormat.defaultDeflateLevel) throws {
        output = try AtomicOutput(path: path)
        let file = try createOutput(output, format: ShardFormat.extractFormat, creator: creator)
        try file.setAttribute("source", .string(source))
        try file.setAttribute("fps", .double(fps))
        try file.setAttribute("sample_rate", .int(sampleRate))
        try file.setAttribute("parameters", .string(parameters))
        for (stream, damage) in [("video", videoDamage), ("audio", audioDamage)] {
            try file.setAttribute("\(stream)_packets", .int(damage.packets))
            try file.setAttribute("\(stream)_undecodable", .int(damage.undecodable))
        }
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
        tables = try FrameTables(in: file, deflateLevel: deflateLevel)
        segments = try file.createDataset("segment", type: .int32, shape: [0], extendable: true,
                                          chunk: [ShardFormat.rowChunk * 16])
        self.file = file
    }

    /// Rows (frames) written so far.
    public var rowCount: Int { tables?.frames.rowCount ?? 0 }

    /// Appends one 128×128 crop, its face box `[x, y, width, height]` in source pixels, the
    /// index of the segment (face track) it belongs to and its frame on the source's 25 fps timeline.
    public func append(frame: RGBImage, box: [Int32], segment: Int, frameIndex: Int) throws {
        guard let tables, let segments else { preconditionFailure("ExtractFileWriter used after finish") }
        precondition(box.count == 4, "box must be [x, y, width, height]")
        try tables.append(frame: frame, frameIndex: frameIndex)
        try tables.append(boxes: box)
        try segments.append([Int32(segment)])
    }

    /// Appends audio units, [k, 80, 4] floats (all N at once or in pieces).
    public func append(melUnits: [Float]) throws {
        guard let tables else { preconditionFailure("ExtractFileWriter used after finish") }
        try tables.append(melUnits: melUnits)
    }

    /// Appends rows [k, rowShape...] of the float32 column `name` a stage added (see
    /// `ShardWriter.append(column:rowShape:values:)`).
    public func append(column name: String, rowShape: [Int], values: [Float]) throws {
        guard let tables else { preconditionFailure("ExtractFileWriter used after finish") }
        try tables.append(column: name, rowShape: rowShape, values: values)
    }

    /// Checks that every dataset has the same number of rows, closes, syncs and renames the file.
    @discardableResult
    public func finish() throws -> ShardSummary {
        guard let rows = tables?.frames.rowCount, let file else { preconditionFailure("ExtractFileWriter finished twice") }
        try tables!.checkAligned(output.path)
        // Release every dataset handle so that closing really closes the file.
        (tables, segments, self.file) = (nil, nil, nil)
        return try finishOutput(file, output, rows: rows, items: [])
    }
}
