import Common
import Foundation
import Shards

/// 64-bit FNV-1a of a string, avalanched by MurmurHash3's fmix64 (so every bit, and so every
/// `% n` bucket, depends on every byte), as 16 hex digits: stage keys and partition buckets
/// (short strings; file contents go through `Shards.fileChecksum`, xxHash64).
public func stringHash(_ text: String) -> String { String(format: "%016llx", stringHash64(text)) }

func stringHash64(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    h ^= h >> 33; h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 33; h = h &* 0xC4CE_B9FE_1A85_EC53
    h ^= h >> 33
    return h
}

extension FileFingerprint {
    /// Size and mtime of a regular file; throws `InputError` for anything else (a FIFO or
    /// device would hang the hash, a folder is not a video).
    public static func stat(_ path: String) throws -> (size: Int64, mtime: Double) {
        var st = Foundation.stat()
        guard lstat(path, &st) == 0 else {
            throw InputError(path, String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "not a regular file") }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        return (Int64(st.st_size), mtime)
    }

    /// The fingerprint of `path`, reusing `known.contentHash` when size and mtime are unchanged.
    public static func of(_ path: String, known: FileFingerprint?) throws -> FileFingerprint {
        let (size, mtime) = try stat(path)
        if let known, known.size == size, known.mtime == mtime { return known }
        return FileFingerprint(size: size, mtime: mtime, contentHash: try fileChecksum(path))
    }
}
