import Common
import Foundation

/// The face crops of one item, written to a file as they come and read back by row, so that
/// memory stays flat however long the video is (an hour of 25 fps 128×128 crops is 4.4 GB).
/// Crop r lives at bytes r·S·S·3 ..< (r+1)·S·S·3 of the file.
///
/// In-process, the file is unlinked as soon as it is made (it goes away with the spool or the
/// process); a worker process keeps it under a name and adds the item's other rows after the
/// crops (`ItemFile`), for the supervisor to open with `init(reading:size:count:)`.
/// @unchecked Sendable: one thread appends (the item's pipeline) and then hands the spool over
/// with the item's output; after that it is only read, and a read (`pread`) changes nothing.
public final class CropSpool: @unchecked Sendable {
    /// Crops are `size`×`size` RGB.
    public let size: Int
    public private(set) var count = 0
    /// The file's name while it has one (nil for an unlinked spool).
    public let path: String?
    /// Where errors say the spool is: the file, or for an unlinked spool its folder.
    private let place: String
    let fd: Int32
    var cropBytes: Int { size * size * 3 }

    /// An unlinked spool in `folder` (on the disk of the output, not in memory).
    public init(folder: String, size: Int) throws {
        self.size = size
        var template = Array((folder as NSString).appendingPathComponent(".cals-crops-XXXXXX").utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw EnvironmentError.fromErrno(folder, "cannot make a crop spool") }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        path = nil
        place = folder
    }

    /// A new spool file at `path` that stays when the spool is dropped (the caller removes it).
    public init(creating path: String, size: Int) throws {
        self.size = size
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EnvironmentError.fromErrno(path, "cannot make a crop spool") }
        self.path = path
        place = path
    }

    /// The first `count` crops of the existing file at `path`, for reading.
    init(reading path: String, size: Int, count: Int) throws {
        self.size = size
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EnvironmentError.fromErrno(path, "cannot open the item file") }
        self.path = path
        place = path
        self.count = count
    }

    deinit { close(fd) }

    /// Appends one `size`×`size` crop.
    public func append(_ crop: RGBImage) throws {
        precondition(crop.width == size && crop.height == size, "CropSpool: \(crop.width)x\(crop.height) crop in a \(size)x\(size) spool")
        try crop.pixels.withUnsafeBytes { try write($0, at: count * cropBytes, "cannot write the crop spool") }
        count += 1
    }

    /// The crop of row `row` (0 ..< count).
    public func crop(_ row: Int) throws -> RGBImage {
        precondition(row >= 0 && row < count, "CropSpool: row \(row) of \(count)")
        let pixels = try [UInt8](unsafeUninitializedCapacity: cropBytes) { buffer, initialized in
            try read(UnsafeMutableRawBufferPointer(buffer), at: row * cropBytes, "cannot read the crop spool back")
            initialized = cropBytes
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// Writes all of `bytes` at `offset` of the file.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ what: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw EnvironmentError.fromErrno(place, what) }
            done += n
        }
    }

    /// Fills `buffer` from `offset` of the file; a short file is an error.
    func read(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int, _ what: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw InputError(place, "\(what): the file ends early") }
            guard n > 0 else { throw EnvironmentError.fromErrno(place, what) }
            done += n
        }
    }
}
