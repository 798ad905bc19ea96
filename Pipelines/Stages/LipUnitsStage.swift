import Common
import Foundation
import Models
import Shards

/// `lip_units` (SPEC §1, after `shard`): a 1024-d lip-motion unit for every frame of every frame
/// shard of the output folder, from the visual stream of a sync encoder checkpoint over the 5
/// mouth frames centred on the frame (edges of each item repeat). Unit shards live in
/// `<out>/lip_units/<checkpoint content hash>/<frame shard name>`, aligned row for row with
/// their frame shard, and are recorded in the ledger; a new checkpoint gives a new folder beside
/// the old, and frame shards whose recorded units for this checkpoint are whole on disk are
/// skipped. Frame shards are never touched.
public struct LipUnitsStage: RowStage {
    public static let name = "lip_units"
    public static let version = 1
    /// The `creator` attribute of unit shards: `cals lip_units v<version>`.
    static let creatorPrefix = "cals lip_units v"

    public struct Parameters: Codable, Equatable, Sendable, DefaultConstructible {
        /// Sync encoder checkpoint (`cals train sync`), relative to the working directory.
        public var checkpoint = ""
        /// Store float16 units instead of float32.
        public var float16 = false
        public init() {}
    }

    public let parameters: Parameters
    public init(parameters: Parameters = Parameters()) { self.parameters = parameters }
    public var checkpoint: String { parameters.checkpoint }

    /// Windows embedded per forward pass.
    public static let chunk = 64

    /// Writes the unit shards missing for the frame shards `ledger` records (and rebuilds
    /// recorded ones that are missing, torn or from another stage version), recording each in
    /// `ledger`; `written`: the paths written. `say` gets one line per shard written, rebuilt,
    /// recovered or removed.
    @discardableResult
    public func run(outFolder: String, ledger: Ledger, say: (String) -> Void) throws -> RowStageResult {
        guard !checkpoint.isEmpty else { throw InputError("lip_units", "parameter 'checkpoint' is required") }
        let hash = try fileChecksum(checkpoint)
        let model = try SyncEncoder.load(checkpoint: checkpoint)
        guard model.config.outputDim == ShardFormat.lipUnitSize else {
            throw InputError(checkpoint, "encoder gives \(model.config.outputDim)-d units; lip-unit shards hold \(ShardFormat.lipUnitSize)")
        }
        let frameShards = try ledger.shards()
        try Self.settleUnrecordedFiles(outFolder: outFolder, frameShards: frameShards, ledger: ledger, say: say)
        let shards = (outFolder as NSString).appendingPathComponent("shards")
        let unitFolder = Self.folder(outFolder: outFolder, checkpointHash: hash)
        try FileManager.default.createDirectory(atPath: unitFolder, withIntermediateDirectories: true)
        let recorded = Dictionary(uniqueKeysWithValues: try ledger.lipUnitShards(checkpoint: hash).map { ($0.file, $0) })
        var written: [String] = []
        for frameShard in frameShards {
            let name = frameShard.file
            let target = (unitFolder as NSString).appendingPathComponent(name)
            if let record = recorded[name] {
                guard let problem = Self.problem(target, record, frameRows: frameShard.rows) else { continue }
                say("lip_units: \(target): \(problem); rebuilding")
                if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            }
            let reader = try ShardReader(path: (shards as NSString).appendingPathComponent(name))
            let writer = try LipUnitWriter(path: target, frameShard: name, checkpoint: hash, creator: "\(Self.creatorPrefix)\(Self.version)",
                                           half: parameters.float16)
            for item in reader.items {
                let frames = try reader.frames(rows: item.rows)
                try writer.append(units: frames.withUnsafeBufferPointer { f in
                    embedVisualInChunks(model, frames: f, centres: Array(0..<item.rowCount), chunk: Self.chunk)
                })
            }
            let summary = try writer.finish()
            try ledger.recordLipUnitShard(LipUnitShardRecord(checkpoint: hash, file: name, rows: summary.rows, bytes: Int64(summary.bytes),
                                                             checksum: summary.checksum, stageVersion: Self.version))
            say("lip_units: \(name): \(summary.rows) units (checkpoint \(hash))")
            written.append(target)
        }
        return RowStageResult(stage: Self.name, written: written,
                              line: written.isEmpty ? nil : "lip_units: \(written.count) new unit shard(s) in \(unitFolder)")
    }

