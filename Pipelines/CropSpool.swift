import Common
import Foundation

/// The face crops of one item, written to a temporary file as they come and read back by row,
/// so that memory stays flat however long the video is (an hour of 25 fps 128×128 crops is
/// 4.4 GB). The file is unlinked as soon as it is made: it goes away when the spool does, or
/// with the process.
public final class CropSpool: @unchecked Sendable {
    /// Crops are `size`×`size` RGB.
    public let size: Int
    public private(set) var count = 0
    private let folder: String
    private let fd: Int32
    private var cropBytes: Int { size * size * 3 }

    /// A spool in `folder` (on the disk of the output, not in memory).
    public init(folder: String, size: Int) throws {
        self.folder = folder
        self.size = size
        var template = Array((folder as NSString).appendingPathComponent(".cals-crops-XXXXXX").utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Self.error(folder, "cannot make a crop spool") }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    deinit { close(fd) }

    /// Appends one `size`×`size` crop.
    public func append(_ crop: RGBImage) throws {
        precondition(crop.width == size && crop.height == size, "CropSpool: \(crop.width)x\(crop.height) crop in a \(size)x\(size) spool")
        try crop.pixels.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(count * cropBytes + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Self.error(folder, "cannot write the crop spool") }
                done += n
            }
        }
        count += 1
    }

    /// The crop of row `row` (0 ..< count).
    public func crop(_ row: Int) throws -> RGBImage {
        precondition(row >= 0 && row < count, "CropSpool: row \(row) of \(count)")
        let pixels = try [UInt8](unsafeUninitializedCapacity: cropBytes) { buffer, initialized in
            while initialized < cropBytes {
                let n = pread(fd, buffer.baseAddress! + initialized, cropBytes - initialized, off_t(row * cropBytes + initialized))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Self.error(folder, "cannot read the crop spool back") }
                initialized += n
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// `<folder>: <what>: <the system's reason>`.
    private static func error(_ folder: String, _ what: String) -> InputError {
        InputError(folder, "\(what): \(String(cString: strerror(errno)))")
    }
}
