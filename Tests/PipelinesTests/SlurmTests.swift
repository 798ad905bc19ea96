import Foundation
import Pipelines
import TestSupport
import XCTest

/// `cals slurm preprocess`: the partition plan balanced by duration, and a real one-node Slurm
/// cluster (`SlurmTestCluster`) running the array job and the merge job.
final class SlurmTests: XCTestCase {
    func testPlanBalancesByDurationAndKeepsEarlierPlacements() throws {
        let work: [(id: String, seconds: Double)] = [("a", 10), ("b", 9), ("c", 8), ("d", 1), ("e", 1), ("f", 1)]
        let plan = try PartitionPlan.balance(work, parts: 3)
        XCTAssertEqual(plan.seconds, [10, 10, 10])
        XCTAssertEqual(plan.items, ["a": 0, "b": 1, "c": 2, "d": 2, "e": 1, "f": 2])
        // Re-planning with new items: the earlier ones stay, the new go to the least loaded parts.
        let again = try PartitionPlan.balance(work + [("g", 5), ("h", 2)], parts: 3, keeping: plan)
        XCTAssertEqual(again.items.filter { plan.items[$0.key] != nil }, plan.items)
        XCTAssertEqual(again.items["g"], 0)
        XCTAssertEqual(again.items["h"], 1)
        XCTAssertThrowsError(try PartitionPlan.balance(work, parts: 2, keeping: plan))
        // A partition with the plan takes exactly its items; ids not in the plan go by hash.
        var partition = try Partition(index: 2, count: 3)
        partition.plan = plan.items
        XCTAssertEqual(work.map(\.id).filter(partition.contains), ["c", "d", "f"])
    }