    /// Per checkpoint: unit shards recorded / frame shards, rows, the frame shards without units
    /// and recorded unit files missing on disk.
    public static func statusLines(outFolder: String, ledger: Ledger) throws -> [String] {
        let frameShards = try ledger.shards()
        let units = try ledger.lipUnitShards()
        let sets = Dictionary(grouping: units, by: \.checkpoint).sorted { $0.key < $1.key }
        var lines = ["lip units: " + (sets.isEmpty ? "none" : "\(sets.count) checkpoint(s)")]
        for (hash, set) in sets {
            let folder = Self.folder(outFolder: outFolder, checkpointHash: hash)
            let have = Set(set.map(\.file))
            let without = frameShards.map(\.file).filter { !have.contains($0) }
            let missing = set.map(\.file).filter {
                !FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent($0))
            }
            lines.append("  \(hash): \(set.count)/\(frameShards.count) frame shards, \(set.reduce(0) { $0 + $1.rows }) rows"
                         + (without.isEmpty ? "" : "; without units: \(without.joined(separator: ", "))")
                         + (missing.isEmpty ? "" : "; missing on disk: \(missing.joined(separator: ", "))"))
        }
        return lines
    }

    /// Why the recorded unit shard at `path` cannot be used as is, or nil when it can: present
    /// with the recorded size, readable, `frameRows` rows, made by this stage version.
    static func problem(_ path: String, _ record: LipUnitShardRecord, frameRows: Int) -> String? {
        if let problem = sizeProblem(path, recordedBytes: record.bytes) { return problem }
        let reader: LipUnitReader
        do { reader = try LipUnitReader(path: path) } catch { return "unreadable (\(error))" }
        guard reader.rowCount == record.rows, reader.rowCount == frameRows else {
            return "\(reader.rowCount) rows, its frame shard has \(frameRows)"
        }
        guard record.stageVersion == Self.version else { return "made by lip_units v\(record.stageVersion), this is v\(Self.version)" }
        return nil
    }

    /// Why the file at `path` cannot be the recorded unit shard of `recordedBytes` bytes (missing,
    /// or another size), or nil.
    static func sizeProblem(_ path: String, recordedBytes: Int64) -> String? {
        guard let size = try? FileFingerprint.stat(path).size else { return "recorded in the ledger but missing" }
        return size == recordedBytes ? nil : "\(size) bytes, the ledger recorded \(recordedBytes) (torn or replaced)"
    }

    /// Unit files under `<out>/lip_units` the ledger does not record (left by an interrupted run,
    /// or made before the ledger recorded unit shards): whole units of a recorded frame shard for
    /// their folder's checkpoint are recorded; the rest (temporary files, units of a frame shard
    /// that is gone or not theirs) are removed, so no reader pairs units with the wrong frame shard.
    static func settleUnrecordedFiles(outFolder: String, frameShards: [ShardRecord], ledger: Ledger,
                                      say: (String) -> Void) throws {
        let root = (outFolder as NSString).appendingPathComponent(name)
        let recorded = Set(try ledger.lipUnitShards().map { "\($0.checkpoint)/\($0.file)" })
        let frameRows = Dictionary(uniqueKeysWithValues: frameShards.map { ($0.file, $0.rows) })
        for hash in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() {
            let folder = (root as NSString).appendingPathComponent(hash)
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            where file.hasPrefix(ShardFiles.prefix) || file.hasPrefix(".\(ShardFiles.prefix)") {
                guard !recorded.contains("\(hash)/\(file)") else { continue }
                let path = (folder as NSString).appendingPathComponent(file)
                if let rows = frameRows[file], let version = try? unitVersion(path, checkpoint: hash, frameShard: file, rows: rows) {
                    let size = try FileFingerprint.stat(path).size
                    try ledger.recordLipUnitShard(LipUnitShardRecord(checkpoint: hash, file: file, rows: rows, bytes: size,
                                                                     checksum: try fileChecksum(path), stageVersion: version))
                    say("lip_units: \(path): whole but not in the ledger; recorded")
                } else {
                    try FileManager.default.removeItem(atPath: path)
                    say("lip_units: removed \(path): not recorded in the ledger, and not whole units of a recorded frame shard")
                }
            }
        }
    }

    /// The stage version that wrote the unit shard at `path`, if it holds `rows` units of
    /// `frameShard` from `checkpoint`; nil otherwise.
    static func unitVersion(_ path: String, checkpoint: String, frameShard: String, rows: Int) throws -> Int? {
        let reader = try LipUnitReader(path: path)
        guard reader.checkpoint == checkpoint, reader.frameShard == frameShard, reader.rowCount == rows,
              case .string(let creator)? = try HDF5File(readingAt: path).attribute("creator"),
              creator.hasPrefix(creatorPrefix) else { return nil }
        return Int(creator.dropFirst(creatorPrefix.count))
    }

    /// `<out>/lip_units/<checkpoint hash>`
    public static func folder(outFolder: String, checkpointHash: String) -> String {
        ((outFolder as NSString).appendingPathComponent(name) as NSString).appendingPathComponent(checkpointHash)
    }
}
