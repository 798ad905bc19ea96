import Foundation
import Models
import NN
import Pipelines
import Shards
import Tensor
import TestSupport
import Training
import XCTest

/// Test media and helpers for runs of the real `cals` binary.
enum Fixture {
    static let face = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

    /// A talking-head stand-in: the astronaut photo, slowly panning, 256×256 at 25 fps, with a
    /// sine tone of `frequency` Hz; `seconds` long.
    static func clip(_ path: String, frequency: Int = 440, seconds: Double = 1.2, audio: Bool = true,
                     photo: String = face) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var args = ["-loop", "1", "-framerate", "25", "-t", "\(seconds)", "-i", photo]
        if audio { args += ["-f", "lavfi", "-t", "\(seconds)", "-i", "sine=frequency=\(frequency):sample_rate=16000"] }
        args += ["-vf", "scale=288:288,crop=256:256:'16+8*sin(t*3)':16,format=yuv420p",
                 "-c:v", "libx264", "-preset", "ultrafast", "-r", "25"]
        args += audio ? ["-c:a", "aac", "-shortest"] : ["-an"]
        try ffmpeg(args + [path])
    }

    /// A clip with no face: a flat grey picture with a tone.
    static func faceless(_ path: String) throws {
        try ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=256x256:r=25:d=1.2", "-f", "lavfi", "-t", "1.2",
                    "-i", "sine=frequency=300:sample_rate=16000", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path])
    }

    /// A `folder`-adapter manifest with small shards (and the face stage's default detector
    /// and speaker unless `detector` and `speaker` name them).
    static func manifest(_ path: String, targetBytes: Int = 3_000_000, chinMargin: Double = 0.15,
                         workers: Int = 2, timeLimit: Double = 60, detector: String? = nil, speaker: String? = nil) throws {
        let face = "chin_margin: \(chinMargin)" + (detector.map { ", detector: \($0)" } ?? "") + (speaker.map { ", speaker: \($0)" } ?? "")
        try manifestText(face: face, targetBytes: targetBytes, workers: workers, timeLimit: timeLimit)
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The text of a `folder`-adapter manifest whose face stage has the keys `face`.
    static func manifestText(face: String, targetBytes: Int = 3_000_000, workers: Int = 2, timeLimit: Double = 60) -> String {
        """
        dataset: clips
        adapter:
          kind: folder
        stages:
          - decode: {}
          - face: {\(face)}
          - mel: {}
          - align: {}
          - shard: {}
        shards:
          target_bytes: \(targetBytes)
        workers: \(workers)
        item_time_limit: \(timeLimit)
        """
    }

    /// A demo corpus of `speakers` speakers × 3 clips of `seconds` s and `size` px in `s`/corpus,
    /// preprocessed into `s`/corpus-out, and a sync encoder trained there on every speaker but the
    /// last (`steps`, width 0.25, no augmentation: ~25 s for 150 steps) into `s`/sync. Such an encoder scores
    /// the clips it was trained on confidently and held-out speakers near chance.
    /// The corpus, and so the encoder, is the same in every run.
    static func trainedSyncEncoder(_ s: ScratchDir, speakers count: Int, seconds: Int, size: Int, steps: Int = 150) throws
        -> (corpus: String, speakers: [String], checkpoint: String) {
        let corpus = s.path("corpus")
        let faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
        // A fixed malloc fill: the H.264 encoder (libx264 through libavcodec, as MediaWriter drives
        // it) reads heap memory nothing wrote at some frame sizes (at 160 px the same frames made
        // different files run to run); filled alike in every run, the corpus is the same each time.
        let made = try run(TestEnv.calsBinary, ["demo-corpus", "--out", corpus, "--speakers", "\(count)", "--clips", "3",
                                                "--seconds", "\(seconds)", "--size", "\(size)", "--faces", faces],
                           environment: ["MALLOC_PERTURB_": "165"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let speakers = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted()
        XCTAssertEqual(speakers.count, count)
        let demoManifest = TestEnv.repoRoot.appendingPathComponent("manifests/demo.yaml").path
        try preprocess(demoManifest, data: corpus, out: s.path("corpus-out"))
        let trained = try cals(["train", "sync", "--data", s.path("corpus-out"), "--out", s.path("sync"), "--steps", "\(steps)",
                                "--width", "0.25", "--learning-rate", "1e-3", "--no-augment", "--eval-every", "\(steps)",
                                "--held-out", speakers[count - 1]])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        return (corpus, speakers, s.path("sync/checkpoint.safetensors"))
    }

    /// An untrained sync encoder (seed 3, narrow, 1024-d units) written as a checkpoint to
    /// `path`; returns its content hash (what the ledger keys lip units and sync scores by).
    static func tinySyncCheckpoint(_ path: String) throws -> String {
        var config = SyncTrainingConfig()
        config.model.visualChannels = [4, 6, 8, 8, 12]
        config.model.audioChannels = [4, 6, 8, 8, 12]
        config.model.outputDim = ShardFormat.lipUnitSize
        var rng = RandomGenerator(seed: 3)
        try Safetensors.write(SyncEncoder(config.model, rng: &rng).stateDict, metadata: try SyncCheckpoint.metadata(config),
                              to: path)
        return try fileChecksum(path)
    }

    static func cals(_ arguments: [String]) throws -> CommandResult {
        try run(TestEnv.calsBinary, arguments)
    }

    /// `cals preprocess`, failing the test on a non-zero exit.
    @discardableResult
    static func preprocess(_ manifest: String, data: String, out: String, extra: [String] = [],
                           file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try cals(["preprocess", manifest, "--data", data, "--out", out] + extra)
        XCTAssertEqual(r.status, 0, "preprocess failed: \(r.stderr)", file: file, line: line)
        return r.stdout
    }

    /// What h5py (nothing of ours) reads back: for every current item (ledger rows joined with
    /// the shards), its row count and hashes of its frames and mel rows; shapes and dtypes are
    /// checked in Python.
    struct Readback: Equatable {
        var items: [String: String]   // id → "rows:framesHash:melHash"
        var shardFiles: Int
    }

    static let readbackScript = """
        import sys, json, sqlite3, hashlib, os
        import h5py, numpy as np
        out = sys.argv[1]
        db = sqlite3.connect(os.path.join(out, "ledger.sqlite"))
        rows = db.execute(\"\"\"SELECT r.item_id, r.segment, r.shard_file, r.first_row, r.row_count FROM item_rows r
            JOIN items i ON i.id = r.item_id AND i.key = r.key WHERE i.state = 'done'
            ORDER BY r.item_id, r.segment\"\"\").fetchall()
        files = {}
        items = {}
        for item, seg, shard, first, count in rows:
            if shard not in files:
                f = h5py.File(os.path.join(out, "shards", shard), "r")
                n = f["frames"].shape[0]
                assert f["frames"].dtype == np.uint8 and f["frames"].shape[1:] == (128, 128, 3), f["frames"]
                assert f["mel"].dtype == np.float32 and f["mel"].shape == (n, 80, 4), f["mel"]
                assert "items" in f, list(f.keys())
                files[shard] = f
            f = files[shard]
            fr = f["frames"][first:first + count]
            me = f["mel"][first:first + count]
            assert fr.shape[0] == count and np.isfinite(me).all() and me.min() >= -4 and me.max() <= 4
            e = items.setdefault(item, [0, hashlib.sha256(), hashlib.sha256()])
            e[0] += count; e[1].update(fr.tobytes()); e[2].update(me.tobytes())
        print(json.dumps({"items": {k: "%d:%s:%s" % (v[0], v[1].hexdigest()[:16], v[2].hexdigest()[:16])
                                    for k, v in items.items()},
                          "shards": len(os.listdir(os.path.join(out, "shards")))}))
        """

    static func readback(_ out: String) throws -> Readback {
        let scratch = ScratchDir("readback")
        let script = scratch.path("readback.py")
        try readbackScript.write(toFile: script, atomically: true, encoding: .utf8)
        let json = try runPython(script, [out])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return Readback(items: object["items"] as! [String: String], shardFiles: object["shards"] as! Int)
    }

    /// (name → size, mtime, content hash) of every shard file: to check old shards are untouched.
    static func shardStats(_ out: String) throws -> [String: String] {
        let folder = (out as NSString).appendingPathComponent("shards")
        var stats: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let path = (folder as NSString).appendingPathComponent(name)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            stats[name] = "\(attributes[.size]!):\((attributes[.modificationDate] as! Date).timeIntervalSince1970):\(try fileChecksum(path))"
        }
        return stats
    }
}
