import Foundation
import Pipelines
import Shards
import TestSupport
import XCTest

/// Runs of the real `cals preprocess` binary over clips made here with ffmpeg.
final class PreprocessRunTests: XCTestCase {
    func testIncrementalRuns() throws {
        let s = ScratchDir("incremental")
        let data = s.path("data"), out = s.path("out"), manifest = s.path("clips.yaml")
        try Fixture.manifest(manifest)
        for (i, f) in [330, 440, 550].enumerated() { try Fixture.clip(s.path("data/spk\(i % 2)/c\(i).mp4"), frequency: f) }

        // First run: everything processed.
        var text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 3, up to date 0, quarantined 0"), text)
        let first = try Fixture.readback(out)
        XCTAssertEqual(first.items.keys.sorted(), ["spk0/c0", "spk0/c2", "spk1/c1"])
        for value in first.items.values { XCTAssertGreaterThanOrEqual(Int(value.split(separator: ":")[0])!, 25, value) }
        XCTAssertNotEqual(first.items["spk0/c0"]!.split(separator: ":")[2], first.items["spk1/c1"]!.split(separator: ":")[2],
                          "different tones give different mel")

        // Nothing changed: nothing decoded, shards untouched.
        let shardsBefore = try Fixture.shardStats(out)
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 0, up to date 3") && text.contains("everything is up to date"), text)
        XCTAssertEqual(try Fixture.shardStats(out), shardsBefore)

        // Touched (mtime only): content hash unchanged, still up to date.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 30)], ofItemAtPath: s.path("data/spk0/c0.mp4"))
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 0, up to date 3"), text)

        // Added: only the new one, into a new shard; old shards byte-identical, same mtime.
        try Fixture.clip(s.path("data/spk1/c3.mp4"), frequency: 660)
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 1, up to date 3"), text)
        var after = try Fixture.shardStats(out)
        for (name, stat) in shardsBefore { XCTAssertEqual(after[name], stat, name) }
        XCTAssertEqual(after.count, shardsBefore.count + 1)
        let added = try Fixture.readback(out)
        XCTAssertEqual(added.items.count, 4)
        for (id, value) in first.items { XCTAssertEqual(added.items[id], value, id) }

        // Replaced: re-processed, new content.
        try FileManager.default.removeItem(atPath: s.path("data/spk1/c1.mp4"))
        try Fixture.clip(s.path("data/spk1/c1.mp4"), frequency: 880)
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 1, up to date 3"), text)
        let replaced = try Fixture.readback(out)
        XCTAssertNotEqual(replaced.items["spk1/c1"], added.items["spk1/c1"])
        XCTAssertEqual(replaced.items["spk0/c0"], added.items["spk0/c0"])

        // Deleted: marked removed, no longer a current item; its old rows stay in their shard.
        try FileManager.default.removeItem(atPath: s.path("data/spk0/c2.mp4"))
        let beforeDelete = try Fixture.shardStats(out)
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 0, up to date 3") && text.contains("removed 1"), text)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["spk0/c0", "spk1/c1", "spk1/c3"])
        XCTAssertEqual(try Fixture.shardStats(out), beforeDelete)

        // Parameter changed (crop margin): every item again, new shards beside the old ones.
        try Fixture.manifest(manifest, chinMargin: 0.3)
        text = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(text.contains("processed 3, up to date 0"), text)
        after = try Fixture.shardStats(out)
        for (name, stat) in beforeDelete { XCTAssertEqual(after[name], stat, "old shard \(name) changed") }
        let widened = try Fixture.readback(out)
        for id in ["spk0/c0", "spk1/c1", "spk1/c3"] {
            let old = replaced.items[id] ?? added.items[id]!
            let new = widened.items[id]!
            XCTAssertNotEqual(old.split(separator: ":")[1], new.split(separator: ":")[1], "\(id): crops should differ")
            XCTAssertEqual(old.split(separator: ":")[2], new.split(separator: ":")[2], "\(id): mel should not")
        }
        // And back: the old outputs are still recorded, but the key changed again, so a re-run
        // processes (outputs are keyed, never overwritten).
        let status = try Fixture.cals(["status", "--out", out])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("items: 4 (done 3, removed 1)"), status.stdout)
        XCTAssertTrue(status.stdout.contains("shard    done 3"), status.stdout)

