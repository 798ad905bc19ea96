import Common
import Foundation
import Media
import TestSupport
import XCTest

/// Each bad input ends in an `InputError(path, reason)` naming the file: no crash, trap or hang.
final class BadInputTests: XCTestCase {
    let scratch = ScratchDir("bad-input")

    func testMissingFile() {
        let path = scratch.path("missing.mp4")
        XCTAssertEqual(inputError { _ = try VideoDecoder(path: path) }, InputError(path, "file not found"))
        XCTAssertEqual(inputError { _ = try decodeAudio(path: path) }, InputError(path, "file not found"))
    }

    func testZeroByteFile() {
        let path = scratch.path("empty.mp4")
        FileManager.default.createFile(atPath: path, contents: Data())
        XCTAssertEqual(inputError { _ = try VideoDecoder(path: path) }, InputError(path, "empty file (0 bytes)"))
        XCTAssertEqual(inputError { _ = try decodeAudio(path: path) }, InputError(path, "empty file (0 bytes)"))
    }

    func testTextFileNamedMP4() throws {
        let path = scratch.path("notes.mp4")
        try "this is not a video\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = inputError { _ = try VideoDecoder(path: path) }
        XCTAssertEqual(error?.path, path)
        XCTAssertTrue(error?.reason.hasPrefix("cannot open: ") ?? false, "\(String(describing: error))")
        XCTAssertEqual(inputError { _ = try decodeAudio(path: path) }?.path, path)
    }

    /// Cut in half: with the index at the end the file cannot be opened; with the index first
    /// (faststart) decoding fails where the data stops.
    func testTruncatedVideo() throws {
        for faststart in [false, true] {
            let whole = scratch.path("whole-\(faststart).mp4"), cut = scratch.path("cut-\(faststart).mp4")
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=d=4",
                        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
                       + (faststart ? ["-movflags", "+faststart"] : []) + [whole])
            let data = try Data(contentsOf: URL(fileURLWithPath: whole))
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
            let error = inputError { _ = try decodeAllFrames(cut) }
            XCTAssertEqual(error?.path, cut)
            let reason = error?.reason ?? ""
            XCTAssertTrue(faststart ? reason.contains("truncated") : reason.hasPrefix("cannot open: "), reason)
            XCTAssertNotNil(inputError { _ = try decodeAudio(path: cut) }, "audio of truncated file, faststart \(faststart)")
        }
    }

    func testVideoWithoutAudioStream() throws {
        let path = scratch.path("silent.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", path])
        XCTAssertEqual(inputError { _ = try decodeAudio(path: path) }, InputError(path, "no audio stream"))
    }

    func testAudioOnlyFileOpenedAsVideo() throws {
        for name in ["speech.wav", "speech.m4a"] {
            let path = scratch.path(name)
            try ffmpeg(["-f", "lavfi", "-i", "sine=d=1", path])
            XCTAssertEqual(inputError { _ = try VideoDecoder(path: path) }, InputError(path, "no video stream"))
        }
        // An MP3 with cover art: the picture stream is not a video.
        let path = scratch.path("song.mp3")
        try ffmpeg(["-f", "lavfi", "-i", "sine=d=1", "-f", "lavfi", "-i", "color=red:s=64x64:d=1", "-map", "0", "-map", "1",
                    "-frames:v", "1", "-c:v", "mjpeg", "-disposition:v", "attached_pic", path])
        XCTAssertEqual(inputError { _ = try VideoDecoder(path: path) }, InputError(path, "no video stream"))
        XCTAssertEqual(try decodeAudio(path: path).samples.count, 16_000, accuracy: 1200)
    }

    func testTimeLimit() throws {
        let path = scratch.path("slow.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", path])
        XCTAssertEqual(inputError { _ = try VideoDecoder(path: path, timeLimit: 0) },
                       InputError(path, "decode took longer than 0 s"))
        XCTAssertEqual(inputError { _ = try decodeAudio(path: path, timeLimit: 0) },
                       InputError(path, "decode took longer than 0 s"))
        let wav = scratch.path("slow.wav")
        try ffmpeg(["-f", "lavfi", "-i", "sine=d=1", wav])
        XCTAssertEqual(inputError { _ = try decodeAudio(path: wav, timeLimit: 0) },
                       InputError(wav, "decode took longer than 0 s"))
    }
}
