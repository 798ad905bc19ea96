import AudioFeatures
import Common
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
///     footer  int64   [12]           magic, S, N, decoded frames, video packets, undecodable,
///                                    first second lost, audio the same three, byte count of all before
enum ItemFile {
    static let magic: Int64 = 0x4D45_5449_534C_4143  // "CALSITEM" read as little-endian bytes
    static let footerCount = 12

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
        let v = output.videoDamage, a = output.audioDamage
        try put([magic, Int64(spool.size), Int64(n), Int64(output.decodedFrameCount),
                 Int64(v.packets), Int64(v.undecodable), v.firstSecondLost ? 1 : 0,
                 Int64(a.packets), Int64(a.undecodable), a.firstSecondLost ? 1 : 0, Int64(offset), magic])
    }

    /// Opens an item file written by `finish` with crops of `cropSize`; every count is checked
    /// against the file's size before it is used.
    static func read(_ path: String, cropSize: Int) throws -> ItemOutput {
        var info = stat()
        guard stat(path, &info) == 0 else { throw EnvironmentError.fromErrno(path, "cannot open the item file") }
        let size = Int(info.st_size)
        let footerBytes = footerCount * 8
        guard size >= footerBytes else { throw InputError(path, "item file of \(size) bytes has no footer") }
        // Read the footer through a spool of no crops, then reopen with the right count.
        let probe = try CropSpool(reading: path, size: cropSize, count: 0)
        var footer = [Int64](repeating: 0, count: footerCount)
        try footer.withUnsafeMutableBytes { try probe.read($0, at: size - footerBytes, "cannot read the item file") }
        let unitFloats = MelSpectrogram.melBinCount * MelSpectrogram.framesPerUnit
        let rowBytes = cropSize * cropSize * 3 + unitFloats * 4 + 4 * 4 + 4 + 8
        guard footer[0] == magic, footer[11] == magic, footer[1] == Int64(cropSize),
              (0...Int64(Int32.max)).contains(footer[2]), footer[3] >= 0,
              footer[10] == footer[2] * Int64(rowBytes), footer[10] + Int64(footerBytes) == Int64(size) else {
            throw InputError(path, "not a complete item file")
        }
        let n = Int(footer[2])
        let crops = try CropSpool(reading: path, size: cropSize, count: n)
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
        output.videoDamage = StreamDamage(packets: Int(footer[4]), undecodable: Int(footer[5]), firstSecondLost: footer[6] != 0)
        output.audioDamage = StreamDamage(packets: Int(footer[7]), undecodable: Int(footer[8]), firstSecondLost: footer[9] != 0)
        return output
    }
}
