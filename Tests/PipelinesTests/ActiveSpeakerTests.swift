import Foundation
@testable import Pipelines
import TestSupport
import XCTest

/// `speaker: active` through the real binary. The sync encoder is trained in the test (300 steps,
/// width 0.25, no augmentation) on 3-second demo-corpus clips of five speakers (the sixth
/// held out). The test video is 20 shots of two to four of those clips side by side with the audio of
/// one of them: the other faces' mouths move with speech that is not in the sound track. Each
/// shot's row of faces sits on a canvas whose free half is black or white, alternating, so every
/// change of shot is a cut.
final class ActiveSpeakerTests: XCTestCase {
    static let shots = 20, shotFrames = 75, side = 160

    func testTheSpeakingFaceIsKeptInEveryShot() throws {
        let s = ScratchDir("active-speaker")
        let (corpus, speakers, checkpoint) = try Fixture.trainedSyncEncoder(s, speakers: 6, seconds: 3, size: Self.side, steps: 300)

        // Shot k: `count` faces, the one at `speaking` with its own audio.
        let clips = speakers[0..<5].flatMap { speaker in (1...3).map { "\(corpus)/\(speaker)/clip00\($0).mp4" } }
        var speakingSlot: [Int] = []
        var list = ""
        for k in 0..<Self.shots {
            let count = 2 + k % 3, speaking = k % count, clip = k % clips.count
            // The others: clips of other speakers (three clips per speaker, so 3j + 1 clips on).
            let shown = (0..<count).map { j in j == speaking ? clip : (clip + 3 * ((j - speaking + count) % count) + 1) % clips.count }
            let colour = k % 2 == 0 ? "black" : "white"
            let shot = s.path("shot\(k).mkv")
            try ffmpeg(shown.flatMap { ["-i", clips[$0]] } + [
                "-filter_complex", shown.indices.map { "[\($0):v]" }.joined()
                    + "hstack=inputs=\(count),pad=\(4 * Self.side):\(2 * Self.side):0:\(Self.side / 2):color=\(colour)[v]",
                "-map", "[v]", "-map", "\(speaking):a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "pcm_s16le", shot])
            list += "file '\(shot)'\n"
            speakingSlot.append(speaking)
        }
        try list.write(toFile: s.path("shots.txt"), atomically: true, encoding: .utf8)
        let video = s.path("data/talk.mp4")
        try FileManager.default.createDirectory(atPath: s.path("data"), withIntermediateDirectories: true)
        try ffmpeg(["-f", "concat", "-safe", "0", "-i", s.path("shots.txt"), "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0", video])

        let manifest = s.path("active.yaml")
        try Self.manifest(speaker: "speaker: active, sync_checkpoint: \(checkpoint), min_face_size: 32").write(
            toFile: manifest, atomically: true, encoding: .utf8)
        let out = s.path("out")
        try Fixture.preprocess(manifest, data: s.path("data"), out: out)

        // Every track of every shot is scored; one per shot is kept, and it must be the speaking face.
        let ledger = try Ledger(existing: out)
        let item = try XCTUnwrap(try ledger.items()["talk"])
        let tracks = try ledger.trackScores(item: "talk", key: item.key)
        let kept = tracks.filter { $0.segment != nil }
        XCTAssertEqual(Set(tracks.map(\.shot)).count, Self.shots, "one shot per composed shot: \(tracks.map(\.line))")
        XCTAssertEqual(kept.count, Set(tracks.map(\.shot)).count, "one kept track per shot")
        let slots = try keptSlots(out, ledger)
        var right = 0
        for k in 0..<Self.shots {
            // A track's shot by its middle frame (concatenation may add a frame at a joint).
            let inShot = kept.filter { ($0.first + $0.last) / 2 / Self.shotFrames == k }
            let ok = !inShot.isEmpty && inShot.allSatisfy { slots[$0.segment!] == speakingSlot[k] }
            if ok { right += 1 }
            let scored = tracks.filter { ($0.first + $0.last) / 2 / Self.shotFrames == k }
                .map { "\($0.track) \($0.confidence.map { String(format: "%.4f", $0) } ?? "-")" }
            print("shot \(k): speaking slot \(speakingSlot[k]), kept " + inShot.map { "face \($0.track) slot \(slots[$0.segment!] ?? -1)" }
                .joined(separator: ", ") + (ok ? "" : "  WRONG") + "; scores " + scored.joined(separator: ", "))
        }
        let accuracy = Double(right) / Double(Self.shots)
        print("active speaker: \(right)/\(Self.shots) shots right (\(Int(accuracy * 100))%)")
        // A little below what this test reaches, the same in every run (README): the issue's
        // target is 95%.
        XCTAssertGreaterThanOrEqual(accuracy, 0.9, tracks.map(\.line).joined(separator: "\n"))

        // `cals status --item` lists every track with its score.
        let status = try Fixture.cals(["status", "--out", out, "--item", "talk"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("  active speaker: \(tracks.count) face track(s) in \(Self.shots) shot(s)\n"), status.stdout)
        for track in tracks { XCTAssertTrue(status.stdout.contains("    \(track.line)\n"), status.stdout) }
    }

    /// Without a checkpoint `speaker: active` is refused when the manifest is read, as is a
    /// checkpoint that is not there.
    func testActiveSpeakerNeedsACheckpoint() throws {
        XCTAssertThrowsError(try Manifest.parse(Self.manifest(speaker: "speaker: active"), file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("speaker active needs sync_checkpoint"), "\($0)")
        }
        XCTAssertThrowsError(try Manifest.parse(Self.manifest(speaker: "speaker: active, sync_checkpoint: /nonexistent/sync.safetensors"),
                                                file: "m.yaml")) {
            XCTAssertTrue("\($0)".contains("/nonexistent/sync.safetensors"), "\($0)")
        }
    }

    /// A folder-adapter manifest whose face stage has `face` set.
    static func manifest(speaker face: String) -> String {
        Fixture.manifestText(face: face, workers: 1, timeLimit: 600)
    }

    /// Segment → the slot (0…3, left to right) of its first row's face box centre, read with h5py.
    private func keptSlots(_ out: String, _ ledger: Ledger) throws -> [Int: Int] {
        var slots: [Int: Int] = [:]
        for rows in try ledger.currentRows() {
            let shard = "\(out)/shards/\(rows.shard)"
            let r = try TestSupport.run(TestEnv.python, ["-c", "import h5py, sys; b = h5py.File(sys.argv[1])['boxes'][int(sys.argv[2])]; "
                                                         + "print(int(b[0] + b[2] / 2))", shard, "\(rows.firstRow)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let centre = try XCTUnwrap(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            slots[rows.segment] = centre / Self.side
        }
        return slots
    }
}