        // A damaged shard is an error, never silently used or rewritten.
        let victim = try FileManager.default.contentsOfDirectory(atPath: out + "/shards").sorted()[0]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out + "/shards/" + victim))
        try handle.truncate(atOffset: 1000)
        try handle.close()
        let damaged = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertEqual(damaged.status, 1)
        XCTAssertTrue(damaged.stderr.contains("\(victim): shard is 1000 bytes, the ledger recorded"), damaged.stderr)
    }

    func testBadInputsAreQuarantinedAndRetriedWhenFixed() throws {
        let s = ScratchDir("bad")
        let data = s.path("data"), out = s.path("out"), manifest = s.path("clips.yaml")
        try Fixture.manifest(manifest)
        try Fixture.clip(s.path("data/good.mp4"))
        try Fixture.clip(s.path("data/noaudio.mp4"), audio: false)
        try Fixture.faceless(s.path("data/noface.mp4"))
        try Fixture.clip(s.path("data/short.mp4"), seconds: 0.12)
        try "this is not a video\n".write(toFile: s.path("data/text.mp4"), atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: s.path("data/empty.mp4"), contents: Data())
        let good = try Data(contentsOf: URL(fileURLWithPath: s.path("data/good.mp4")))
        try good.prefix(good.count / 3).write(to: URL(fileURLWithPath: s.path("data/truncated.mp4")))
        XCTAssertEqual(mkfifo(s.path("data/hang.mp4"), 0o644), 0)  // reading it would block forever
        // A raw H.264 elementary stream: decodable video, no audio.
        try ffmpeg(["-i", s.path("data/good.mp4"), "-an", "-c:v", "copy", "-f", "h264", s.path("data/raw.h264")])

        let result = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("processed 1"), result.stdout)
        XCTAssertTrue(result.stdout.contains("quarantined 8"), result.stdout)
        for (id, reason) in [("noaudio", "no audio stream"), ("noface", "no face"), ("short", "too short"),
                             ("hang", "not a regular file"), ("raw", "raw.h264: no audio stream")] {
            XCTAssertTrue(result.stdout.contains("quarantined \(id): ") && result.stdout.contains(reason),
                          "\(id) / \(reason): \(result.stdout)")
        }
        for id in ["text", "empty", "truncated"] { XCTAssertTrue(result.stdout.contains("quarantined \(id): "), result.stdout) }
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["good"])

        let status = try Fixture.cals(["status", "--out", out])
        XCTAssertTrue(status.stdout.contains("quarantined: 8"), status.stdout)
        XCTAssertTrue(status.stdout.contains("  noaudio: "), status.stdout)

        // Unchanged: not retried; --strict fails the run.
        let again = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out, "--strict"])
        XCTAssertTrue(again.stdout.contains("processed 0, up to date 1, quarantined 0 (+8 unchanged"), again.stdout)
        let strict = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", s.path("out2"), "--strict"])
        XCTAssertNotEqual(strict.status, 0)

        // Fixed: processed on the next run.
        try FileManager.default.removeItem(atPath: s.path("data/noaudio.mp4"))
        try Fixture.clip(s.path("data/noaudio.mp4"), frequency: 500)
        let fixed = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(fixed.contains("processed 1, up to date 1, quarantined 0 (+7 unchanged"), fixed)
        XCTAssertEqual(try Fixture.readback(out).items.keys.sorted(), ["good", "noaudio"])
    }

    func testOutputFolderOfAnotherManifestIsRefused() throws {
        let s = ScratchDir("other")
        try Fixture.manifest(s.path("clips.yaml"))
        try FileManager.default.createDirectory(atPath: s.path("data"), withIntermediateDirectories: true)
        try Fixture.preprocess(s.path("clips.yaml"), data: s.path("data"), out: s.path("out"))
        let hdtf = TestEnv.repoRoot.appendingPathComponent("manifests/hdtf.yaml").path
        let r = try Fixture.cals(["preprocess", hdtf, "--data", s.path("data"), "--out", s.path("out")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("dataset 'clips'"), r.stderr)
        let missing = try Fixture.cals(["preprocess", hdtf, "--data", s.path("nowhere"), "--out", s.path("out3")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nowhere: data folder does not exist"), missing.stderr)
        // A folder in use by another run is refused.
        let lock = try ShardFiles.lock(outFolder: s.path("out"))
        let busy = try Fixture.cals(["preprocess", s.path("clips.yaml"), "--data", s.path("data"), "--out", s.path("out")])
        close(lock)
        XCTAssertEqual(busy.status, 1)
        XCTAssertTrue(busy.stderr.contains("another run is using this output folder"), busy.stderr)
        let bad = try Fixture.cals(["preprocess", s.path("data"), "--data", s.path("data"), "--out", s.path("out4")])
        XCTAssertTrue(bad.stderr.contains("cannot read the manifest"), bad.stderr)
    }

    /// kill -9 at several moments, then re-run to completion: same items, each exactly once,
    /// same content as an uninterrupted run; then the same dataset in two partitions + merge.
    func testKillResumeAndPartitionMerge() throws {
        let s = ScratchDir("kill")
        let data = s.path("data"), manifest = s.path("clips.yaml")
        try Fixture.manifest(manifest, targetBytes: 1)  // a shard per item: many commit points
        for i in 0..<5 { try Fixture.clip(s.path("data/s\(i % 3)/c\(i).mp4"), frequency: 300 + 70 * i) }

        let reference = s.path("reference")
        let start = Date()
        try Fixture.preprocess(manifest, data: data, out: reference)
        let fullTime = Date().timeIntervalSince(start)
        let expected = try Fixture.readback(reference)
        XCTAssertEqual(expected.items.count, 5)

        let out = s.path("killed")
        var kills = 0
        for fraction in [0.2, 0.45, 0.7, 0.9] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnv.calsBinary)
            process.arguments = ["preprocess", manifest, "--data", data, "--out", out]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: fullTime * fraction)
            if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
            process.waitUntilExit()
        }
        XCTAssertGreaterThan(kills, 0)
        let finalRun = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(finalRun.contains("quarantined 0"), finalRun)
        let resumed = try Fixture.readback(out)
        XCTAssertEqual(resumed.items, expected.items)
        // Exactly once: every shard file is in the ledger, every item's rows in one place.
        let shards = try FileManager.default.contentsOfDirectory(atPath: out + "/shards")
        XCTAssertFalse(shards.contains { $0.hasPrefix(".") }, "\(shards)")
        let ledger = try Ledger(existing: out)
        XCTAssertEqual(Set(try ledger.shards().map(\.file)), Set(shards))
        let rows = try ledger.currentRows()
        XCTAssertEqual(Set(rows.map(\.item)).count, 5)
        XCTAssertEqual(rows.count, Set(rows.map { "\($0.item)#\($0.segment)" }).count)
        XCTAssertTrue(try Fixture.preprocess(manifest, data: data, out: out).contains("processed 0, up to date 5"))

        // Partitions 0/2 and 1/2 into their own folders, merged: same as one run.
        for i in 0..<2 {
            try Fixture.preprocess(manifest, data: data, out: s.path("part\(i)"), extra: ["--partition", "\(i)/2"])
        }
        let p0 = try Fixture.readback(s.path("part0")), p1 = try Fixture.readback(s.path("part1"))
        XCTAssertTrue(Set(p0.items.keys).isDisjoint(with: p1.items.keys))
        let merged = try Fixture.cals(["merge", "--out", s.path("merged"), s.path("part0"), s.path("part1")])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(try Fixture.readback(s.path("merged")).items, expected.items)
        // Merging twice changes nothing; the merged folder is a normal, up-to-date output.
        XCTAssertEqual(try Fixture.cals(["merge", "--out", s.path("merged"), s.path("part0"), s.path("part1")]).status, 0)
        XCTAssertTrue(try Fixture.preprocess(manifest, data: data, out: s.path("merged")).contains("processed 0, up to date 5"))
    }

    /// `cals extract` on one video gives exactly the rows the pipeline put in its shard.
    func testExtractMatchesPipelineRows() throws {
        let s = ScratchDir("extract")
        try Fixture.preprocessAndExtract(s, detector: "haar")
        let script = s.path("compare.py")
        try (Fixture.openShardAndExtract + """
            assert e["frames"].shape == (count, 128, 128, 3) and e["boxes"].shape == (count, 4), e["frames"].shape
            assert e["segment"].dtype == np.int32 and e["mel"].dtype == np.float32
            assert np.array_equal(e["frames"][:], f["frames"][first:first + count])
            assert np.array_equal(e["mel"][:], f["mel"][first:first + count])
            assert e["frame_index"].dtype == np.int64 and f["frame_index"].dtype == np.int64
            assert np.array_equal(e["frame_index"][:], f["frame_index"][first:first + count])
            assert "landmarks5" not in e and "landmarks5" not in f, "haar finds no landmarks"
            print(count)
            """).write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertGreaterThan(Int(try runPython(script, [s.path("out"), s.path("one.h5")]).trimmingCharacters(in: .whitespacesAndNewlines))!, 20)

        // The trainer's reader: windows (direct and prefetched) equal the extract file's rows.
        let dataset = try ProcessedDataset(outFolder: s.path("out"))
        let segments = dataset.segments(split: "train")
        XCTAssertEqual(segments.map(\.item), ["one"])
        XCTAssertTrue(dataset.segments(split: "val").isEmpty)
        let extract = try HDF5File(readingAt: s.path("one.h5"))
        let allFrames: [UInt8] = try extract.dataset("frames").read(rows: 0..<segments[0].rowCount)
        let allMel: [Float] = try extract.dataset("mel").read(rows: 0..<segments[0].rowCount)
        func check(_ w: ShardWindow) {
            XCTAssertEqual(w.frames, Array(allFrames[w.offset * 49152 ..< (w.offset + w.length) * 49152]))
            XCTAssertEqual(w.mel, Array(allMel[w.offset * 320 ..< (w.offset + w.length) * 320]))
        }
        check(try dataset.window(segments[0], offset: 3, length: 10))
        let prefetcher = try dataset.prefetch(segments, length: 5, count: 20, depth: 4)
        var offsets = Set<Int>()
        while let w = try prefetcher.next() {
            XCTAssertEqual(w.length, 5)
            offsets.insert(w.offset)
            check(w)
        }
        XCTAssertGreaterThan(offsets.count, 3, "random offsets")

        // Rows map back to the source's time: a clip whose face is hidden for its first 0.8 s (20
        // frames at 25 fps) gives rows from frame 20 on, in both kinds of file.
        try ffmpeg(["-loop", "1", "-framerate", "25", "-t", "2", "-i", Fixture.face, "-f", "lavfi", "-t", "2",
                    "-i", "sine=frequency=500:sample_rate=16000",
                    "-vf", "scale=256:256,drawbox=enable='lt(t,0.8)':color=gray:t=fill,format=yuv420p",
                    "-c:v", "libx264", "-preset", "ultrafast", "-r", "25", "-c:a", "aac", "-shortest", s.path("data/late.mp4")])
        try Fixture.preprocess(s.path("clips.yaml"), data: s.path("data"), out: s.path("out"))
        XCTAssertEqual(try Fixture.cals(["extract", s.path("data/late.mp4"), "--out", s.path("late.h5")]).status, 0)
        let indices = s.path("indices.py")
        try """
            import sys, h5py, sqlite3, os
            out, single = sys.argv[1], sys.argv[2]
            db = sqlite3.connect(os.path.join(out, "ledger.sqlite"))
            shard, first, count = db.execute("SELECT shard_file, first_row, row_count FROM item_rows WHERE item_id = 'late'").fetchone()
            shard_rows = h5py.File(os.path.join(out, "shards", shard), "r")["frame_index"][first:first + count].tolist()
            extract_rows = h5py.File(single, "r")["frame_index"][:].tolist()
            assert shard_rows == extract_rows, (shard_rows, extract_rows)
            print(" ".join(map(str, extract_rows)))
            """.write(toFile: indices, atomically: true, encoding: .utf8)
        let rows = try runPython(indices, [s.path("out"), s.path("late.h5")]).split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        XCTAssertGreaterThanOrEqual(rows.first ?? -1, 20, "\(rows)")
        XCTAssertLessThanOrEqual(rows.first ?? 99, 22, "\(rows)")
        XCTAssertEqual(rows, Array((rows.first ?? 0)..<((rows.first ?? 0) + rows.count)), "consecutive frames")
        XCTAssertLessThan(rows.last ?? 99, 50)

        let bad = try Fixture.cals(["extract", s.path("data/missing.mp4"), "--out", s.path("x.h5")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("error: \(s.path("data/missing.mp4")): "), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.path("x.h5")))
    }
}

