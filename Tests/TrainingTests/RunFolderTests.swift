import Foundation
import Dataset
import NN
import TestSupport
import Training
import XCTest

/// A new run into a folder that holds a checkpoint: refused (library and `cals train`), unless
/// `--resume` continues it or `--fresh` discards it.
final class RunFolderTests: XCTestCase {
    func testANewRunDoesNotOverwriteACheckpoint() throws {
        let scratch = ScratchDir("run-folder")
        try writeSyntheticDataset(scratch.path("data"))
        let data = try ProcessedDataset(outFolder: scratch.path("data"))
        let run = scratch.path("run")
        var config = tinyTrainingConfig()
        config.steps = 2
        try SyncTrainer(config: config, data: data, out: run).run()
        let checkpoint = try XCTUnwrap(FileManager.default.contents(atPath: run + "/checkpoint.safetensors"))

        let refusal = "\(run): holds a checkpoint at step 2; use --resume to continue or --fresh to start over"
        XCTAssertThrowsError(try SyncTrainer(config: config, data: data, out: run)) { XCTAssertEqual("\($0)", refusal) }
        XCTAssertThrowsError(try SyncTrainer(config: config, data: data, out: run, resume: true, fresh: true)) {
            XCTAssertTrue("\($0)".contains("exclude each other"), "\($0)")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: run + "/checkpoint.safetensors"), checkpoint, "left alone")

        // The command line says the same in one line, and leaves the checkpoint alone too.
        let cli = try TestSupport.run(TestEnv.calsBinary, ["train", "sync", "--data", scratch.path("data"), "--out", run])
        XCTAssertEqual(cli.status, 1)
        XCTAssertEqual(cli.stderr, "error: \(refusal)\n")
        let both = try TestSupport.run(TestEnv.calsBinary, ["train", "sync", "--data", scratch.path("data"), "--out", run,
                                                            "--resume", "--fresh"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--resume and --fresh exclude each other"), both.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: run + "/checkpoint.safetensors"), checkpoint, "left alone")

        // --fresh discards the old run: a new one from step 0, its log started over.
        let fresh = try SyncTrainer(config: config, data: data, out: run, fresh: true)
        XCTAssertEqual(fresh.step, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.checkpointPath))
        XCTAssertEqual(try String(contentsOfFile: run + "/log.csv", encoding: .utf8), "step,loss,accuracy,eval_accuracy\n")
        let cliFresh = try TestSupport.run(TestEnv.calsBinary, [
            "train", "sync", "--data", scratch.path("data"), "--out", run, "--fresh", "--steps", "1", "--batch", "2",
            "--windows", "4", "--width", "0.125", "--eval-clips", "1"])
        XCTAssertEqual(cliFresh.status, 0, cliFresh.stderr)
        XCTAssertEqual(try Safetensors.read(run + "/checkpoint.safetensors").metadata["step"], "1")

        // A resumed run keeps its seed and held-out speakers: naming others is refused, not ignored;
        // the same ones are fine, and --checkpoint-every applies to the rest of the run.
        let resumed = try XCTUnwrap(FileManager.default.contents(atPath: run + "/checkpoint.safetensors"))
        let resume = ["train", "sync", "--data", scratch.path("data"), "--out", run, "--resume", "--steps", "3"]
        let otherSeed = try TestSupport.run(TestEnv.calsBinary, resume + ["--seed", "3"])
        XCTAssertEqual(otherSeed.status, 1)
        XCTAssertEqual(otherSeed.stderr, "error: \(run)/checkpoint.safetensors: --seed 3 differs from the run's seed 1; a resumed run keeps its own\n")
        let otherHeldOut = try TestSupport.run(TestEnv.calsBinary, resume + ["--held-out", "s0"])
        XCTAssertEqual(otherHeldOut.status, 1)
        XCTAssertTrue(otherHeldOut.stderr.hasSuffix("--held-out s0 differs from the run's held-out speakers (the last one); a resumed run keeps its own\n"),
                      otherHeldOut.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: run + "/checkpoint.safetensors"), resumed, "left alone")
        let same = try TestSupport.run(TestEnv.calsBinary, resume + ["--seed", "1", "--checkpoint-every", "1", "--keep-every", "3"])
        XCTAssertEqual(same.status, 0, same.stderr)
        let metadata = try Safetensors.read(run + "/checkpoint.safetensors").metadata
        XCTAssertEqual(metadata["step"], "3")
        XCTAssertEqual(try SyncTrainingConfig.stored.read(metadata, path: run).checkpointEvery, 1)
        XCTAssertEqual(try Safetensors.read(run + "/checkpoint-000003.safetensors").metadata["step"], "3")
    }

    /// --keep-every: copies of the checkpoint at those steps stay as they were while training goes
    /// on (and on in a resumed run); the other checkpoint steps keep none.
    /// A run killed while writing its checkpoint leaves `checkpoint.safetensors.tmp-<pid>`; the next
    /// start (resumed or new) removes such files and nothing else.
    func testStartingARunRemovesTemporaryFilesAKilledRunLeft() throws {
        let scratch = ScratchDir("run-folder-temp")
        let folder = RunFolder(scratch.path("run"))
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let stale = ["checkpoint.safetensors.tmp-4242", "loss.png.tmp-17"]
        let kept = ["checkpoint.safetensors", "log.csv", "notes.tmp-draft", ".tmp-12", "data.tsv.tmp-"]
        for name in stale + kept { FileManager.default.createFile(atPath: folder.file(name), contents: Data([1, 2])) }
        try folder.prepare(resume: true, fresh: false)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)), Set(kept))

        for name in stale { FileManager.default.createFile(atPath: folder.file(name), contents: Data([1, 2])) }
        try FileManager.default.removeItem(atPath: folder.checkpointPath)
        try folder.prepare(resume: false, fresh: false)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)), Set(kept).subtracting(["checkpoint.safetensors"]))
    }

    func testKeptCheckpointsStayAsTheyWere() throws {
        let scratch = ScratchDir("kept-checkpoints")
        try writeSyntheticDataset(scratch.path("data"))
        let data = try ProcessedDataset(outFolder: scratch.path("data"))
        let run = RunFolder(scratch.path("run"))
        var config = tinyTrainingConfig()
        (config.steps, config.checkpointEvery) = (5, 3)
        let trainer = try SyncTrainer(config: config, data: data, out: run.path)
        trainer.keepEvery = 2
        try trainer.run()
        config.steps = 6
        let resumed = try SyncTrainer(config: config, data: data, out: run.path, resume: true)
        resumed.keepEvery = 2
        try resumed.run()
        let files = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("checkpoint") }.sorted()
        XCTAssertEqual(files, ["checkpoint-000002.safetensors", "checkpoint-000004.safetensors", "checkpoint-000006.safetensors",
                               "checkpoint.safetensors"])
        for step in [2, 4, 6] {
            XCTAssertEqual(try Safetensors.read(run.keptCheckpointPath(step: step)).metadata["step"], String(step))
        }
        // A kept checkpoint loads as the run was then: resuming a copy of it at step 4 to 6
        // reproduces the kept step-6 weights.
        let copy = RunFolder(scratch.path("from-4"))
        try FileManager.default.createDirectory(atPath: copy.path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: run.keptCheckpointPath(step: 4), toPath: copy.checkpointPath)
        try SyncTrainer(config: config, data: data, out: copy.path, resume: true).run()
        XCTAssertEqual(try Safetensors.read(copy.checkpointPath).tensors.mapValues(\.values),
                       try Safetensors.read(run.keptCheckpointPath(step: 6)).tensors.mapValues(\.values))
    }
}
