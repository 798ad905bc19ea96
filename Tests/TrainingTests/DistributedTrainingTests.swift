import Dataset
import Foundation
import Models
import NN
import Tensor
import TestSupport
import Training
import XCTest

/// Data-parallel training through the real binary under Open MPI: R = 2 ranks with B/2 each give
/// the weights of one process with the global batch B (sync batch norm, averaged gradients), and a
/// killed 2-rank run resumes on 1 rank and on 2 to the same weights.
final class DistributedTrainingTests: XCTestCase {
    let scratch = ScratchDir("distributed")
    let mpirun = "/usr/bin/mpirun"

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: mpirun),
                          "mpirun is not installed (`make apt` installs openmpi-bin)")
    }

    /// `cals arguments…` as one process (`ranks` nil) or under `mpirun -np ranks` with --distributed.
    func cals(_ arguments: [String], ranks: Int? = nil) throws {
        let result: CommandResult
        if let ranks {
            result = try TestSupport.run(mpirun, ["-np", "\(ranks)", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
                                      TestEnv.calsBinary] + arguments + ["--distributed"])
        } else {
            result = try TestSupport.run(TestEnv.calsBinary, arguments)
        }
        XCTAssertEqual(result.status, 0, "cals \(arguments.joined(separator: " ")) on \(ranks ?? 1) ranks:\n\(result.stderr)")
    }

    /// Asserts that the weights of two checkpoints (every tensor outside the optimiser state)
    /// differ by at most 1e-5 of the largest weight magnitude.
    func assertSameWeights(_ pathA: String, _ pathB: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try Safetensors.read(pathA), b = try Safetensors.read(pathB)
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
        XCTAssertEqual(a.metadata["step"] ?? a.metadata["generator_step"], b.metadata["step"] ?? b.metadata["generator_step"],
                       file: file, line: line)
        let weights = a.tensors.filter { !$0.key.hasPrefix("optimizer.") }
        let scale = weights.values.map { $0.values.map(abs).max() ?? 0 }.max() ?? 0
        var worst = (name: "", difference: Float(0))
        for (name, t) in weights {
            guard let u = b.tensors[name] else { continue }
            let difference = zip(t.values, u.values).map { abs($0 - $1) }.max() ?? 0
            if difference > worst.difference { worst = (name, difference) }
        }
        XCTAssertLessThanOrEqual(worst.difference, 1e-5 * scale, "largest difference in \(worst.name)", file: file, line: line)
    }

    /// Asserts that two runs logged the same values at every step, within 1e-5 relative.
    func assertSameLogs(_ runA: String, _ runB: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try logRows(runA), b = try logRows(runB)
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (rowA, rowB) in zip(a, b) {
            for (x, y) in zip(rowA, rowB) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(abs(x), 1e-6), file: file, line: line) }
        }
    }

    /// The values of a run's log.csv, row by row (empty fields left out).
    func logRows(_ run: String) throws -> [[Double]] {
        let rows = try String(contentsOfFile: scratch.path("\(run)/log.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        return rows.map { $0.split(separator: ",").compactMap { Double($0) } }
    }

    /// The flags of `cals train sync` in these tests but --threads (a 2-clip synthetic dataset in `data`).
    func syncFlags() throws -> [String] {
        try writeSyntheticDataset(scratch.path("data"), clips: 2, frames: 40)
        return ["--data", scratch.path("data"), "--width", "0.25", "--batch", "4", "--windows", "2",
                "--loss-offsets", "2", "--eval-clips", "1", "--eval-every", "1000"]
    }

    /// `cals train sync` with these tests' flags, one thread per process.
    func syncTraining() throws -> [String] { ["train", "sync"] + (try syncFlags()) + ["--threads", "1"] }

    func testSyncEncoderOnTwoRanksEqualsOneProcess() throws {
        let train = try syncTraining()
        try cals(train + ["--out", scratch.path("one"), "--steps", "3"])
        try cals(train + ["--out", scratch.path("two"), "--steps", "3"], ranks: 2)
        try assertSameWeights(scratch.path("one/checkpoint.safetensors"), scratch.path("two/checkpoint.safetensors"))
        // The logged loss and accuracy are the means over the whole batch, as one process logs them.
        try assertSameLogs("one", "two")
    }

    /// A 2-rank run checkpointing every step, SIGKILLed (mpirun and its ranks) as soon as its first
    /// checkpoint is there, so the kill lands at a step of its own: resumed on 1 rank and on 2, it
    /// reaches the weights and log of an uninterrupted run to the same step.
    func testKilledTwoRankRunResumesOnOneAndTwo() throws {
        let train = try syncTraining()
        let killed = scratch.path("killed"), checkpoint = killed + "/checkpoint.safetensors"
        // Open MPI's session folder and shared-memory segments, which a killed job leaves behind, go to the scratch folder.
        let leftovers = scratch.path("mpi")
        try FileManager.default.createDirectory(atPath: leftovers, withIntermediateDirectories: true)
        let job = Process()
        job.executableURL = URL(fileURLWithPath: mpirun)
        job.arguments = ["-np", "2", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
                         "--mca", "orte_tmpdir_base", leftovers, "--mca", "btl_vader_backing_directory", leftovers, TestEnv.calsBinary]
            + train + ["--out", killed, "--steps", "100", "--checkpoint-every", "1", "--distributed"]
        job.standardOutput = FileHandle.nullDevice
        job.standardError = FileHandle.nullDevice
        try job.run()
        let deadline = Date().addingTimeInterval(300)
        while !FileManager.default.fileExists(atPath: checkpoint) && job.isRunning && Date() < deadline { usleep(10_000) }
        killTree(job.processIdentifier)
        job.waitUntilExit()
        XCTAssertEqual(job.terminationReason, .uncaughtSignal, "the run ended before it was killed")
        let step = try XCTUnwrap(Int(try XCTUnwrap(Safetensors.read(checkpoint).metadata["step"])))
        XCTAssertLessThan(step, 100, "the run ended before it was killed")

        let last = ["--steps", "\(step + 2)"]
        try cals(train + ["--out", scratch.path("one")] + last)
        for (run, ranks) in [("resumed-on-1", nil), ("resumed-on-2", 2)] as [(String, Int?)] {
            try FileManager.default.copyItem(atPath: killed, toPath: scratch.path(run))
            try cals(train + ["--out", scratch.path(run), "--resume"] + last, ranks: ranks)
            try assertSameWeights(scratch.path("one/checkpoint.safetensors"), scratch.path("\(run)/checkpoint.safetensors"))
            try assertSameLogs("one", run)
        }
    }

    /// The sbatch script of `cals slurm train` submitted to a real one-node Slurm cluster, its 2
    /// ranks started by mpirun and by srun --mpi=pmix: each job writes the checkpoint and log of a
    /// direct `mpirun -np 2` run.
    func testTrainingJobOnARealSlurmClusterEqualsMpirun() throws {
        let missing = try SlurmTestCluster.missingPrograms()
        try XCTSkipUnless(missing.isEmpty, "\(missing) not installed (make apt installs slurm-wlm and munge)")
        let flags = try syncFlags() + ["--steps", "2"]
        try cals(["train", "sync"] + flags + ["--threads", "1", "--out", scratch.path("direct")], ranks: 2)
        let cluster = try SlurmTestCluster()
        // The job runs as root here, which Open MPI refuses unless told (sbatch passes the environment on).
        let environment = cluster.environment.merging(["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { $1 }
        for launcher in ["mpirun", "srun"] {
            let run = scratch.path("slurm-\(launcher)")
            let r = try TestSupport.run(TestEnv.calsBinary, ["slurm", "train", "sync", "--out", run, "--nodes", "1",
                                                             "--tasks-per-node", "2", "--cpus-per-task", "1", "--launcher", launcher,
                                                             "--submit", "--"] + flags, environment: environment)
            XCTAssertEqual(r.status, 0, r.stderr)
            let job = try XCTUnwrap(r.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("submitted job ") },
                                    r.stdout).dropFirst("submitted job ".count)
            let state = try cluster.waitForJob(String(job))
            let log = (try? String(contentsOfFile: "\(run)/slurm/train-\(job).log", encoding: .utf8)) ?? "(no job log)"
            XCTAssertEqual(state.state, "COMPLETED", "\(launcher): \(log)")
            try assertSameWeights(scratch.path("direct/checkpoint.safetensors"), run + "/checkpoint.safetensors")
            try assertSameLogs("direct", "slurm-\(launcher)")
        }
    }

    /// SIGKILLs the process `root` and every process below it, as a crashed node would end them
    /// (mpirun starts each rank in a process group of its own, so a group kill would miss them).
    func killTree(_ root: pid_t) {
        var children: [pid_t: [pid_t]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            // /proc/PID/stat: "PID (command) STATE PPID …"; the command may hold spaces and parentheses.
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
        }
        var victims = [root], next = 0
        while next < victims.count {
            victims += children[victims[next]] ?? []
            next += 1
        }
        for pid in victims { kill(pid, SIGKILL) }
    }

    /// With dropout: a sample's masks are those of its place in the global batch, whichever rank holds it.
    func testA2LOnTwoRanksEqualsOneProcess() throws {
        try writeSyntheticDataset(scratch.path("data"), clips: 2, frames: 30)
        try writeSyntheticUnits(scratch.path("data"))
        let train = ["train", "a2l", "--data", scratch.path("data"), "--layers", "1", "--dim", "16", "--heads", "2", "--ff", "32",
                     "--dropout", "0.3", "--batch", "4", "--frames", "10", "--eval-windows", "4", "--eval-every", "1000",
                     "--warmup", "1", "--threads", "1", "--steps", "3"]
        try cals(train + ["--out", scratch.path("one")])
        try cals(train + ["--out", scratch.path("two")], ranks: 2)
        try assertSameWeights(scratch.path("one/checkpoint.safetensors"), scratch.path("two/checkpoint.safetensors"))
    }

    func testL2FOnTwoRanksEqualsOneProcess() throws {
        try writeSyntheticDataset(scratch.path("data"), clips: 2, frames: 20)
        var rng = RandomGenerator(seed: 2)
        try writeTinySyncCheckpoint(scratch.path("sync.safetensors"), rng: &rng)
        // Discriminator and generator steps both reduced; the window audio encoder has no dropout.
        let train = ["train", "l2f", "--data", scratch.path("data"), "--sync", scratch.path("sync.safetensors"),
                     "--audio-encoder", "window", "--batch", "2", "--frames", "3", "--widths", "4,6,8,8,8", "--grid-every", "1000",
                     "--threads", "1"]
        try cals(train + ["--out", scratch.path("one"), "--steps", "1"])
        try cals(train + ["--out", scratch.path("two"), "--steps", "1"], ranks: 2)
        try assertSameWeights(scratch.path("one/checkpoint.safetensors"), scratch.path("two/checkpoint.safetensors"))
        // One step only: later steps part by more than 1e-5 as any change of summation order
        // does (a gradient element that is rounding noise flips the sign of Adam's ±lr update;
        // --threads 2 against 1 in one process parts them more than 2 ranks do).
        try assertSameLogs("one", "two")
    }

    /// A2L as the lip encoder, fine-tuned, with dropout 0.3: A2L runs window by window, and each
    /// window's masks are those of its place in the global batch, whichever rank runs it.
    func testL2FWithA2LDropoutOnTwoRanksEqualsOneProcess() throws {
        try writeSyntheticDataset(scratch.path("data"), clips: 2, frames: 20)
        var rng = RandomGenerator(seed: 2)
        try writeTinySyncCheckpoint(scratch.path("sync.safetensors"), rng: &rng)
        try writeTinyA2LCheckpoint(scratch.path("a2l.safetensors"), dropout: 0.3, rng: &rng)
        let train = ["train", "l2f", "--data", scratch.path("data"), "--sync", scratch.path("sync.safetensors"),
                     "--a2l", scratch.path("a2l.safetensors"), "--audio-encoder", "a2l", "--batch", "2", "--frames", "3",
                     "--widths", "4,6,8,8,8", "--grid-every", "1000", "--threads", "1", "--steps", "1"]
        try cals(train + ["--out", scratch.path("one")])
        try cals(train + ["--out", scratch.path("two")], ranks: 2)
        try assertSameWeights(scratch.path("one/checkpoint.safetensors"), scratch.path("two/checkpoint.safetensors"))
        try assertSameLogs("one", "two")
    }

    /// Buckets of 10 KiB (many per step): all-reduced during backward, as they complete, they give
    /// exactly the weights of all-reducing them after backward (2 ranks: each sum is one addition).
    func testBucketsOverlappedWithBackwardEqualBucketsAfterIt() throws {
        let train = try syncTraining() + ["--steps", "2", "--bucket-mb", "0.01"]
        try cals(train + ["--out", scratch.path("overlap")], ranks: 2)
        try cals(train + ["--out", scratch.path("after"), "--no-overlap"], ranks: 2)
        let a = try Safetensors.read(scratch.path("overlap/checkpoint.safetensors")).tensors
        let b = try Safetensors.read(scratch.path("after/checkpoint.safetensors")).tensors
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertEqual(a.keys.filter { a[$0]?.values != b[$0]?.values }.sorted(), [], "tensors that differ")
    }

    /// The data-parallel bench reports how many buckets started before backward ended: all of
    /// them with overlap (every parameter of the sync encoder gets a gradient), none without.
    func testBucketsStartDuringBackward() throws {
        func bench(_ flags: [String]) throws -> [String: Double] {
            let result = try TestSupport.run(mpirun, ["-np", "2", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
                                                      TestEnv.calsBinary, "bench", "data-parallel", "--batch", "2", "--windows", "2",
                                                      "--width", "0.25", "--threads", "1", "--steps", "1", "--warmup", "0",
                                                      "--bucket-mb", "0.05", "--json"] + flags)
            XCTAssertEqual(result.status, 0, result.stderr)
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Double]
            return try XCTUnwrap(object, result.stdout)
        }
        let overlapped = try bench([])
        XCTAssertGreaterThan(overlapped["buckets"] ?? 0, 3)
        XCTAssertEqual(overlapped["buckets_started_in_backward"], overlapped["buckets"])
        let after = try bench(["--no-overlap"])
        XCTAssertEqual(after["buckets"], overlapped["buckets"])
        XCTAssertEqual(after["buckets_started_in_backward"], 0)
    }
}
