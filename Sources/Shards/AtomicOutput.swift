import Common
import Foundation

/// An output file written under a temporary name in its final folder and renamed into place
/// only when complete: readers never see a half-written file under the final name.
///
/// The temporary name is `.<name>.partial-<random>`; `commit()` fsyncs it, renames it and fsyncs
/// the folder; `discard()` (also run on deinit without commit) deletes it. A process killed while
/// writing leaves only such a hidden partial file behind.
final class AtomicOutput {
    let path: String
    let temporaryPath: String
    private(set) var isCommitted = false

    init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder) else {
            throw EnvironmentError("\(path): output folder \(folder)", code: ENOENT)
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw InputError(path, "output file exists already (shards are written once, never replaced)")
        }
        self.path = path
        let random = UUID().uuidString.prefix(8).lowercased()
        temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(random)").path
    }

    deinit { if !isCommitted { discard() } }

    /// Makes the (closed) temporary file durable and gives it its final name.
    func commit() throws {
        try Self.fsync(temporaryPath)
        guard rename(temporaryPath, path) == 0 else {
            throw EnvironmentError.fromErrno(path, "cannot rename \(temporaryPath) into place")
        }
        isCommitted = true
        try Self.fsync(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    func discard() { unlink(temporaryPath) }

    static func fsync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EnvironmentError.fromErrno(path, "cannot open to sync") }
        defer { close(fd) }
        guard Foundation.fsync(fd) == 0 else { throw EnvironmentError.fromErrno(path, "fsync failed") }
    }
}

/// xxHash64 (seed 0) of a file's bytes, as 16 lowercase hex digits: the checksum recorded for
/// every shard (fast enough to run over each 1 GiB shard as it is finished).
public func fileChecksum(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw InputError(path, "cannot open to checksum") }
    defer { try? handle.close() }
    var hasher = XXH64()
    while let data = try handle.read(upToCount: 4 << 20), !data.isEmpty {
        data.withUnsafeBytes { hasher.update($0) }
    }
    return hasher.hexDigest
}
