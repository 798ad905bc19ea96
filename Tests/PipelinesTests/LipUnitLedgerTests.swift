import Foundation
import Models
import NN
import Pipelines
import Shards
import Tensor
import TestSupport
import Training
import XCTest

/// The lip_units stage against the ledger: unit shards recorded, skipped when whole, rebuilt
/// when missing or torn, strays removed, old ledgers upgraded, listed by status, merged.
final class LipUnitLedgerTests: XCTestCase {
    /// A folder dataset of `clips` short clips, its manifest (a frame shard per item) with the
    /// lip_units stage on a tiny sync checkpoint (1024-d units), and that checkpoint's hash.
    func makeDataset(_ s: ScratchDir, clips: Int) throws -> (manifest: Manifest, data: String, hash: String) {
        try Fixture.manifest(s.path("clips.yaml"), targetBytes: 1)
        for i in 0..<clips { try Fixture.clip(s.path("data/s\(i % 2)/c\(i).mp4"), frequency: 300 + 70 * i) }
        let checkpoint = s.path("sync.safetensors")
        let hash = try Fixture.tinySyncCheckpoint(checkpoint)
        var manifest = try Manifest.load(s.path("clips.yaml"))
        var parameters = LipUnitsStage.Parameters()
        parameters.checkpoint = checkpoint
        manifest.stages.lipUnits = LipUnitsStage(parameters: parameters)
        return (manifest, s.path("data"), hash)
    }

    /// Runs `manifest` in this process; returns the summary and what the run logged.
    func preprocess(_ manifest: Manifest, data: String, out: String, partition: Partition? = nil) throws -> (summary: RunSummary, log: String) {
        let logPath = out + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let runner = Runner(manifest: manifest, dataRoot: data, outFolder: out, partition: partition)
        runner.log = FileHandle(forWritingAtPath: logPath)!
        let summary = try runner.run()
        try runner.log.close()
        return (summary, try String(contentsOfFile: logPath, encoding: .utf8))
    }

    /// Runs one SQL statement on the ledger of `out` with the sqlite3 CLI; returns its output.
    @discardableResult
    func sql(_ out: String, _ statement: String, line: UInt = #line) throws -> String {
        let r = try TestSupport.run("sqlite3", [(out as NSString).appendingPathComponent(Ledger.fileName), statement])
        XCTAssertEqual(r.status, 0, r.stderr, line: line)
        return r.stdout
    }