    /// The written plan balances the probed durations: a 3.6 s clip against three of 1.2 s.
    func testWrittenPlanBalancesProbedDurations() throws {
        let s = ScratchDir("slurm-plan")
        try Fixture.clip(s.path("data/spk/long.mp4"), seconds: 3.6)
        for i in 0..<3 { try Fixture.clip(s.path("data/spk/short\(i).mp4"), frequency: 300 + 100 * i) }
        try Fixture.manifest(s.path("clips.yaml"))
        let out = s.path("out")
        let r = try Fixture.cals(["slurm", "preprocess", s.path("clips.yaml"), "--data", s.path("data"), "--out", out,
                                  "--tasks", "2", "--sbatch-options=--time 10:00 --mem=1G"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let plan = try PartitionPlan.load(out + "/parts/plan.json")
        XCTAssertEqual(plan.items.count, 4)
        let longPart = try XCTUnwrap(plan.items["spk/long"])
        XCTAssertEqual(plan.items.filter { $0.value == longPart }.keys.sorted(), ["spk/long"])
        XCTAssertEqual(plan.seconds[0], plan.seconds[1], accuracy: 0.3)
        let script = try String(contentsOfFile: out + "/slurm/preprocess.sbatch", encoding: .utf8)
        XCTAssertTrue(script.contains("#SBATCH --array=0-1\n") && script.contains("#SBATCH --time 10:00\n#SBATCH --mem=1G\n"), script)
        XCTAssertTrue(script.contains("--partition \"$SLURM_ARRAY_TASK_ID/2\""), script)
        let status = try Fixture.cals(["status", "--out", out]).stdout
        XCTAssertTrue(status.contains("part 0: not started, ") && status.contains("part 1: not started, "), status)
    }

    /// The training script runs N × K ranks of `cals train MODEL --distributed` with the flags
    /// after --, started by srun --mpi=pmix or by mpirun; flags the script sets are refused.
    func testTrainScriptRunsTheRanksOfAnMPIJob() throws {
        let s = ScratchDir("slurm-train")
        for (launcher, start) in [("srun", "exec srun --mpi=pmix '"), ("mpirun", "exec mpirun --bind-to none '")] {
            let out = s.path("run-\(launcher)")
            let r = try Fixture.cals(["slurm", "train", "sync", "--out", out, "--nodes", "8", "--tasks-per-node", "2",
                                      "--cpus-per-task", "4", "--launcher", launcher, "--sbatch-options=--time 1:00:00",
                                      "--", "--data", "/shared/my data", "--batch", "64"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let script = try String(contentsOfFile: out + "/slurm/train.sbatch", encoding: .utf8)
            for line in ["#SBATCH --nodes=8\n", "#SBATCH --ntasks-per-node=2\n", "#SBATCH --cpus-per-task=4\n",
                         "#SBATCH --time 1:00:00\n", start, "train sync --out '\(out)'",
                         "--threads \"${SLURM_CPUS_PER_TASK:-1}\" --distributed '--data' '/shared/my data' '--batch' '64'\n"] {
                XCTAssertTrue(script.contains(line), "\(line) not in\n\(script)")
            }
            XCTAssertEqual(try TestSupport.run("/bin/bash", ["-n", out + "/slurm/train.sbatch"]).status, 0, "bash syntax")
        }
        let refused = try Fixture.cals(["slurm", "train", "sync", "--out", s.path("x"), "--nodes", "2", "--", "--threads", "3"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--threads after -- is set by the script"), refused.stderr)
    }

    /// One cluster per test, stopped in tearDown.
    private var cluster: SlurmTestCluster?

    override func tearDown() {
        cluster = nil
        super.tearDown()
    }

    /// Starts the test cluster (skips the test when Slurm is not installed).
    private func startCluster() throws -> SlurmTestCluster {
        let missing = try SlurmTestCluster.missingPrograms()
        try XCTSkipUnless(missing.isEmpty, "\(missing) not installed (make apt installs slurm-wlm and munge)")
        let started = try SlurmTestCluster()
        cluster = started
        return started
    }

    /// The array and merge job ids `cals slurm preprocess --submit` printed.
    private func jobIDs(_ stdout: String) throws -> (array: String, merge: String) {
        let words = try XCTUnwrap(stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("submitted array job ") },
                                  stdout).split(separator: " ")
        return (String(words[3]), String(words[9]))
    }

    func testArrayJobOnARealClusterMergesToTheSingleProcessRun() throws {
        let s = ScratchDir("slurm")
        let cluster = try startCluster(), environment = cluster.environment
        let data = s.path("data")
        let corpus = try Fixture.cals(["demo-corpus", "--out", data, "--speakers", "3", "--clips", "2", "--seconds", "2",
                                       "--faces", TestEnv.repoRoot.path + "/data/faces", "--threads", "1"])
        XCTAssertEqual(corpus.status, 0, corpus.stderr)
        let manifest = TestEnv.repoRoot.path + "/manifests/demo.yaml"
        let single = s.path("single")
        try Fixture.preprocess(manifest, data: data, out: single, extra: ["--workers", "1"])
        let expected = try Fixture.readback(single)
        XCTAssertEqual(expected.items.count, 6)

        // Part 1 fails (test hook): the merge job can never run.
        let out = s.path("out")
        let arguments = ["slurm", "preprocess", manifest, "--data", data, "--out", out, "--tasks", "3", "--submit"]
        var r = try TestSupport.run(TestEnv.calsBinary, arguments,
                                    environment: environment.merging(["CALS_TEST_FAIL_PARTITION": "1"]) { $1 })
        XCTAssertEqual(r.status, 0, r.stderr)
        var jobs = try jobIDs(r.stdout)
        var merge = try cluster.waitForJob(jobs.merge)
        XCTAssertEqual(merge.state, "PENDING")
        XCTAssertEqual(merge.reason, "DependencyNeverSatisfied")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/ledger.sqlite"), "nothing merged")
        let status = try Fixture.cals(["status", "--out", out]).stdout
        XCTAssertTrue(status.contains("part 1: not started"), status)
        XCTAssertTrue(status.contains("part 0: ") && status.contains("part 2: "), status)
        XCTAssertEqual(try TestSupport.run("scancel", [jobs.merge], environment: environment).status, 0)

        // Submitted again: parts 0 and 2 are up to date, part 1 runs, the merge completes.
        r = try TestSupport.run(TestEnv.calsBinary, arguments, environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        jobs = try jobIDs(r.stdout)
        merge = try cluster.waitForJob(jobs.merge)
        let mergeLog = (try? String(contentsOfFile: out + "/slurm/merge.log", encoding: .utf8)) ?? ""
        XCTAssertEqual(merge.state, "COMPLETED", mergeLog)
        for part in [0, 2] {
            let log = try String(contentsOfFile: out + "/slurm/part-\(part).log", encoding: .utf8)
            XCTAssertTrue(log.contains("processed 0, up to date "), "part \(part): \(log)")
        }
        XCTAssertEqual(try Fixture.readback(out).items, expected.items)
        let final = try Fixture.cals(["status", "--out", out]).stdout
        let planned = try PartitionPlan.load(out + "/parts/plan.json")
        for part in 0..<3 {
            let count = planned.items.values.filter { $0 == part }.count
            XCTAssertTrue(final.contains("part \(part): \(count) of \(count) items finished"), final)
        }
    }
}
