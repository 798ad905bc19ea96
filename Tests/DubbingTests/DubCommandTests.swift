import Foundation
import TestSupport
import XCTest

/// `cals dub` run as a user runs it: a tiny L2F run made here by the real chain (demo corpus →
/// preprocess → sync encoder → lip units → A2L → L2F, a few steps each at narrow widths), then a
/// face clip dubbed with other speech (espeak-ng).
final class DubCommandTests: XCTestCase {
    static let scratch = ScratchDir("e2e-dub")
    static var run: String?
    static var setupError: Error?

    override class func setUp() {
        do { run = try makeRun() } catch { setupError = error }
    }

    func l2fRun() throws -> String {
        if let error = Self.setupError { throw error }
        return Self.run!
    }

    static func cals(_ arguments: [String]) throws {
        let result = try TestSupport.run(TestEnv.calsBinary, arguments)
        guard result.status == 0 else {
            throw InputErrorForTests("cals \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    /// The L2F run folder of the tiny chain.
    static func makeRun() throws -> String {
        let raw = scratch.path("raw"), data = scratch.path("processed"), manifest = TestEnv.repoRoot.path + "/manifests/demo.yaml"
        let sync = scratch.path("sync"), a2l = scratch.path("a2l"), l2f = scratch.path("l2f")
        try cals(["demo-corpus", "--out", raw, "--speakers", "3", "--clips", "2", "--seconds", "2",
                  "--faces", TestEnv.repoRoot.path + "/data/faces"])
        try cals(["preprocess", manifest, "--data", raw, "--out", data])
        try cals(["train", "sync", "--data", data, "--out", sync, "--steps", "2", "--batch", "2", "--windows", "2",
                  "--width", "0.25", "--eval-every", "2", "--eval-clips", "1"])
        try cals(["preprocess", manifest, "--data", raw, "--out", data, "--lip-units", sync + "/checkpoint.safetensors"])
        try cals(["train", "a2l", "--data", data, "--out", a2l, "--steps", "2", "--layers", "1", "--dim", "16",
                  "--heads", "2", "--ff", "32", "--batch", "2", "--frames", "10", "--warmup", "1", "--eval-every", "2",
                  "--eval-windows", "2", "--sync-checkpoint", sync + "/checkpoint.safetensors"])
        try cals(["train", "l2f", "--data", data, "--sync", sync, "--a2l", a2l, "--out", l2f, "--steps", "2",
                  "--batch", "1", "--widths", "4,8,8,8,8", "--grid-every", "2", "--checkpoint-every", "2"])
        return l2f
    }

    /// Speech (espeak-ng) longer than the 2 s clip, as stereo 44.1 kHz AAC in an .m4a: tests any
    /// rate → 16 kHz mono, and the back-and-forth continuation of the video.
    func speech(_ path: String) throws {
        let wav = Self.scratch.path("speech-\(UUID().uuidString.prefix(6)).wav")
        let result = try TestSupport.run("espeak-ng", ["-w", wav, "Dubbing puts new words into an old mouth, one frame at a time, and the face keeps talking back and forth."])
        XCTAssertEqual(result.status, 0, result.stderr)
        try ffmpeg(["-i", wav, "-ac", "2", "-ar", "44100", "-c:a", "aac", path])
    }

    func seconds(_ path: String) throws -> Double {
        let result = try TestSupport.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        return try XCTUnwrap(Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), result.stderr)
    }

    func testDubbedClipHasTheSpeechLengthItsAudioAndANewMouthOnly() throws {
        let run = try l2fRun()
        // 1 s without a face (its frames must pass through), then 2 s of a face.
        let pattern = Self.scratch.path("pattern.mp4"), face = Self.scratch.path("face.mp4"), video = Self.scratch.path("video.mp4")
        try TestMedia.patternClip(pattern, seconds: 1)
        try TestMedia.faceClip(face, seconds: 2, audio: false)
        try ffmpeg(["-i", pattern, "-i", face, "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video])
        let audio = Self.scratch.path("speech.m4a"), out = Self.scratch.path("dubbed.mp4")
        try speech(audio)
        let expected = Int((try seconds(audio) * 25).rounded(.up))
        XCTAssertGreaterThan(expected, 80, "the speech should outlast the 75-frame video")
        let result = try TestSupport.run(TestEnv.calsBinary, ["dub", video, "--audio", audio, "--l2f", run, "--out", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        print(result.stdout)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let summary = try XCTUnwrap(lines.first { $0.hasPrefix("dubbed \(out): ") }, result.stdout)
        XCTAssertTrue(try XCTUnwrap(lines.last).hasPrefix("time per part: decode "), result.stdout)
        XCTAssertTrue(summary.contains("from 75 video frames"), summary)
        XCTAssertFalse(summary.contains(" 0 passed through"), summary)
        let report = try runPython(TestEnv.repoRoot.path + "/Tests/DubbingTests/check_dub.py", [out, video, "\(expected)"])
        XCTAssertTrue(report.hasPrefix("ok"), report)
        print(report)

        // Speech shorter than the video: the frames stream through (not kept for playing back).
        let short = Self.scratch.path("short.wav"), shortOut = Self.scratch.path("short.mp4")
        try TestMedia.toneWAV(short, seconds: 1.2, sampleRate: 22050)
        let second = try TestSupport.run(TestEnv.calsBinary, ["dub", face, "--audio", short, "--l2f", run, "--out", shortOut])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains(": 30 frames (1.20 s of speech) from 30 video frames"), second.stdout)
        let shortReport = try runPython(TestEnv.repoRoot.path + "/Tests/DubbingTests/check_dub.py", [shortOut, face, "30"])
        XCTAssertTrue(shortReport.hasPrefix("ok"), shortReport)
    }

    /// Each bad input: non-zero exit, one line `error: <file>: <reason>` on stderr, no output
    /// file (nor a partial one) left behind.
    func testBadInputsFailWithOneLineAndNoOutput() throws {
        let run = try l2fRun()
        let folder = ScratchDir("e2e-dub-bad")
        let video = folder.path("face.mp4"), audio = folder.path("speech.wav")
        try TestMedia.faceClip(video, seconds: 1)
        try TestMedia.toneWAV(audio)
        let missing = folder.path("missing.mp4"), text = folder.path("text.mp4"), pattern = folder.path("pattern.mp4")
        let silent = folder.path("silent.mp4"), badCheckpoint = folder.path("bad.safetensors")
        try "this is not a video\n".write(toFile: text, atomically: true, encoding: .utf8)
        try "not a checkpoint".write(toFile: badCheckpoint, atomically: true, encoding: .utf8)
        try TestMedia.patternClip(pattern)
        try TestMedia.faceClip(silent, seconds: 1, audio: false)
        let l2f = run + "/checkpoint.safetensors", sync = Self.scratch.path("sync") + "/checkpoint.safetensors"
        let cases: [(video: String, audio: String, checkpoint: String, culprit: String)] = [
            (missing, audio, l2f, missing), (text, audio, l2f, text), (pattern, audio, l2f, pattern),
            (video, missing, l2f, missing), (video, text, l2f, text), (video, silent, l2f, silent),
            (video, audio, folder.path("no-run"), folder.path("no-run") + "/checkpoint.safetensors"),
            (video, audio, badCheckpoint, badCheckpoint), (video, audio, sync, sync),
        ]
        for c in cases {
            let out = folder.path("out.mp4")
            if c.checkpoint.hasSuffix("no-run") { try FileManager.default.createDirectory(atPath: c.checkpoint, withIntermediateDirectories: true) }
            let result = try TestSupport.run(TestEnv.calsBinary, ["dub", c.video, "--audio", c.audio, "--l2f", c.checkpoint, "--out", out])
            XCTAssertNotEqual(result.status, 0, "\(c) should fail")
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(c): stderr was \(result.stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("error: \(c.culprit): ") ?? false, "\(c): stderr was \(result.stderr)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.contains("out.mp4") }
            XCTAssertEqual(leftovers, [], "\(c) left \(leftovers)")
        }
    }
}

extension DubCommandTests {
    /// `--face 1` dubs the second face `cals faces` lists and leaves the other two as they were.
    func testChosenFaceIsDubbed() throws {
        let run = try l2fRun()
        let clip = Self.scratch.path("three.mp4"), out = Self.scratch.path("three-dubbed.mp4")
        let manifest = TestEnv.repoRoot.path + "/manifests/demo.yaml"
        try TestMedia.threeFaceClip(clip)
        let listed = try TestSupport.run(TestEnv.calsBinary, ["faces", clip, "--manifest", manifest])
        let line = try XCTUnwrap(listed.stdout.split(separator: "\n").first { $0.hasPrefix("face 1: ") }, listed.stdout)
        let box = line.components(separatedBy: "box ")[1].split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(box.count, 4, String(line))
        guard box.count == 4 else { return }
        let audio = Self.scratch.path("short.wav")
        try TestMedia.toneWAV(audio, seconds: 1.2)
        let result = try TestSupport.run(TestEnv.calsBinary, ["dub", clip, "--audio", audio, "--l2f", run, "--out", out,
                                                              "--manifest", manifest, "--face", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        // The chosen face's panel changes most.
        let changes = try panelChanges(clip, out, width: 914, height: 320, edges: TestMedia.threeFacePanels)
        let panel = TestMedia.threeFacePanels.lastIndex { $0 <= box[0] + box[2] / 2 } ?? -1
        XCTAssertEqual(changes.indices.max { changes[$0] < changes[$1] }, panel, "change per panel \(changes), face 1 in panel \(panel)")
    }

    /// `--face active` dubs the face that speaks the video's own audio: two demo-corpus clips side
    /// by side with the audio of one, dubbed once with each one's audio, scored by a sync encoder
    /// trained here on their speakers (150 steps; the third speaker held out).
    func testActiveFaceIsDubbed() throws {
        let run = try l2fRun()
        let raw = Self.scratch.path("raw"), sync = Self.scratch.path("sync-active")
        try Self.cals(["train", "sync", "--data", Self.scratch.path("processed"), "--out", sync, "--steps", "150", "--width", "0.25",
                       "--learning-rate", "1e-3", "--no-augment", "--eval-every", "150"])
        let speakers = try FileManager.default.contentsOfDirectory(atPath: raw).sorted()
        XCTAssertEqual(speakers.count, 3)
        let clips = speakers.prefix(2).map { "\(raw)/\($0)/clip001.mp4" }
        let audio = Self.scratch.path("active-tone.wav")
        try TestMedia.toneWAV(audio, seconds: 1.2)
        for speaking in 0..<2 {
            let clip = Self.scratch.path("two-\(speaking).mp4"), out = Self.scratch.path("two-\(speaking)-dubbed.mp4")
            try ffmpeg(["-i", clips[0], "-i", clips[1], "-filter_complex", "[0:v][1:v]hstack=inputs=2[v]", "-map", "[v]",
                        "-map", "\(speaking):a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", clip])
            let result = try TestSupport.run(TestEnv.calsBinary, ["dub", clip, "--audio", audio, "--l2f", run, "--out", out,
                                                                  "--face", "active", "--sync", sync + "/checkpoint.safetensors"])
            XCTAssertEqual(result.status, 0, result.stderr)
            let changes = try panelChanges(clip, out, width: 512, height: 256, edges: [0, 256, 512])
            print("dub --face active, face \(speaking) speaking: change per panel \(changes)")
            XCTAssertEqual(changes.indices.max { changes[$0] < changes[$1] }, speaking, "change per panel \(changes), face \(speaking) speaks")
        }
    }

    /// Mean absolute change per vertical panel (between `edges`) of `dubbed` against `original`
    /// (both `width`×`height`), over the frames both have.
    func panelChanges(_ original: String, _ dubbed: String, width: Int, height: Int, edges: [Int]) throws -> [Double] {
        let script = Self.scratch.path("panels.py")
        try """
            import sys, subprocess, numpy as np
            w, h, edges = int(sys.argv[3]), int(sys.argv[4]), [int(e) for e in sys.argv[5].split(",")]
            def frames(p):
                raw = subprocess.run(["ffmpeg", "-v", "error", "-i", p, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
                return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float32)
            a, b = frames(sys.argv[1]), frames(sys.argv[2])
            n = min(len(a), len(b)); d = np.abs(a[:n] - b[:n]).mean(axis=(0, 1, 3))
            print(" ".join("%.3f" % d[edges[k]:edges[k + 1]].mean() for k in range(len(edges) - 1)))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let printed = try runPython(script, [original, dubbed, "\(width)", "\(height)", edges.map(String.init).joined(separator: ",")])
        let changes = printed.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(changes.count, edges.count - 1, printed)
        return changes
    }
}

extension DubCommandTests {
    /// `crop_rotation: true` in the manifest's face stage: the astronaut photo turned 30° (ffmpeg)
    /// as a still 1 s clip, dubbed side by side. Where the dub pastes (the pixels the generated
    /// panel changed), the copy-the-reference panel, which pastes the face's own turned crop back
    /// the same way, must match the source frame; and that pasted region (a turned half square)
    /// lies along the face's 30°. Pasted unturned, the region would lie level and the copy be
    /// misplaced.
    func testTurnedCropIsPastedBackTurned() throws {
        let run = try l2fRun()
        let photo = TestEnv.repoRoot.path + "/data/faces/astronaut.png"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: photo), "needs `make faces`")
        let clip = Self.scratch.path("turned.mp4"), out = Self.scratch.path("turned-dubbed.mp4")
        try ffmpeg(["-loop", "1", "-framerate", "25", "-i", photo, "-frames:v", "25",
                    "-vf", "rotate=a=\(30 * Double.pi / 180):c=black", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", clip])
        let demo = try String(contentsOfFile: TestEnv.repoRoot.path + "/manifests/demo.yaml", encoding: .utf8)
        XCTAssertTrue(demo.contains("      crop_size: 128\n"))
        let manifest = Self.scratch.path("turned.yaml"), audio = Self.scratch.path("turned.wav")
        try demo.replacingOccurrences(of: "      crop_size: 128\n", with: "      crop_size: 128\n      crop_rotation: true\n")
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        try TestMedia.toneWAV(audio, seconds: 1)
        let result = try TestSupport.run(TestEnv.calsBinary, ["dub", clip, "--audio", audio, "--l2f", run, "--out", out,
                                                              "--manifest", manifest, "--side-by-side"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("face in 25, 0 passed through"), result.stdout)
        // Per frame, below the label strips (the top 64 rows): the pasted region = pixels where the
        // generated panel differs from the real one by more than codec noise; the copy panel's
        // mean error there, and the region's orientation (the long axis of its second moments,
        // degrees clockwise; the photo's own eye line lies about 4° off level).
        let script = Self.scratch.path("turned.py")
        try """
            import sys, subprocess, numpy as np
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", sys.argv[1], "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                                 capture_output=True, check=True).stdout
            frames = np.frombuffer(raw, np.uint8).reshape(-1, 512, 3 * 512, 3).astype(np.float32)
            errors, angles, sizes = [], [], []
            for f in frames[:, 64:]:
                real, copy, generated = f[:, :512], f[:, 512:1024], f[:, 1024:]
                region = np.abs(generated - real).mean(axis=2) > 12
                ys, xs = np.nonzero(region)
                sizes.append(len(xs))
                errors.append(np.abs(copy - real).mean(axis=2)[region].mean())
                dx, dy = xs - xs.mean(), ys - ys.mean()
                angles.append(np.degrees(0.5 * np.arctan2(2 * (dx * dy).mean(), (dx * dx).mean() - (dy * dy).mean())))
            print("%.2f %.2f %d" % (np.median(errors), np.median(angles), int(np.median(sizes))))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let measured = try runPython(script, [out]).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(measured.count, 3)
        guard measured.count == 3 else { return }
        print("turned crop dubbed: copy panel |error| \(measured[0]) in the pasted region of \(Int(measured[2])) pixels at \(measured[1])°")
        XCTAssertGreaterThan(measured[2], 2000, "the pasted region")
        XCTAssertLessThan(measured[0], 6, "the copy panel where the dub pastes")
        XCTAssertEqual(measured[1], 30, accuracy: 8, "the pasted region's orientation")
    }
}
