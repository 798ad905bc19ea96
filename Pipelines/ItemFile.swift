import AudioFeatures
import Common
import Face
import Foundation

/// A worker's answer for one item on disk: the rows of an `ItemOutput` in one file under
/// `<out>/shards/.work/`, which the supervisor appends to its open shard and deletes.
///
/// Layout (native byte order; the file is read back on the same machine, by the same cals):
///
///     crops   uint8   [N, S, S, 3]   written by the item's CropSpool as the frames come
///     mel     float32 [N, 80, 4]
///     boxes   int32   [N, 4]
///     segment int32   [N]
///     frame   int64   [N]            frame index on the 25 fps timeline
///     columns float32 [N, shape...]  each column a stage added, in order
///     header  JSON    [H bytes]      the columns' names and row shapes, the track scores
///     footer  int64   [13]           magic, S, N, decoded frames, video packets, undecodable,
///                                    first second lost, audio the same three, H, byte count of
///                                    all before the footer, magic
enum ItemFile {
    static let magic: Int64 = 0x4D45_5449_534C_4143  // "CALSITEM" read as little-endian bytes
    static let footerCount = 13
    /// Crops larger than this are not from a face stage (a damaged footer).
    static let largestCrop = 4096

    private struct Header: Codable {
        struct Column: Codable {
            var name: String
            var rowShape: [Int]
        }
        var columns: [Column]
        var trackScores: [TrackScore]
    }

    /// Writes the rows after the crops already in `output.crops` (a named spool) and syncs
    /// nothing: the file lives only until the supervisor has appended it to a shard.
    static func finish(_ output: ItemOutput) throws {
        let spool = output.crops
        let n = output.rowCount
        var offset = n * spool.cropBytes
        func put<T>(_ values: [T]) throws {
            try values.withUnsafeBytes { try spool.write($0, at: offset, "cannot write the item file") }
            offset += values.count * MemoryLayout<T>.stride
        }
        try put(output.mel)
        try put(output.boxes)
        try put(output.segments)
        try put(output.frameIndices)
        for column in output.columns { try put(column.values) }
        let header = [UInt8](try JSONEncoder().encode(Header(columns: output.columns.map { Header.Column(name: $0.name, rowShape: $0.rowShape) },
                                                             trackScores: output.trackScores)))
        try put(header)
        let v = output.videoDamage, a = output.audioDamage
        try put([magic, Int64(spool.size), Int64(n), Int64(output.decodedFrameCount),
                 Int64(v.packets), Int64(v.undecodable), v.firstSecondLost ? 1 : 0,
                 Int64(a.packets), Int64(a.undecodable), a.firstSecondLost ? 1 : 0,
                 Int64(header.count), Int64(offset), magic])
    }

    /// Opens an item file written by `finish`; every count is checked against the file's size
    /// before it is used.
    static func read(_ path: String) throws -> ItemOutput {
        var info = stat()
        guard stat(path, &info) == 0 else { throw EnvironmentError.fromErrno(path, "cannot open the item file") }
        let size = Int(info.st_size)
        let footerBytes = footerCount * 8
        guard size >= footerBytes else { throw InputError(path, "item file of \(size) bytes has no footer") }
        // Read the footer through a spool of no crops, then reopen with the right count.
        let probe = try CropSpool(reading: path, size: 1, count: 0)
        var footer = [Int64](repeating: 0, count: footerCount)
        try footer.withUnsafeMutableBytes { try probe.read($0, at: size - footerBytes, "cannot read the item file") }
        let incomplete = InputError(path, "not a complete item file")
        let body = Int64(size - footerBytes)
        guard footer[0] == magic, footer[12] == magic, (1...Int64(largestCrop)).contains(footer[1]),
              (0...Int64(Int32.max)).contains(footer[2]), footer[3] >= 0, footer[11] == body,
              (0...body).contains(footer[10]) else { throw incomplete }
        let cropSize = Int(footer[1]), n = Int(footer[2]), headerBytes = Int(footer[10])
        let crops = try CropSpool(reading: path, size: cropSize, count: n)
        var header = [UInt8](repeating: 0, count: headerBytes)
        try header.withUnsafeMutableBytes { try crops.read($0, at: Int(body) - headerBytes, "cannot read the item file") }
        guard let decoded = try? JSONDecoder().decode(Header.self, from: Data(header)) else { throw incomplete }
        let columns = decoded.columns
        // Bytes the rows need, counted without overflow before anything is read.
        let unitFloats = MelSpectrogram.melBinCount * MelSpectrogram.framesPerUnit
        var rowBytes = cropSize * cropSize * 3 + unitFloats * 4 + 4 * 4 + 4 + 8
        for column in columns {
            var floats = 1
            for d in column.rowShape {
                guard d > 0, case (let product, false) = floats.multipliedReportingOverflow(by: d) else { throw incomplete }
                floats = product
            }
            guard case (let bytes, false) = floats.multipliedReportingOverflow(by: 4),
                  case (let next, false) = rowBytes.addingReportingOverflow(bytes) else { throw incomplete }
            rowBytes = next
        }
        guard case (let rowsBytes, false) = rowBytes.multipliedReportingOverflow(by: n),
              rowsBytes + headerBytes == Int(body) else { throw incomplete }
        var offset = n * crops.cropBytes
        func take<T>(_ count: Int, _ zero: T) throws -> [T] {
            var values = [T](repeating: zero, count: count)
            try values.withUnsafeMutableBytes { try crops.read($0, at: offset, "cannot read the item file") }
            offset += count * MemoryLayout<T>.stride
            return values
        }
        var output = ItemOutput(cropSize: cropSize, crops: crops, mel: try take(n * unitFloats, Float(0)),
                                boxes: try take(n * 4, Int32(0)), segments: try take(n, Int32(0)),
                                frameIndices: try take(n, Int64(0)), decodedFrameCount: Int(footer[3]))
        for column in columns {
            let rowSize = column.rowShape.reduce(1, *)
            output.columns.append(RowColumn(name: column.name, rowShape: column.rowShape, values: try take(n * rowSize, Float(0))))
        }
        output.trackScores = decoded.trackScores
        output.videoDamage = StreamDamage(packets: Int(footer[4]), undecodable: Int(footer[5]), firstSecondLost: footer[6] != 0)
        output.audioDamage = StreamDamage(packets: Int(footer[7]), undecodable: Int(footer[8]), firstSecondLost: footer[9] != 0)
        return output
    }
}
