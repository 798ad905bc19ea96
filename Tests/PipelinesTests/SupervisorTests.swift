import Common
import Foundation
import Pipelines
import Shards
import TestSupport
import XCTest

/// The supervised workers of `cals preprocess` (crash, hang, retry) and faults of the machine
/// (full disk, read-only output), through the real binary.
final class SupervisorTests: XCTestCase {
    /// tmpfs mounts made by a test, unmounted in tearDown.
    private var mounts: [String] = []

    override func tearDown() {
        for mount in mounts.reversed() { _ = try? TestSupport.run("umount", ["-l", mount]) }
        mounts = []
        super.tearDown()
    }

    /// Mounts a tmpfs of `megabytes` at `folder`, or skips the test where mounting is not allowed.
    private func mountTmpfs(_ folder: String, megabytes: Int) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let r = try TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", folder])
        guard r.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root and mount rights): \(r.stderr)")
        }
        mounts.append(folder)
    }

    private func remount(_ folder: String, _ options: String) throws {
        let r = try TestSupport.run("mount", ["-o", "remount,\(options)", folder])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Three clips `spk/c0..c2` and a manifest.
    private func dataset(_ s: ScratchDir, timeLimit: Double = 60) throws -> (data: String, manifest: String) {
        for (i, f) in [330, 440, 550].enumerated() { try Fixture.clip(s.path("data/spk/c\(i).mp4"), frequency: f) }
        try Fixture.manifest(s.path("clips.yaml"), targetBytes: 100_000_000, timeLimit: timeLimit)
        return (s.path("data"), s.path("clips.yaml"))
    }

    private func preprocess(_ manifest: String, _ data: String, _ out: String, _ extra: [String] = [],
                            environment: [String: String] = [:]) throws -> CommandResult {
        try TestSupport.run(TestEnv.calsBinary, ["preprocess", manifest, "--data", data, "--out", out] + extra,
                            environment: environment)
    }

    private func quarantined(_ out: String) throws -> [String: LedgerItem] {
        try Ledger(existing: out).items().filter { $0.value.state == "quarantined" }
    }

    func testCrashedAndHungItemsAreQuarantinedKilledAndRetried() throws {
        let s = ScratchDir("supervisor")
        let (data, manifest) = try dataset(s, timeLimit: 3)
        let out = s.path("out")
        let hooks = ["CALS_TEST_CRASH_ITEM": "spk/c1", "CALS_TEST_HANG_ITEM": "spk/c2"]
        var r = try preprocess(manifest, data, out, environment: hooks)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("processed 1, up to date 0, quarantined 2"), r.stdout)
        var items = try quarantined(out)
        XCTAssertEqual(items.keys.sorted(), ["spk/c1", "spk/c2"])
        let crash = try XCTUnwrap(items["spk/c1"])
        XCTAssertTrue(crash.error.contains("crashed: signal 6 (SIGABRT); last line on stderr: cals worker: test hook CALS_TEST_CRASH_ITEM"),
                      crash.error)
        XCTAssertEqual(crash.quarantineCause, .crashed)
        let hang = try XCTUnwrap(items["spk/c2"])
        XCTAssertTrue(hang.error.hasSuffix("c2.mp4: timed out after 3 s"), hang.error)
        XCTAssertEqual(hang.quarantineCause, .timedOut)
        XCTAssertEqual(hang.quarantineTimeLimit, 3)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0"])
        let status = try Fixture.cals(["status", "--out", out]).stdout
        XCTAssertTrue(status.contains("quarantined: 2\n  spk/c1: ") && status.contains("crashed: signal 6 (SIGABRT)"), status)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/shards/.work"), "the work folder is removed")

        // Same cals, same limit: both stay quarantined (and the hooks are gone).
        r = try preprocess(manifest, data, out)
        XCTAssertTrue(r.stdout.contains("processed 0, up to date 1, quarantined 0 (+2 unchanged"), r.stdout)

        // A higher time limit retries the timed-out item only.
        try Fixture.manifest(manifest, targetBytes: 100_000_000, timeLimit: 60)
        r = try preprocess(manifest, data, out)
        XCTAssertTrue(r.stdout.contains("processed 1, up to date 1, quarantined 0 (+1 unchanged"), r.stdout)
        items = try quarantined(out)
        XCTAssertEqual(items.keys.sorted(), ["spk/c1"])

        // --retry-quarantined retries the crashed one.
        r = try preprocess(manifest, data, out, ["--retry-quarantined"])
        XCTAssertTrue(r.stdout.contains("processed 1, up to date 2, quarantined 0"), r.stdout)
        XCTAssertEqual(try quarantined(out), [:])
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0", "spk/c1", "spk/c2"])
    }

    /// A run that failed with the one line `error: <out>…<cause>` (besides progress lines).
    private func expectStopped(_ r: CommandResult, _ out: String, _ cause: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        expectStopped(status: r.status, stdout: r.stdout, stderr: r.stderr, out, cause, file: file, line: line)
    }

    private func expectStopped(status: Int32, stdout: String, stderr: String, _ out: String, _ cause: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(status, 0, file: file, line: line)
        let lines = stderr.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("clips: ") }
        XCTAssertEqual(lines.count, 1, stderr, file: file, line: line)
        let first = lines.first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("error: \(out)") && first.hasSuffix(cause), first, file: file, line: line)
        XCTAssertFalse(stdout.contains("quarantined"), stdout, file: file, line: line)
    }

    /// The three clips and an output folder on a 40 MB tmpfs `disk`.
    private func datasetWithOutputOnTmpfs(_ s: ScratchDir) throws -> (data: String, manifest: String, disk: String, out: String) {
        let (data, manifest) = try dataset(s)
        let disk = s.path("disk")
        try mountTmpfs(disk, megabytes: 40)
        return (data, manifest, disk, disk + "/out")
    }

    func testFullDiskStopsTheRunAndQuarantinesNothing() throws {
        let s = ScratchDir("full")
        let (data, manifest, disk, out) = try datasetWithOutputOnTmpfs(s)
        // Leave about 1 MB: less than the rows of one item (≈ 30 crops of 48 KiB).
        let filler = disk + "/filler"
        let free = try XCTUnwrap(try FileManager.default.attributesOfFileSystem(forPath: disk)[.systemFreeSize] as? NSNumber).intValue
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: free - 1_000_000)))

        expectStopped(try preprocess(manifest, data, out), out, "No space left on device (ENOSPC)")
        XCTAssertEqual(try quarantined(out), [:])

        // Space freed: the re-run processes every item, and h5py reads them.
        try FileManager.default.removeItem(atPath: filler)
        let again = try preprocess(manifest, data, out)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("quarantined 0"), again.stdout)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0", "spk/c1", "spk/c2"])
        XCTAssertEqual(try quarantined(out), [:])
    }

    func testReadOnlyOutputStopsTheRunAndQuarantinesNothing() throws {
        let s = ScratchDir("readonly")
        let (data, manifest, disk, out) = try datasetWithOutputOnTmpfs(s)
        XCTAssertEqual(try preprocess(manifest, data, out).status, 0)
        try Fixture.clip(s.path("data/spk/c1.mp4"), frequency: 880)  // changed: to process again

        try remount(disk, "ro")
        expectStopped(try preprocess(manifest, data, out), out, "Read-only file system (EROFS)")

        try remount(disk, "rw")
        XCTAssertEqual(try quarantined(out), [:])
        let again = try preprocess(manifest, data, out)
        XCTAssertTrue(again.stdout.contains("processed 1, up to date 2, quarantined 0"), again.stdout + again.stderr)
    }

    /// After a run stopped by a fault of the machine: the next run processes all three items.
    private func expectNextRunProcessesEverything(_ manifest: String, _ data: String, _ out: String,
                                                  line: UInt = #line) throws {
        let again = try preprocess(manifest, data, out)
        XCTAssertEqual(again.status, 0, again.stderr, line: line)
        XCTAssertTrue(again.stdout.contains("processed 3, up to date 0, quarantined 0"), again.stdout, line: line)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0", "spk/c1", "spk/c2"], line: line)
    }

    /// `cals preprocess` started in the background, its stderr going to `stderrPath`.
    private func startPreprocess(_ manifest: String, _ data: String, _ out: String, stderrPath: String,
                                 environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnv.calsBinary)
        process.arguments = ["preprocess", manifest, "--data", data, "--out", out]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The live (not zombie) processes whose parent is `parent`, from /proc.
    private func children(of parent: Int32) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            let fields = processStat(pid)
            return fields.count > 1 && fields[1] == "\(parent)" && fields[0] != "Z"
        }
    }

    /// /proc/<pid>/stat after the command name: state, parent pid, ... (empty once it is gone).
    private func processStat(_ pid: Int32) -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return [] }
        return text[text.index(after: close)...].split(separator: " ").map(String.init)
    }

    /// Waits up to `seconds` for `condition`.
    private func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    /// `PRAGMA integrity_check` of the ledger by the sqlite3 program.
    private func ledgerIntegrity(_ out: String) throws -> String {
        try TestSupport.run("sqlite3", [out + "/ledger.sqlite", "PRAGMA integrity_check"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testKilledRunnerTakesItsWorkersWithItAndTheNextRunCompletes() throws {
        let s = ScratchDir("killed")
        let (data, manifest) = try dataset(s)
        let out = s.path("out")
        // One worker hangs on c1 (busy, not reading its pipe): only the parent-death signal ends it.
        let runner = try startPreprocess(manifest, data, out, stderrPath: s.path("stderr"),
                                         environment: ["CALS_TEST_HANG_ITEM": "spk/c1"])
        var workers: [Int32] = []
        XCTAssertTrue(waitFor(60) {
            workers = children(of: runner.processIdentifier)
            return workers.count == 2
        }, "two workers start")
        sleep(1)
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        XCTAssertTrue(waitFor(10) { workers.allSatisfy { processStat($0).isEmpty || processStat($0)[0] == "Z" } },
                      "workers still alive after their runner was killed: \(workers.filter { !processStat($0).isEmpty })")

        let r = try preprocess(manifest, data, out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("quarantined 0"), r.stdout)
        XCTAssertEqual(try ledgerIntegrity(out), "ok")
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0", "spk/c1", "spk/c2"])
    }

    func testItemOverTheWorkerMemoryLimitIsQuarantinedAsOutOfMemory() throws {
        let s = ScratchDir("oom")
        let (data, manifest) = try dataset(s)
        let out = s.path("out")
        // Two workers: c1's is killed at the limit; the other items finish under the same limit.
        var r = try preprocess(manifest, data, out, ["--worker-memory-limit", "1024", "--workers", "2"],
                               environment: ["CALS_TEST_ALLOCATE_ITEM": "spk/c1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("processed 2, up to date 0, quarantined 1"), r.stdout)
        let items = try quarantined(out)
        XCTAssertEqual(items.keys.sorted(), ["spk/c1"])
        let item = try XCTUnwrap(items["spk/c1"])
        XCTAssertEqual(item.quarantineCause, .outOfMemory)
        XCTAssertTrue(item.error.contains("c1.mp4: out of memory (worker memory limit 1024 MiB): resident memory reached "),
                      item.error)

        r = try preprocess(manifest, data, out, ["--retry-quarantined"])
        XCTAssertTrue(r.stdout.contains("processed 1, up to date 2, quarantined 0"), r.stdout + r.stderr)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk/c0", "spk/c1", "spk/c2"])
    }

    /// A shared library that makes write(2) and pwrite(2) fail with EIO on files whose path
    /// starts with $CALS_TEST_EIO_PREFIX (device-mapper's `error` target and the kernel's
    /// fault injection are not available in every container; this fails the real calls).
    private func eioShim(_ s: ScratchDir) throws -> String {
        let source = s.path("eio.c"), library = s.path("eio.so")
        try """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <errno.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <unistd.h>
            static int failing(int fd) {
                const char *prefix = getenv("CALS_TEST_EIO_PREFIX");
                char link[64], path[4096];
                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(link, path, sizeof path - 1);
                if (!prefix || n <= 0) return 0;
                path[n] = 0;
                return strncmp(path, prefix, strlen(prefix)) == 0;
            }
            ssize_t write(int fd, const void *b, size_t n) {
                if (failing(fd)) { errno = EIO; return -1; }
                return ((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(fd, b, n);
            }
            ssize_t pwrite(int fd, const void *b, size_t n, off_t o) {
                if (failing(fd)) { errno = EIO; return -1; }
                return ((ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite"))(fd, b, n, o);
            }
            ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) { return pwrite(fd, b, n, o); }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let r = try TestSupport.run("cc", ["-shared", "-fPIC", "-O1", "-o", library, source, "-ldl"])
        guard r.status == 0 else { throw XCTSkip("no C compiler for the EIO shim: \(r.stderr)") }
        return library
    }

    func testIOErrorOnWriteStopsTheRunAndQuarantinesNothing() throws {
        let s = ScratchDir("eio")
        let (data, manifest) = try dataset(s)
        let out = s.path("out")
        let shim = try eioShim(s)
        let r = try preprocess(manifest, data, out,
                               environment: ["LD_PRELOAD": shim, "CALS_TEST_EIO_PREFIX": out + "/shards/"])
        expectStopped(r, out, "Input/output error (EIO)")
        XCTAssertEqual(try quarantined(out), [:])
        XCTAssertEqual(try ledgerIntegrity(out), "ok")

        try expectNextRunProcessesEverything(manifest, data, out)
    }

    func testVanishedOutputFolderStopsTheRunAndQuarantinesNothing() throws {
        let s = ScratchDir("vanished")
        let (data, manifest) = try dataset(s)
        let out = s.path("out")
        // c1 waits for `go`: shards/ is removed while the run is under way, then c1 goes on.
        let go = s.path("go")
        let runner = try startPreprocess(manifest, data, out, stderrPath: s.path("stderr"),
                                         environment: ["CALS_TEST_HOLD_ITEM": "spk/c1:\(go)"])
        XCTAssertTrue(waitFor(60) { children(of: runner.processIdentifier).count == 2 }, "two workers start")
        sleep(1)
        try FileManager.default.removeItem(atPath: out + "/shards")
        FileManager.default.createFile(atPath: go, contents: nil)
        runner.waitUntilExit()
        let stderr = try String(contentsOfFile: s.path("stderr"), encoding: .utf8)
        expectStopped(status: runner.terminationStatus, stdout: "", stderr: stderr, out + "/shards",
                      "the output folder was removed during the run: No such file or directory (ENOENT)")
        XCTAssertEqual(try quarantined(out), [:])
        XCTAssertEqual(try ledgerIntegrity(out), "ok")

        try expectNextRunProcessesEverything(manifest, data, out)
    }

    /// Damage recorded with a processed item is kept by the ledger and listed by `cals status`.
    func testDamageIsRecordedAndListed() throws {
        let s = ScratchDir("damage")
        let out = s.path("out")
        let ledger = try Ledger(outFolder: out, dataset: "clips", adapter: "folder")
        var item = ProcessedItem(item: SourceItem(id: "spk/c0", source: "spk/c0.mp4", speaker: "spk", split: "train"),
                                 fingerprint: FileFingerprint(size: 1, mtime: 2, contentHash: "h"),
                                 stageKeys: [("decode", "k0"), ("shard", "k1")],
                                 rows: [RowRange(segment: 0, firstRow: 0, rowCount: 30)])
        item.videoDamage = StreamDamage(packets: 30, undecodable: 1)
        item.audioDamage = StreamDamage(packets: 47, undecodable: 0)
        var clean = item
        clean.item = SourceItem(id: "spk/c1", source: "spk/c1.mp4", speaker: "spk", split: "train")
        (clean.videoDamage, clean.audioDamage) = (StreamDamage(packets: 30), StreamDamage(packets: 47))
        try ledger.recordShard(ShardRecord(file: "shard-x.h5", rows: 30, bytes: 1, checksum: "0"), items: [item, clean])

        let items = try Ledger(existing: out).items()
        XCTAssertEqual(items["spk/c0"]?.videoDamage, StreamDamage(packets: 30, undecodable: 1))
        XCTAssertEqual(items["spk/c0"]?.audioDamage, StreamDamage(packets: 47))
        let status = try StatusReport(outFolder: out).text
        XCTAssertTrue(status.contains("processed with damage: 1\n  spk/c0: video 1 of 30 packets undecodable, "
                                      + "audio 0 of 47 packets undecodable\n"), status)
    }
}