    /// name → "mtime:checksum" of every file in `folder`.
    func fileStats(_ folder: String) throws -> [String: String] {
        var stats: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let path = (folder as NSString).appendingPathComponent(name)
            stats[name] = "\(try FileFingerprint.stat(path).mtime):\(try fileChecksum(path))"
        }
        return stats
    }

    func testUnitShardsAreRecordedSkippedRebuiltUpgradedAndReported() throws {
        let s = ScratchDir("lip-ledger")
        let (manifest, data, hash) = try makeDataset(s, clips: 3)
        let out = s.path("out")
        let folder = LipUnitsStage.folder(outFolder: out, checkpointHash: hash)
        func path(_ file: String) -> String { (folder as NSString).appendingPathComponent(file) }

        // Recorded: one unit shard per frame shard, rows, size and checksum of the file on disk.
        let first = try preprocess(manifest, data: data, out: out)
        let frameShards = try Ledger(existing: out).shards().sorted { $0.file < $1.file }
        XCTAssertEqual(frameShards.count, 3)
        let units = try Ledger(existing: out).lipUnitShards()
        XCTAssertEqual(units.map(\.file), frameShards.map(\.file))
        XCTAssertEqual(Set(first.summary.lipUnitShards), Set(units.map { path($0.file) }))
        func checkRecords(_ records: [LipUnitShardRecord], line: UInt = #line) throws {
            for (unit, frames) in zip(records, frameShards) {
                XCTAssertEqual(unit.checkpoint, hash, line: line)
                XCTAssertEqual(unit.stageVersion, LipUnitsStage.version, line: line)
                XCTAssertEqual(unit.rows, frames.rows, line: line)
                XCTAssertEqual(try LipUnitReader(path: path(unit.file)).rowCount, frames.rows, line: line)
                XCTAssertEqual(unit.bytes, try FileFingerprint.stat(path(unit.file)).size, line: line)
                XCTAssertEqual(unit.checksum, try fileChecksum(path(unit.file)), line: line)
            }
        }
        try checkRecords(units)

        // Re-run: nothing written, unit files untouched.
        let stats = try fileStats(folder)
        let again = try preprocess(manifest, data: data, out: out)
        XCTAssertEqual(again.summary.lipUnitShards, [])
        XCTAssertEqual(again.summary.lines.last, "everything is up to date")
        XCTAssertEqual(try fileStats(folder), stats)

        // One unit file deleted, one torn, one stray for a frame shard the ledger does not know:
        // the first two rebuilt (same units), the stray removed, each named in a notice.
        let (gone, torn, kept) = (units[0].file, units[1].file, units[2].file)
        let tornUnits = try LipUnitReader(path: path(torn)).units(rows: 0..<units[1].rows)
        try FileManager.default.removeItem(atPath: path(gone))
        let handle = FileHandle(forWritingAtPath: path(torn))!
        try handle.truncate(atOffset: UInt64(units[1].bytes / 2))
        try handle.close()
        try FileManager.default.copyItem(atPath: path(kept), toPath: path("shard-gone.h5"))
        let repaired = try preprocess(manifest, data: data, out: out)
        XCTAssertEqual(Set(repaired.summary.lipUnitShards), [path(gone), path(torn)])
        XCTAssertTrue(repaired.log.contains("lip_units: \(path(gone)): recorded in the ledger but missing; rebuilding\n"), repaired.log)
        XCTAssertTrue(repaired.log.contains("lip_units: \(path(torn)): \(units[1].bytes / 2) bytes, the ledger recorded \(units[1].bytes) (torn or replaced); rebuilding\n"),
                      repaired.log)
        XCTAssertTrue(repaired.log.contains("lip_units: removed \(path("shard-gone.h5")): "), repaired.log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("shard-gone.h5")))
        XCTAssertEqual(try LipUnitReader(path: path(torn)).units(rows: 0..<units[1].rows), tornUnits)
        XCTAssertEqual(try fileStats(folder)[kept], stats[kept])
        try checkRecords(try Ledger(existing: out).lipUnitShards())

        // A ledger of schema 1 (the same tables without lip_unit_shards, the av_sync ones and speaker_scores) opens, is upgraded, and
        // the whole unit files on disk are recorded, not recomputed.
        let columnsAfterVersion1 = ["video_packets", "video_undecodable", "video_first_second_lost", "audio_packets",
                                    "audio_undecodable", "audio_first_second_lost", "quarantine_cause",
                                    "quarantine_version", "quarantine_time_limit", "metadata"]
        try sql(out, "DROP TABLE lip_unit_shards; DROP TABLE sync_scores; DROP TABLE sync_curation; DROP TABLE speaker_scores; UPDATE meta SET value = '1' WHERE key = 'schema_version'; "
                + columnsAfterVersion1.map { "ALTER TABLE items DROP COLUMN \($0);" }.joined())
        let before = try fileStats(folder)
        let upgraded = try preprocess(manifest, data: data, out: out)
        XCTAssertEqual(upgraded.summary.lipUnitShards, [])
        XCTAssertTrue(upgraded.log.contains("lip_units: \(path(kept)): whole but not in the ledger; recorded\n"), upgraded.log)
        XCTAssertEqual(try fileStats(folder), before)
        XCTAssertEqual(try sql(out, "SELECT value FROM meta WHERE key = 'schema_version'"), "\(Ledger.schemaVersion)\n")
        try checkRecords(try Ledger(existing: out).lipUnitShards())

        // Status lists the set and the frame shards without units.
        let rows = frameShards.reduce(0) { $0 + $1.rows }
        XCTAssertTrue(try StatusReport(outFolder: out).text.contains("lip units: 1 checkpoint(s)\n  \(hash): 3/3 frame shards, \(rows) rows\n"))
        try sql(out, "DELETE FROM lip_unit_shards WHERE file = '\(gone)'")
        let status = try StatusReport(outFolder: out).text
        XCTAssertTrue(status.contains("  \(hash): 2/3 frame shards, \(rows - frameShards[0].rows) rows; without units: \(gone)\n"), status)
    }

    /// Item segment ("id#segment") → its lip units, through the ledger's current rows.
    func segmentUnits(_ out: String, hash: String) throws -> [String: [Float]] {
        let folder = LipUnitsStage.folder(outFolder: out, checkpointHash: hash)
        var units: [String: [Float]] = [:]
        for row in try Ledger(existing: out).currentRows() {
            let reader = try LipUnitReader(path: (folder as NSString).appendingPathComponent(row.shard))
            units["\(row.item)#\(row.segment)"] = try reader.units(rows: row.firstRow..<(row.firstRow + row.rowCount))
        }
        return units
    }

    func testPartitionsWithUnitsMergeToTheFullRun() throws {
        let s = ScratchDir("lip-merge")
        let (manifest, data, hash) = try makeDataset(s, clips: 4)
        _ = try preprocess(manifest, data: data, out: s.path("full"))
        for i in 0..<2 { _ = try preprocess(manifest, data: data, out: s.path("part\(i)"), partition: try Partition(index: i, count: 2)) }
        let parts = [s.path("part0"), s.path("part1")], merged = s.path("merged")
        let result = try mergeOutputs(parts, into: merged)
        XCTAssertEqual(result.items, 4)
        XCTAssertEqual(result.lipUnitShards, result.shards)
        let expected = try segmentUnits(s.path("full"), hash: hash)
        XCTAssertEqual(expected.count, 4)
        XCTAssertEqual(try segmentUnits(merged, hash: hash), expected)

        // Merging again (the command) changes nothing; status lists the merged set; a run on the
        // merged folder finds every unit shard whole.
        let again = try Fixture.cals(["merge", "--out", merged] + parts)
        XCTAssertEqual(again.stdout, "merged 2 folder(s) into \(merged): 4 items, \(result.shards) shards, \(result.lipUnitShards) lip-unit shards\n",
                       again.stderr)
        let status = try Fixture.cals(["status", "--out", merged])
        let rows = try Ledger(existing: merged).shards().reduce(0) { $0 + $1.rows }
        XCTAssertTrue(status.stdout.contains("lip units: 1 checkpoint(s)\n  \(hash): \(result.shards)/\(result.shards) frame shards, \(rows) rows\n"),
                      status.stdout)
        let rerun = try preprocess(manifest, data: data, out: merged)
        XCTAssertEqual(rerun.summary.lipUnitShards, [])
        XCTAssertEqual(rerun.summary.processed, 0)

        // A unit shard of the same checkpoint and name with other content is a collision that
        // names both files.
        let clash = s.path("clash")
        try FileManager.default.copyItem(atPath: s.path("part1"), toPath: clash)
        let file = try Ledger(existing: clash).lipUnitShards()[0].file
        try sql(clash, "UPDATE lip_unit_shards SET checksum = '0123456789abcdef' WHERE file = '\(file)'")
        XCTAssertThrowsError(try mergeOutputs([clash], into: merged)) {
            let source = (LipUnitsStage.folder(outFolder: clash, checkpointHash: hash) as NSString).appendingPathComponent(file)
            let destination = (LipUnitsStage.folder(outFolder: merged, checkpointHash: hash) as NSString).appendingPathComponent(file)
            XCTAssertTrue("\($0)".hasPrefix("\(source): name collides with \(destination)"), "\($0)")
        }
    }
}
