import Common
import Foundation

/// The shard files of an output folder (`<out>/shards`) against the ledger.
public enum ShardFiles {
    /// Our shard names: `shard-<run tag>-<sequence>.h5`.
    static let prefix = "shard-"
    /// The folder of workers' item files inside `<out>/shards` (only while a run goes on).
    static let workFolderName = ".work"

    /// A tag unique to one run: UTC time, partition, random bits.
    static func runTag(partition: Partition?) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let part = partition.map { "p\($0.index)of\($0.count)-" } ?? ""
        return "\(formatter.string(from: Date()))-\(part)\(String(format: "%08x", UInt32.random(in: .min ... .max)))"
    }

    /// Locks `outFolder` for one run (`<out>/.lock`, released when the process ends or the
    /// returned descriptor is closed): a second run on the same folder is refused, since its
    /// clean-up would delete the first run's unfinished shards.
    public static func lock(outFolder: String) throws -> Int32 {
        try EnvironmentError.fileOperation(outFolder, "cannot make the output folder") {
            try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        }
        let path = (outFolder as NSString).appendingPathComponent(".lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EnvironmentError.fromErrno(path, "cannot open") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw LedgerError("\(outFolder): another run is using this output folder (use one --out per partition, then cals merge)")
        }
        return fd
    }

    /// Before a run: every shard the ledger records must be present with its recorded size
    /// (else `LedgerError`: missing or truncated); our files the ledger does not record (left by
    /// an interrupted run: complete but unrecorded shards, temporary files, the work folder of
    /// item files) are deleted, since what is not in the ledger does not exist. Other files are
    /// left alone with a warning.
    public static func prepare(folder: String, ledger: Ledger, say: (String) -> Void) throws {
        try EnvironmentError.fileOperation(folder, "cannot make the shards folder") {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let recorded = try ledger.shards()
        for shard in recorded {
            let path = (folder as NSString).appendingPathComponent(shard.file)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = attributes[.size] as? NSNumber else {
                throw LedgerError("\(path): shard recorded in the ledger is missing")
            }
            guard size.int64Value == shard.bytes else {
                throw LedgerError("\(path): shard is \(size.int64Value) bytes, the ledger recorded \(shard.bytes) (truncated or replaced)")
            }
        }
        let recordedNames = Set(recorded.map(\.file))
        let names = try EnvironmentError.fileOperation(folder, "cannot list") {
            try FileManager.default.contentsOfDirectory(atPath: folder)
        }
        for name in names where !recordedNames.contains(name) {
            let path = (folder as NSString).appendingPathComponent(name)
            if name.hasPrefix(prefix) || name.hasPrefix(".\(prefix)") || name == workFolderName {
                try EnvironmentError.fileOperation(path, "cannot remove") { try FileManager.default.removeItem(atPath: path) }
                say("removed \(name): not recorded in the ledger (left by an interrupted run)")
            } else {
                say("warning: \(path) is not a shard of this ledger; left alone")
            }
        }
    }
}
