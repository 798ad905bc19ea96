import Common
import Foundation
import Media
import TestSupport
import XCTest

/// An interval of a long video (`frames:`) decodes to what a decode from the start gives at
/// those times: the same frames byte for byte, and the same audio (within 1e-4), in the
/// containers yt-dlp writes (MP4 with AAC, Matroska and WebM with Opus), with a key frame every
/// 40 frames so intervals start between key frames. A late interval's audio is reached by a
/// seek: it reads far fewer packets than a decode from the start.
final class IntervalDecodeTests: XCTestCase {
    let scratch = ScratchDir("intervals")
    /// Frames of the test videos (12 s at 25 fps).
    static let length = 300
    /// At the start, within the first pre-roll, in the middle, and at the end (past it: clipped).
    static let intervals = [0..<50, 33..<80, 110..<163, 261..<340]

    private func makeVideo(_ container: String) throws -> String {
        let path = scratch.path("long.\(container)")
        // A moving picture, and audio that never repeats (a rising tone over a fixed one).
        var args = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=12",
                    "-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*(200+40*t)*t)+0.2*sin(2*PI*1234*t):s=44100:d=12",
                    "-g", "40"]
        switch container {
        case "webm": args += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus"]
        case "mkv": args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "libopus"]
        // Without perceptual noise substitution: its noise comes from the decoder's random
        // generator, whose state depends on every frame decoded before (so after any seek those
        // bands differ; measured up to 3.2e-3 in the last interval here with it).
        default: args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0"]
        }
        try ffmpeg(args + [path])
        return path
    }

    func testIntervalsEqualTheDecodeFromTheStart() throws {
        for container in ["mp4", "mkv", "webm"] {
            let path = try makeVideo(container)
            let allFrames = try decodeAllFrames(path).map(\.pixels)
            XCTAssertGreaterThanOrEqual(allFrames.count, Self.length, container)
            let full = try decodeAudio(path: path)
            for frames in Self.intervals {
                let name = "\(container) \(frames)"
                let video = try decodeAllFrames(path, frames: frames).map(\.pixels)
                XCTAssertEqual(video.count, min(frames.upperBound, allFrames.count) - frames.lowerBound, name)
                XCTAssertTrue(video == Array(allFrames[frames.lowerBound..<(frames.lowerBound + video.count)]), name)
                let cut = try decodeAudio(path: path, frames: frames)
                let start = frames.lowerBound * 640
                XCTAssertEqual(cut.samples.count, min(frames.count * 640, full.samples.count - start), name)
                let expected = full.samples[start..<min(start + cut.samples.count, full.samples.count)]
                let worst = zip(cut.samples, expected).map { abs($0 - $1) }.max() ?? .infinity
                print("interval test: \(name): \(cut.samples.count) samples, max difference \(worst), "
                      + "\(cut.damage.packets) of \(full.damage.packets) audio packets read")
                XCTAssertLessThanOrEqual(worst, 1e-4, name)
                // The last interval (from 10.4 s) is sought: its audio reads its own packets and
                // the pre-roll's from the key frame at 8 s, not every packet before them.
                if frames.lowerBound > 250 { XCTAssertLessThan(cut.damage.packets, full.damage.packets / 2, name) }
            }
        }
    }
}
