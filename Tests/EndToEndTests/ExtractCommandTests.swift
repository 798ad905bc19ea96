import XCTest
import TestSupport

/// `cals extract` run as a user runs it: the real binary on files made here.
final class ExtractCommandTests: XCTestCase {
    let scratch = ScratchDir("e2e-extract")

    func testGoodClipGivesAnHDF5FileThatH5pyReads() throws {
        let video = scratch.path("talk.mp4"), out = scratch.path("talk.h5")
        try TestMedia.faceClip(video, seconds: 2)
        let result = try TestSupport.run(TestEnv.calsBinary, ["extract", video, "--out", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try runPython("Tests/EndToEndTests/check_extract.py", [out, video])
        XCTAssertTrue(report.contains("ok"), report)
    }

    /// Each bad input: non-zero exit, one line `error: <file>: <reason>`, no output left behind.
    func testBadInputsFailWithOneLineAndNoOutput() throws {
        let missing = scratch.path("missing.mp4")
        let empty = scratch.path("empty.mp4")
        FileManager.default.createFile(atPath: empty, contents: Data())
        let text = scratch.path("text.mp4")
        try "this is not a video\n".write(toFile: text, atomically: true, encoding: .utf8)
        let good = scratch.path("good.mp4")
        try TestMedia.faceClip(good, seconds: 2)
        let truncated = scratch.path("truncated.mp4")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        let silent = scratch.path("silent.mp4")
        try TestMedia.faceClip(silent, seconds: 1, audio: false)
        let audioOnly = scratch.path("speech.wav")
        try TestMedia.toneWAV(audioOnly)
        let noFace = scratch.path("pattern.mp4")
        try TestMedia.patternClip(noFace)

        for input in [missing, empty, text, truncated, silent, audioOnly, noFace] {
            let out = scratch.path(URL(fileURLWithPath: input).lastPathComponent + ".h5")
            let result = try TestSupport.run(TestEnv.calsBinary, ["extract", input, "--out", out])
            XCTAssertNotEqual(result.status, 0, "\(input) should fail")
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(input): stderr was \(result.stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("error: \(input): ") ?? false,
                          "\(input): stderr was \(result.stderr)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
                .filter { $0.hasPrefix(URL(fileURLWithPath: out).lastPathComponent) }
            XCTAssertEqual(leftovers, [], "\(input) left \(leftovers)")
        }
    }
}