extension Fixture {
    /// One clip `data/one.mp4` in scratch folder `s`, preprocessed into `out` with the manifest
    /// `clips.yaml` and extracted with it into `one.h5`.
    static func preprocessAndExtract(_ s: ScratchDir, workers: Int = 2, detector: String? = nil,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        try manifest(s.path("clips.yaml"), workers: workers, detector: detector)
        try clip(s.path("data/one.mp4"), frequency: 470)
        try preprocess(s.path("clips.yaml"), data: s.path("data"), out: s.path("out"), file: file, line: line)
        let r = try cals(["extract", s.path("data/one.mp4"), "--out", s.path("one.h5"), "--manifest", s.path("clips.yaml")])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    }

    /// Python lines that open, for `<script> OUT SINGLE`, the extract file `e` and the shard `f`
    /// holding the run's one item at rows first ..< first + count.
    static let openShardAndExtract = """
        import sys, h5py, numpy as np, sqlite3, os
        out, single = sys.argv[1], sys.argv[2]
        e = h5py.File(single, "r")
        db = sqlite3.connect(os.path.join(out, "ledger.sqlite"))
        shard, first, count = db.execute("SELECT shard_file, first_row, SUM(row_count) FROM item_rows").fetchone()
        f = h5py.File(os.path.join(out, "shards", shard), "r")

        """
}

