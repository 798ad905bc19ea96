import Foundation
import Models
@testable import Pipelines
import Shards
import TestSupport
import XCTest

/// The av_sync stage through the real binary, on demo-corpus clips whose audio the test shifts
/// by known offsets (ffmpeg's adelay / atrim on the samples), with a sync encoder trained in the
/// test on the unshifted clips (150 steps, width 0.25, no augmentation: ~25 s). That encoder
/// scores clips it was trained on confidently and held-out speakers at chance, so this checks
/// the stage (scores, decisions, the curated view, re-runs), not how well an encoder generalises.
final class AVSyncTests: XCTestCase {
    /// Offsets (frames the audio is late) given to the trained speakers' clips, in clip order.
    static let offsets = [-8, -3, 0, 2, 5, 8]

    func testShiftedClipsAreMeasuredRealignedAndUnrelatedAudioIsDropped() throws {
        let s = ScratchDir("av-sync")
        // The encoder: trained on the first two speakers' unshifted clips, the third held out.
        let (corpus, speakers, checkpoint) = try Fixture.trainedSyncEncoder(s, speakers: 3, seconds: 4, size: 192)
        let demoManifest = TestEnv.repoRoot.appendingPathComponent("manifests/demo.yaml").path

        // The dataset: the trained speakers' six clips with their audio shifted, and a seventh
        // item, the first clip's video with another speaker's audio (unrelated speech).
        let data = s.path("data")
        var expected: [String: Int] = [:]
        for (n, offset) in Self.offsets.enumerated() {
            let speaker = speakers[n / 3], clip = "clip00\(n % 3 + 1)"
            let id = "\(speaker)/\(clip)"
            try place(corpus, id, in: data, audioFrom: nil, shift: offset)
            expected[id] = offset
        }
        let unrelated = "\(speakers[0])/clip009"
        try place(corpus, "\(speakers[0])/clip001", in: data, as: unrelated, audioFrom: "\(speakers[1])/clip003", shift: 0)

        let manifest = s.path("av-sync.yaml")
        let curation = "  - av_sync: {checkpoint: \(checkpoint), min_confidence: 0.1, max_offset: 8, action: shift}\n"
        try writeManifest(demoManifest, adding: curation, to: manifest)
        let out = s.path("out")
        let first = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertEqual(first.status, 0, first.stderr)
        let hash = try fileChecksum(checkpoint)
        XCTAssertTrue(first.stdout.contains("av_sync: scored 7 item(s) with checkpoint \(hash)"), first.stdout)

        // Every shifted clip's offset comes back within one frame, confidently; the unrelated
        // audio falls below min_confidence and is dropped with that reason.
        let ledger = try Ledger(existing: out)
        let decisions = try ledger.syncCuration()
        for (id, offset) in expected {
            let d = try XCTUnwrap(decisions[id], id)
            print("av_sync test: \(id) shifted by \(offset): measured \(d.offset), confidence \(d.confidence), \(d.windows) windows")
            XCTAssertLessThanOrEqual(abs(d.offset - offset), 1, "\(id): audio \(offset) frames late, measured \(d.offset)")
            XCTAssertEqual(d.excluded, "", id)
            XCTAssertEqual(d.shift, d.offset, id)
        }
        let dropped = try XCTUnwrap(decisions[unrelated])
        print("av_sync test: \(unrelated) (unrelated audio): offset \(dropped.offset), confidence \(dropped.confidence)")
        XCTAssertTrue(dropped.excluded.contains("below min_confidence 0.1"), dropped.excluded)
        // Per segment too (one segment per clip here: the same windows as the item).
        let segments = try ledger.syncScores(checkpoint: hash).filter { $0.segment == 0 }
        XCTAssertEqual(segments.count, 7)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: segments.map { ($0.item, $0.offset) }), decisions.mapValues(\.offset))

        // The curated view: the dropped item is not read, a shifted one is read re-aligned: its
        // audio units at each frame are the unshifted clip's (compared with a preprocess of the
        // original clip), and scoring the curated rows finds offset 0.
        let curated = try ProcessedDataset(outFolder: out)
        XCTAssertEqual(curated.excluded[unrelated], dropped.excluded)
        XCTAssertFalse(curated.clips.contains { $0.segment.item == unrelated })
        let original = try ProcessedDataset(outFolder: s.path("corpus-out"))
        let model = try SyncEncoder.load(checkpoint: checkpoint)
        for id in expected.keys.sorted() where abs(decisions[id]!.shift) > 1 {
            let clip = try curated.clip(id: "\(id)#0")
            XCTAssertEqual(clip.segment.audioShift, decisions[id]!.shift)
            let rows = try clip.rows(0..<clip.rowCount)
            // The frames the curated clip starts at, counted in the stored (= original) rows.
            let start = clip.segment.firstRow - (try XCTUnwrap(try ledger.currentRows().first { $0.item == id })).firstRow
            let source = try original.clip(id: "\(id)#0")
            let sourceRows = try source.rows(start..<(start + clip.rowCount))
            XCTAssertEqual(rows.frames, sourceRows.frames, "\(id): the curated frames are not the original's at the same rows")
            // What a reader without the stage gets at the same frames: the shifted file's audio.
            let shard = try ShardReader(path: (out as NSString).appendingPathComponent("shards/\(clip.shard)"))
            let stored = try shard.mel(rows: clip.segment.firstRow..<(clip.segment.firstRow + clip.rowCount))
            let error = meanAbsoluteDifference(rows.mel, sourceRows.mel), unaligned = meanAbsoluteDifference(stored, sourceRows.mel)
            print("av_sync test: \(id): mel vs the original clip's \(error); uncurated \(unaligned)")
            XCTAssertLessThan(error, 0.5 * unaligned, id)
            let rescored = try OffsetSimilarities(model: model, frames: rows.frames, mel: rows.mel, maxOffset: 15, source: id).score
            XCTAssertLessThanOrEqual(abs(rescored.offset), 1, "\(id): curated rows still \(rescored.offset) frames off")
        }

        // `cals status` shows the histogram and the confidence distribution.
        let status = try Fixture.cals(["status", "--out", out])
        XCTAssertTrue(status.stdout.contains("av_sync: checkpoint \(hash), action shift: 7 item(s): shifted ")
                      && status.stdout.contains("offsets (frames: items): ") && status.stdout.contains("confidence: min ")
                      && status.stdout.contains("dropped \(unrelated): sync confidence"), status.stdout)

        // The same checkpoint again: nothing is scored, nothing changes. A new checkpoint (another
        // seed, 20 steps) scores everything again; the old scores stay.
        let again = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertTrue(again.stdout.contains("av_sync: scored 0 item(s)") && again.stdout.contains("everything is up to date"),
                      again.stdout)
        XCTAssertEqual(try ledger.syncCuration(), decisions)
        XCTAssertEqual(try ledger.syncScores().count, 14)
        let other = try Fixture.cals(["train", "sync", "--data", s.path("corpus-out"), "--out", s.path("sync2"), "--steps", "20",
                                      "--width", "0.25", "--seed", "2", "--no-augment", "--held-out", speakers[2]])
        XCTAssertEqual(other.status, 0, other.stderr)
        let checkpoint2 = s.path("sync2/checkpoint.safetensors")
        try writeManifest(demoManifest, adding: curation.replacingOccurrences(of: checkpoint, with: checkpoint2), to: manifest)
        let rescored = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertTrue(rescored.stdout.contains("av_sync: scored 7 item(s) with checkpoint \(try fileChecksum(checkpoint2))"),
                      rescored.stdout)
        XCTAssertEqual(try ledger.syncScores().count, 28)
        XCTAssertEqual(Set(try ledger.syncCuration().values.map(\.checkpoint)), [try fileChecksum(checkpoint2)])

        // Without the stage the decisions are withdrawn: every item is read as stored.
        try writeManifest(demoManifest, adding: "", to: manifest)
        let withdrawn = try Fixture.cals(["preprocess", manifest, "--data", data, "--out", out])
        XCTAssertTrue(withdrawn.stderr.contains("decision(s) withdrawn"), withdrawn.stderr)
        let plain = try ProcessedDataset(outFolder: out)
        XCTAssertEqual(plain.clips.count, 7)
        XCTAssertTrue(plain.clips.allSatisfy { $0.segment.audioShift == 0 })
    }

    /// Two partitions' av_sync scores and decisions survive `cals merge`: the merged folder has
    /// the full run's scores, decisions, curated view and status lines, and a run on it scores
    /// nothing again. An untrained encoder scores the clips (any offsets will do here).
    func testPartitionsWithSyncScoresMergeToTheFullRun() throws {
        let s = ScratchDir("av-sync-merge")
        for i in 0..<4 { try Fixture.clip(s.path("data/s\(i % 2)/c\(i).mp4"), frequency: 300 + 70 * i, seconds: 2.4) }
        let checkpoint = s.path("sync.safetensors")
        let hash = try Fixture.tinySyncCheckpoint(checkpoint)
        let manifest = s.path("clips.yaml")
        try Fixture.manifest(manifest, targetBytes: 1, workers: 1)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: "  - shard: {}\n", with: "  - shard: {}\n  - av_sync: {checkpoint: \(checkpoint), "
                                      + "min_confidence: 0, max_offset: 15, action: shift}\n")
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let full = s.path("full"), parts = [s.path("part0"), s.path("part1")], merged = s.path("merged")
        XCTAssertTrue(try Fixture.preprocess(manifest, data: s.path("data"), out: full).contains("av_sync: scored 4 item(s)"))
        var scoredInParts = 0
        for (i, part) in parts.enumerated() {
            let stdout = try Fixture.preprocess(manifest, data: s.path("data"), out: part, extra: ["--partition", "\(i)/2"])
            let scored = try XCTUnwrap(stdout.range(of: #"av_sync: scored (\d) item"#, options: .regularExpression).map { stdout[$0] })
            scoredInParts += try XCTUnwrap(Int(scored.dropFirst("av_sync: scored ".count).prefix(1)))
        }
        XCTAssertEqual(scoredInParts, 4)
        let merge = try Fixture.cals(["merge", "--out", merged] + parts)
        XCTAssertEqual(merge.status, 0, merge.stderr)

        func scores(_ out: String) throws -> [String] {
            try Ledger(existing: out).syncScores(checkpoint: hash).map { "\($0)" }.sorted()
        }
        XCTAssertEqual(try scores(full).count, 8)   // one segment per clip, and the item's pooled score
        XCTAssertEqual(try scores(merged), try scores(full))
        let decisions = try Ledger(existing: full).syncCuration()
        XCTAssertEqual(decisions.count, 4)
        XCTAssertEqual(try Ledger(existing: merged).syncCuration(), decisions)
        func curated(_ out: String) throws -> [String] {
            let view = try ProcessedDataset(outFolder: out)
            return view.clips.map { "\($0.id) shift \($0.segment.audioShift) rows \($0.rowCount)" } + view.excluded.map { "\($0) \($1)" }.sorted()
        }
        XCTAssertEqual(try curated(merged), try curated(full))
        print("av_sync merge test: curated view \(try curated(merged))")
        func syncLines(_ out: String) throws -> [String] {
            let status = try Fixture.cals(["status", "--out", out])
            XCTAssertEqual(status.status, 0, status.stderr)
            let from = status.stdout.split(separator: "\n").map(String.init).drop { !$0.hasPrefix("av_sync:") }
            return Array(from.prefix(1) + from.dropFirst().prefix { $0.hasPrefix("  ") })
        }
        let lines = try syncLines(merged)
        XCTAssertTrue(lines.first?.hasPrefix("av_sync: checkpoint \(hash), action shift: 4 item(s)") ?? false, "\(lines)")
        XCTAssertEqual(lines, try syncLines(full))
        let again = try Fixture.preprocess(manifest, data: s.path("data"), out: merged)
        XCTAssertTrue(again.contains("av_sync: scored 0 item(s)") && again.contains("processed 0"), again)
        XCTAssertEqual(try Ledger(existing: merged).syncCuration(), decisions)
    }

    /// The decisions by action, without an encoder.
    func testDecisionsFollowTheAction() throws {
        func decide(_ action: String, offset: Int, confidence: Double, windows: Int = 60) -> SyncCuration {
            var p = AVSyncStage.Parameters()
            (p.checkpoint, p.minConfidence, p.maxOffset, p.action) = ("c", 0.1, 6, action)
            return AVSyncStage(parameters: p).decision(SyncScoreRecord(
                checkpoint: "h", item: "a", key: "k", segment: AVSyncStage.wholeItem, windows: windows, offset: offset,
                confidence: confidence, distance: 1, stageVersion: AVSyncStage.version))
        }
        XCTAssertEqual(decide("shift", offset: 3, confidence: 0.5).shift, 3)
        XCTAssertEqual(decide("shift", offset: -7, confidence: 0.5).excluded, "audio offset -7 frames beyond max_offset 6")
        XCTAssertEqual(decide("shift", offset: 2, confidence: 0.05).excluded, "sync confidence 0.0500 below min_confidence 0.1 (offset +2)")
        XCTAssertEqual(decide("drop", offset: 2, confidence: 0.5).excluded, "audio offset +2 frames")
        XCTAssertEqual(decide("drop", offset: 0, confidence: 0.5).excluded, "")
        let kept = decide("keep", offset: -9, confidence: 0.01)
        XCTAssertEqual([kept.shift], [0])
        XCTAssertEqual(kept.excluded, "")
        // Too short to score: read as stored whatever the action.
        XCTAssertEqual(decide("drop", offset: 0, confidence: 0, windows: 0).excluded, "")
        // The manifest checks the parameters.
        let yaml = "dataset: d\nadapter: {kind: folder}\nstages:\n  - decode: {}\n  - face: {}\n  - mel: {}\n  - align: {}\n  - shard: {}\n"
        XCTAssertThrowsError(try Manifest.parse(yaml + "  - av_sync: {checkpoint: c, action: move}\n", file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("'action' is 'move', not one of shift, drop, keep"), "\($0)")
        }
        XCTAssertThrowsError(try Manifest.parse(yaml + "  - av_sync: {action: drop}\n", file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("'checkpoint' is required"), "\($0)")
        }
        XCTAssertThrowsError(try Manifest.parse(yaml + "  - av_sync: {checkpoint: c}\n  - lip_units: {checkpoint: c}\n", file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("unexpected stage 'lip_units'"), "\($0)")
        }
        let both = try Manifest.parse(yaml + "  - lip_units: {checkpoint: a}\n  - av_sync: {checkpoint: b, max_offset: 4}\n", file: "m.yaml")
        XCTAssertEqual(both.stages.rows.map(\.checkpoint), ["a", "b"])
        XCTAssertEqual(both.stages[row: AVSyncStage.self]?.parameters.maxOffset, 4)
    }

    /// Copies clip `id` of `corpus` (and its JSON sidecar) to `data` as `name` (default: `id`),
    /// with the audio of clip `audioFrom` (default: its own) made `shift` frames late (negative:
    /// early) by shifting the samples; the video stream is copied.
    private func place(_ corpus: String, _ id: String, in data: String, as name: String? = nil, audioFrom: String?, shift: Int) throws {
        let target = (data as NSString).appendingPathComponent(name ?? id)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let source = (corpus as NSString).appendingPathComponent(id)
        try FileManager.default.copyItem(atPath: source + ".json", toPath: target + ".json")
        let milliseconds = abs(shift) * 40
        let filter = shift >= 0 ? "adelay=\(milliseconds):all=1,apad" : "atrim=start=\(Double(milliseconds) / 1000),asetpts=PTS-STARTPTS,apad"
        let audio = (corpus as NSString).appendingPathComponent(audioFrom ?? id) + ".mp4"
        try ffmpeg(["-i", source + ".mp4", "-i", audio, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-af", filter,
                    "-c:a", "aac", "-shortest", target + ".mp4"])
    }

    /// `demo` with `entry` (a stages list line, or nothing) after its `shard` stage, written to `path`.
    private func writeManifest(_ demo: String, adding entry: String, to path: String) throws {
        let text = try String(contentsOfFile: demo, encoding: .utf8)
        XCTAssertTrue(text.contains("  - shard: {}\n"))
        try text.replacingOccurrences(of: "  - shard: {}\n", with: "  - shard: {}\n" + entry).write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func meanAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(max(a.count, 1))
    }
}
