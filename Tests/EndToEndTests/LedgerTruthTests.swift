import Foundation
import TestSupport
import XCTest

/// Trainers and evaluators read exactly the rows the ledger calls current, run as a user runs
/// them (the real binary): not a removed item, not the rows of a reverted parameter change, not
/// a shard file the ledger does not record, not the lip units of a removed item. Each run writes
/// `data.tsv` (the rows it read), which is compared with the ledger (read here with Python's
/// sqlite3, none of our code).
final class LedgerTruthTests: XCTestCase {
    let scratch = ScratchDir("e2e-ledger-truth")

    @discardableResult
    func cals(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try TestSupport.run(TestEnv.calsBinary, arguments)
        guard result.status == 0 else {
            throw InputErrorForTests("cals \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        return result.stdout
    }

    /// `item \t segment \t speaker \t split \t shard \t first_row \t row_count \t 0` of every
    /// current row of the ledger in `out`, sorted (audio shift 0: no av_sync stage here).
    func ledgerRows(_ out: String) throws -> [String] {
        let script = """
            import os, sqlite3, sys
            db = sqlite3.connect(os.path.join(sys.argv[1], "ledger.sqlite"))
            for row in db.execute(\"\"\"SELECT r.item_id, r.segment, i.speaker, i.split, r.shard_file, r.first_row, r.row_count, 0
                FROM item_rows r JOIN items i ON i.id = r.item_id AND i.key = r.key WHERE i.state = 'done'\"\"\"):
                print("\\t".join(str(x) for x in row))
            """
        let result = try TestSupport.run(TestEnv.python, ["-c", script, out])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    /// The rows a run read (its `data.tsv` without the header), sorted.
    func runRows(_ run: String) throws -> [String] {
        let text = try String(contentsOfFile: (run as NSString).appendingPathComponent("data.tsv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "item\tsegment\tspeaker\tsplit\tshard\tfirst_row\trow_count\taudio_shift")
        return lines.dropFirst().sorted()
    }

    func testTrainersAndEvaluatorsReadOnlyTheLedgersCurrentRows() throws {
        let raw = scratch.path("raw"), out = scratch.path("processed")
        let manifest = scratch.path("demo.yaml"), changed = scratch.path("demo-changed.yaml")
        let demo = try String(contentsOfFile: TestEnv.repoRoot.path + "/manifests/demo.yaml", encoding: .utf8)
        try demo.write(toFile: manifest, atomically: true, encoding: .utf8)
        try demo.replacingOccurrences(of: "chin_margin: 0.15", with: "chin_margin: 0.25")
            .write(toFile: changed, atomically: true, encoding: .utf8)
        XCTAssertTrue(try String(contentsOfFile: changed, encoding: .utf8).contains("chin_margin: 0.25"))
        try cals(["demo-corpus", "--out", raw, "--speakers", "3", "--clips", "2", "--seconds", "2",
                  "--faces", TestEnv.repoRoot.path + "/data/faces"])
        let speakers = try FileManager.default.contentsOfDirectory(atPath: raw).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(speakers.count, 3)

        // A face parameter changed and reverted: the newest shard holds the changed rows, the
        // ledger calls the first ones current again.
        try cals(["preprocess", manifest, "--data", raw, "--out", out])
        let first = try ledgerRows(out)
        XCTAssertEqual(first.count, 6, "\(first)")
        try cals(["preprocess", changed, "--data", raw, "--out", out])
        let changedRows = try ledgerRows(out)
        XCTAssertEqual(changedRows.count, 6)
        XCTAssertTrue(Set(changedRows).isDisjoint(with: first), "the changed parameter gives new rows")
        try cals(["preprocess", manifest, "--data", raw, "--out", out])
        let current = try ledgerRows(out)
        XCTAssertNotEqual(current, changedRows)
        // A complete shard the ledger does not record, named to sort after every recorded one.
        let shards = (out as NSString).appendingPathComponent("shards")
        let recorded = Set(current.map { $0.split(separator: "\t")[4] })
        let copy = (shards as NSString).appendingPathComponent("shard-zzzz-unrecorded.h5")
        try FileManager.default.copyItem(atPath: (shards as NSString).appendingPathComponent(String(recorded.first!)), toPath: copy)

        let sync = scratch.path("sync"), syncCheckpoint = sync + "/checkpoint.safetensors"
        let trained = try cals(["train", "sync", "--data", out, "--out", sync, "--steps", "2", "--batch", "2", "--windows", "2",
                                "--width", "0.25", "--eval-every", "2", "--eval-clips", "1"])
        XCTAssertTrue(trained.contains("4 training clips of 2 speakers"), trained)
        let read = try runRows(sync)
        XCTAssertEqual(read.count, 5, "4 training clips and 1 held-out clip")
        XCTAssertTrue(Set(read).isSubset(of: current), "\(read)\n\(current)")
        XCTAssertFalse(read.contains { $0.contains("unrecorded") })
        let evaluated = try cals(["eval", "sync", "--checkpoint", sync, "--data", out, "--speakers", "all", "--json"])
        XCTAssertEqual(evaluated.split(separator: "\n").count, 3, evaluated)
        try FileManager.default.removeItem(atPath: copy)

        // A speaker's items removed from the data folder: gone from every trainer and evaluator,
        // lip units included (they are made for every recorded frame shard, the removed rows too).
        let removed = speakers[0]
        try FileManager.default.removeItem(atPath: (raw as NSString).appendingPathComponent(removed))
        let again = try cals(["preprocess", manifest, "--data", raw, "--out", out, "--lip-units", syncCheckpoint])
        XCTAssertTrue(again.contains("removed 2"), again)
        let remaining = try ledgerRows(out)
        XCTAssertEqual(remaining.count, 4)
        XCTAssertFalse(remaining.contains { $0.split(separator: "\t")[2] == removed })

        let sync2 = scratch.path("sync-after")
        let retrained = try cals(["train", "sync", "--data", out, "--out", sync2, "--steps", "2", "--batch", "2", "--windows", "2",
                                  "--width", "0.25", "--eval-every", "2", "--eval-clips", "2"])
        XCTAssertTrue(retrained.contains("2 training clips of 1 speakers, 2 held-out clips"), retrained)
        XCTAssertEqual(Set(try runRows(sync2)), Set(remaining))
        let reevaluated = try cals(["eval", "sync", "--checkpoint", sync, "--data", out, "--speakers", "all", "--json"])
        XCTAssertEqual(reevaluated.split(separator: "\n").count, 2, reevaluated)
        XCTAssertFalse(reevaluated.contains("\"\(removed)\""), reevaluated)
        let refused = try TestSupport.run(TestEnv.calsBinary, ["eval", "sync", "--checkpoint", sync, "--data", out, "--speakers", removed])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("speaker '\(removed)' has no clip"), refused.stderr)

        let a2l = scratch.path("a2l")
        let pretrained = try cals(["train", "a2l", "--data", out, "--out", a2l, "--steps", "2", "--layers", "1", "--dim", "16",
                                   "--heads", "2", "--ff", "32", "--batch", "2", "--frames", "10", "--warmup", "1", "--eval-every", "2",
                                   "--eval-windows", "2"])
        XCTAssertTrue(pretrained.contains("2 training clips of 1 speakers"), pretrained)
        XCTAssertEqual(Set(try runRows(a2l)), Set(remaining))
        let unscored = try TestSupport.run(TestEnv.calsBinary, ["eval", "a2l", "--checkpoint", a2l + "/checkpoint.safetensors",
                                                                "--data", out, "--speakers", removed, "--json", scratch.path("a2l.json")])
        XCTAssertNotEqual(unscored.status, 0)
        XCTAssertTrue(unscored.stderr.contains("no evaluation segment (speakers \(removed))"), unscored.stderr)
        let experiment = try TestSupport.run(TestEnv.calsBinary, ["experiment", "context", "--checkpoint", a2l + "/checkpoint.safetensors",
                                                                  "--data", out, "--speakers", removed, "--out", scratch.path("context")])
        XCTAssertNotEqual(experiment.status, 0)
        XCTAssertTrue(experiment.stderr.contains("no evaluation segment (speakers \(removed))"), experiment.stderr)

        let l2f = scratch.path("l2f")
        try cals(["train", "l2f", "--data", out, "--sync", sync2, "--a2l", a2l, "--out", l2f, "--steps", "1",
                  "--batch", "1", "--widths", "4,8,8,8,8", "--grid-every", "1", "--checkpoint-every", "1"])
        let l2fRows = try runRows(l2f)
        XCTAssertEqual(l2fRows.count, 3, "2 training clips and the grid's held-out clip")
        XCTAssertTrue(Set(l2fRows).isSubset(of: remaining), "\(l2fRows)")
        let scored = try cals(["eval", "l2f", "--checkpoint", l2f, "--sync", sync2, "--data", out, "--split", "all",
                               "--landmark-model", scratch.path("no-landmarks.dat")])   // every speaker by default
        XCTAssertTrue(scored.contains("L2F evaluation on split 'all': 4 clips"), scored)
        XCTAssertTrue(scored.contains("copy reference"), scored)
        let everyone = try cals(["eval", "l2f", "--checkpoint", l2f, "--sync", sync2, "--data", out, "--split", "all",
                                 "--speakers", "all", "--no-baselines", "--landmark-model", scratch.path("no-landmarks.dat")])
        XCTAssertTrue(everyone.contains("L2F evaluation on split 'all': 4 clips"), everyone)   // "all" is every speaker, not a name
        XCTAssertFalse(everyone.contains("copy reference") || everyone.contains("real video"), everyone)
        let notScored = try TestSupport.run(TestEnv.calsBinary, ["eval", "l2f", "--checkpoint", l2f, "--sync", sync2, "--data", out,
                                                                 "--split", "all", "--speakers", removed])
        XCTAssertNotEqual(notScored.status, 0)
        XCTAssertTrue(notScored.stderr.contains("no clip of split 'all' of speakers \(removed)"), notScored.stderr)
    }
}