extension PreprocessRunTests {
    /// With `detector: cnn` every row has its smoothed five landmarks and its box: the worker's
    /// item file carries them to the shard, where they equal what `cals extract` computes
    /// in-process, and the points sit where a face's are inside the row's box.
    func testLandmarksAndBoxesReachTheShardsThroughWorkers() throws {
        let s = ScratchDir("landmarks")
        try Fixture.preprocessAndExtract(s, workers: 1, detector: "cnn")
        let script = s.path("landmarks.py")
        try (Fixture.openShardAndExtract + """
            l = f["landmarks5"][first:first + count]
            assert l.dtype == np.float32 and l.shape == (count, 5, 2), (l.dtype, l.shape)
            assert np.array_equal(l, e["landmarks5"][:]), "worker and in-process landmarks differ"
            b = f["boxes"][first:first + count]
            assert b.dtype == np.int32 and b.shape == (count, 4), (b.dtype, b.shape)
            assert np.array_equal(b, e["boxes"][:]), "worker and in-process boxes differ"
            assert (b[:, 2] > 20).all() and (b[:, 3] > 20).all(), "a face's size"
            b = b.astype(np.float32)
            x, y, w, h = (b[:, k:k + 1] for k in range(4))
            assert ((l[:, :, 0] > x) & (l[:, :, 0] < x + w) & (l[:, :, 1] > y) & (l[:, :, 1] < y + h)).all(), "outside the box"
            assert (l[:, 0, 0] < l[:, 1, 0]).all() and (l[:, 3, 0] < l[:, 4, 0]).all(), "left and right"
            assert (l[:, :2, 1].max(1) < l[:, 2, 1]).all() and (l[:, 2, 1] < l[:, 3:, 1].min(1)).all(), "eyes, nose, mouth"
            print(count)
            """).write(toFile: script, atomically: true, encoding: .utf8)
        let count = Int(try runPython(script, [s.path("out"), s.path("one.h5")]).trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertGreaterThan(count ?? 0, 20)
    }

    /// `speaker: all`: each of three faces is a segment of its own in the shards, every one
    /// over the whole clip.
    func testEveryFaceIsItsOwnSegment() throws {
        let s = ScratchDir("all-faces")
        try Fixture.manifest(s.path("clips.yaml"), workers: 1, detector: "cnn", speaker: "all")
        try FileManager.default.createDirectory(atPath: s.path("data"), withIntermediateDirectories: true)
        try TestMedia.threeFaceClip(s.path("data/three.mp4"), audio: true)
        try Fixture.preprocess(s.path("clips.yaml"), data: s.path("data"), out: s.path("out"))
        let script = s.path("segments.py")
        try """
            import sys, sqlite3, os
            db = sqlite3.connect(os.path.join(sys.argv[1], "ledger.sqlite"))
            print(" ".join("%d:%d" % r for r in db.execute("SELECT segment, row_count FROM item_rows ORDER BY segment")))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let segments = try runPython(script, [s.path("out")]).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(segments, "0:40 1:40 2:40")
    }
}

/// The run summary says what a run wrote, and "everything is up to date" only when it wrote nothing.
final class RunSummaryTests: XCTestCase {
    func testRowStageOutputsAreReportedNotUpToDate() {
        var summary = RunSummary()
        summary.upToDate = 3
        summary.rowStages = [RowStageResult(stage: "av_sync", written: [], line: "av_sync: nothing new")]
        XCTAssertEqual(summary.lines.dropFirst(), ["av_sync: nothing new", "everything is up to date"])
        summary.rowStages.insert(RowStageResult(stage: "lip_units", written: ["out/lip_units/abc/shard-1.h5", "out/lip_units/abc/shard-2.h5"],
                                                line: "lip_units: 2 new unit shard(s) in out/lip_units/abc"), at: 0)
        XCTAssertEqual(summary.lines.dropFirst(), ["lip_units: 2 new unit shard(s) in out/lip_units/abc", "av_sync: nothing new"])
        XCTAssertEqual(summary.lipUnitShards.count, 2)
    }
}
