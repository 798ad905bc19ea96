import Common
import Foundation
import Media
import TestSupport
import XCTest

final class MediaWriterTests: XCTestCase {
    /// Frames and audio written, then decoded back: count, size, colour and audio tone match.
    func testRoundTripKeepsFramesColoursAndAudio() throws {
        let scratch = ScratchDir("writer")
        let path = scratch.path("out.mp4")
        let (width, height, count) = (96, 64, 150)
        // Frame i: left half a red level that grows with i (mod 50), right half constant blue.
        func frame(_ i: Int) -> RGBImage {
            var image = RGBImage(width: width, height: height)
            for y in 0..<height {
                for x in 0..<width {
                    let p = (y * width + x) * 3
                    if x < width / 2 { image.pixels[p] = UInt8(40 + 4 * (i % 50)) } else { image.pixels[p + 2] = 200 }
                }
            }
            return image
        }
        let rate = 16_000
        // 6 s of tone, all given before the frames.
        let tone = (0..<(6 * rate)).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        let writer = try MediaWriter(path: path, width: width, height: height)
        try writer.appendAudio(tone)
        for i in 0..<count { try writer.append(frame(i)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "only the temporary file exists before finish")
        try writer.finish()

        // Interleaved: packets in file order switch between video and audio throughout.
        let order = try TestSupport.run("ffprobe", ["-v", "error", "-show_entries", "packet=stream_index", "-of", "csv=p=0", path])
            .stdout.split(whereSeparator: \.isNewline)
        let switches = zip(order, order.dropFirst()).filter { $0 != $1 }.count
        XCTAssertGreaterThan(switches, 20, "6 s of audio and video in alternating runs")

        let decoder = try VideoDecoder(path: path)
        XCTAssertEqual(decoder.width, width)
        XCTAssertEqual(decoder.height, height)
        XCTAssertTrue(decoder.hasAudio)
        var frames: [RGBImage] = []
        while let f = try decoder.nextFrame() { frames.append(f) }
        XCTAssertEqual(frames.count, count)
        for (i, f) in frames.enumerated() {
            let left = (height / 2 * width + width / 4) * 3, right = (height / 2 * width + 3 * width / 4) * 3
            XCTAssertEqual(Double(f.pixels[left]), Double(40 + 4 * (i % 50)), accuracy: 6, "red level of frame \(i)")
            XCTAssertEqual(Double(f.pixels[right + 2]), 200, accuracy: 6, "blue of frame \(i)")
        }

        let clip = try decodeAudio(path: path)
        XCTAssertEqual(clip.sampleRate, rate)
        XCTAssertEqual(clip.samples.count, tone.count)
        // The tone comes back: correlation with the original over the common length.
        let n = min(clip.samples.count, tone.count) - 2048
        var dot = 0.0, a2 = 0.0, b2 = 0.0
        for i in 1024..<n { dot += Double(clip.samples[i] * tone[i]); a2 += Double(clip.samples[i] * clip.samples[i]); b2 += Double(tone[i] * tone[i]) }
        XCTAssertGreaterThan(dot / (a2 * b2).squareRoot(), 0.99)
    }

    func testWriterWithoutFinishLeavesNothing() throws {
        let scratch = ScratchDir("writer")
        let path = scratch.path("dropped.mp4")
        do {
            let writer = try MediaWriter(path: path, width: 32, height: 32, audioSampleRate: nil)
            try writer.append(RGBImage(width: 32, height: 32))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path), [])
    }

    func testUnwritableFolderThrows() {
        XCTAssertThrowsError(try MediaWriter(path: "/nonexistent-folder/x.mp4", width: 32, height: 32))
    }

    /// The preset reaches x264: one it does not know fails when the encoder opens, and leaves no file.
    func testUnknownPresetThrows() throws {
        let scratch = ScratchDir("writer-preset")
        XCTAssertNoThrow(try MediaWriter(path: scratch.path("ultrafast.mp4"), width: 32, height: 32, preset: "ultrafast"))
        XCTAssertThrowsError(try MediaWriter(path: scratch.path("bad.mp4"), width: 32, height: 32, preset: "no-such-preset"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path), [])
    }
}
