import Common
import Foundation
import Media
import TestSupport
import XCTest

final class VideoDecoderTests: XCTestCase {
    /// Constant-rate sources: 25·duration (±1) frames, and output frame i shows source frame
    /// ⌊i·fps/25⌋ (the frame on screen at i/25 s).
    func testConstantRateSourcesGiveTheFrameOnScreen() throws {
        let scratch = ScratchDir("decode")
        for (fps, rate) in [("24", 24.0), ("30", 30.0), ("60", 60.0), ("30000/1001", 30000.0 / 1001)] {
            let path = scratch.path("clip-\(Int(rate)).mp4")
            let seconds = 3.0
            try makeCountingClip(path, fps: fps, seconds: seconds)
            let decoder = try VideoDecoder(path: path)
            XCTAssertEqual(decoder.sourceFrameRate, rate, accuracy: 0.01)
            XCTAssertEqual(decoder.width, 128)
            XCTAssertEqual(decoder.height, 32)
            XCTAssertFalse(decoder.hasAudio)
            var frames: [RGBImage] = []
            while let f = try decoder.nextFrame() { frames.append(f) }
            let sourceFrames = Int((seconds * rate).rounded(.up))
            XCTAssertEqual(Double(frames.count), 25 * Double(sourceFrames) / rate, accuracy: 1, "\(fps) fps")
            for (i, frame) in frames.enumerated() {
                XCTAssertEqual(countingIndex(frame), Int((Double(i) * rate / 25 + 1e-9).rounded(.down)), "\(fps) fps, frame \(i)")
            }
        }
    }

    /// A raw elementary stream (no container, no timestamps: MPEG-2 video, H.264 Annex B, HEVC),
    /// encoded at 25 fps, gives every frame in order; it carries no audio. (Frames without a
    /// timestamp are placed one source frame apart.)
    func testRawElementaryStreamsGiveEveryFrame() throws {
        let scratch = ScratchDir("decode")
        let counting = scratch.path("counting.mp4")
        try makeCountingClip(counting, fps: "25", seconds: 3)
        let encodings = [("m2v", ["-c:v", "mpeg2video", "-q:v", "2", "-f", "mpeg2video"]),
                         ("h264", ["-c:v", "libx264", "-qp", "0", "-f", "h264"]),
                         ("hevc", ["-c:v", "libx265", "-x265-params", "lossless=1:log-level=error", "-f", "hevc"])]
        for (suffix, options) in encodings {
            let path = scratch.path("raw.\(suffix)")
            try ffmpeg(["-i", counting] + options + [path])
            let decoder = try VideoDecoder(path: path)
            XCTAssertFalse(decoder.hasAudio, suffix)
            XCTAssertEqual(decoder.width, 128, suffix)
            XCTAssertEqual(decoder.height, 32, suffix)
            let frames = try decodeAllFrames(path)
            XCTAssertEqual(frames.count, 75, suffix)
            XCTAssertEqual(frames.enumerated().filter { countingIndex($0.element) != $0.offset }.map(\.offset), [], suffix)
        }
    }

    /// Variable frame rate: each output frame is the last source frame whose presentation time
    /// (as ffprobe reports it) is ≤ i/25.
    func testVariableFrameRateFollowsPresentationTimes() throws {
        let scratch = ScratchDir("decode")
        let path = scratch.path("vfr.mkv")
        // Source frame N at (N + 0.45·(N mod 3))/30 s: gaps alternate 1.45, 1.45, 0.1 frame times.
        try makeCountingClip(path, fps: "30", seconds: 3, filters: "settb=1/1000,setpts='(N+0.45*mod(N,3))/30/TB'",
                             extra: ["-fps_mode", "passthrough", "-enc_time_base", "1:1000"])
        let probe = try TestSupport.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                        "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        let times = probe.stdout.split(whereSeparator: \.isNewline).compactMap { Double($0.trimmingCharacters(in: .init(charactersIn: ","))) }
        XCTAssertEqual(times.count, 90)
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        XCTAssertGreaterThan(gaps.max()! / gaps.min()!, 5, "the clip really has a variable frame rate")

        let frames = try decodeAllFrames(path)
        let end = times.last! - times[0] + 1.0 / 30
        XCTAssertEqual(Double(frames.count), 25 * end, accuracy: 1)
        for (i, frame) in frames.enumerated() {
            let t = Double(i) / 25 + 1e-6
            let expected = times.lastIndex { $0 - times[0] <= t }!
            XCTAssertEqual(countingIndex(frame), expected, "frame \(i) at \(t) s")
        }
    }

    /// Video starting after the audio: frames count from the container's start (as the audio
    /// does), showing the first picture until it appears.
    func testLateVideoIsTimedFromTheContainerStart() throws {
        let scratch = ScratchDir("decode")
        let path = scratch.path("late-video.mkv")
        try makeCountingClip(path, fps: "25", seconds: 2,
                             inputs: ["-f", "lavfi", "-i", "sine=r=16000:d=3", "-itsoffset", "0.4"], extra: ["-c:a", "aac"])
        let probe = try TestSupport.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                    "stream=start_time:format=start_time", "-of", "default=nw=1:nk=1", path])
        let starts = probe.stdout.split(whereSeparator: \.isNewline).compactMap { Double($0) }
        XCTAssertEqual(starts.count, 2)
        let offset = starts[0] - starts[1]  // video start after the container start
        XCTAssertGreaterThan(offset, 0.35)
        let frames = try decodeAllFrames(path)
        XCTAssertEqual(Double(frames.count), 25 * (offset + 2), accuracy: 1)
        for (i, frame) in frames.enumerated() {
            let t = Double(i) / 25 - offset
            XCTAssertEqual(countingIndex(frame), t < 0 ? 0 : Int((t * 25 + 1e-6).rounded(.down)), "frame \(i)")
        }
    }

    /// Display matrices for a quarter, half and three-quarter turn: the output has the displayed
    /// size and matches the ffmpeg program's auto-rotated picture.
    func testRotationMetadataGivesUprightFrames() throws {
        let scratch = ScratchDir("decode")
        let plain = scratch.path("plain.mp4")
        // 64×32 (w×h): red top-left quadrant, green top-right, blue bottom half.
        try ffmpeg(["-f", "lavfi", "-i", "color=blue:s=64x32:r=25:d=1", "-vf",
                    "drawbox=x=0:y=0:w=32:h=16:c=red:t=fill,drawbox=x=32:y=0:w=32:h=16:c=green:t=fill",
                    "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "10", plain])
        // FFmpeg 5.1 stores the `rotate` tag as a counter-clockwise display matrix; the decoder
        // reports the clockwise turn it applies.
        for (tag, clockwise) in [(90, 270), (180, 180), (270, 90)] {
            let rotated = scratch.path("rotated-\(tag).mp4")
            try ffmpeg(["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=\(tag)", rotated])
            let decoder = try VideoDecoder(path: rotated)
            XCTAssertEqual(decoder.rotation, clockwise)
            let size = tag == 180 ? [64, 32] : [32, 64]
            XCTAssertEqual([decoder.width, decoder.height], size)
            XCTAssertEqual([decoder.sourceWidth, decoder.sourceHeight], size)
            let frame = try XCTUnwrap(decoder.nextFrame())
            XCTAssertEqual([frame.width, frame.height], size)

            let reference = scratch.path("reference-\(tag).rgb")
            try ffmpeg(["-i", rotated, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", reference])
            let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: reference)))
            XCTAssertEqual(expected.count, frame.pixels.count)
            let meanDifference = zip(expected, frame.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(expected.count)
            XCTAssertLessThan(meanDifference, 3, "same picture as ffmpeg's autorotate, rotate=\(tag)")
            if tag == 90 {
                // A quarter turn counter-clockwise: green (source top-right) is now top-left,
                // red bottom-left, blue the right half.
                func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(frame.pixels[(y * 32 + x) * 3..<(y * 32 + x) * 3 + 3]) }
                XCTAssertGreaterThan(pixel(8, 8)[1], 100); XCTAssertLessThan(pixel(8, 8)[0], 60)
                XCTAssertGreaterThan(pixel(8, 56)[0], 200); XCTAssertLessThan(pixel(8, 56)[1], 60)
                XCTAssertGreaterThan(pixel(24, 32)[2], 200); XCTAssertLessThan(pixel(24, 32)[0], 60)
            }
        }
    }

    /// A 4K clip decodes at full size; `maxSide` downscales it.
    func testFourKClipDecodes() throws {
        let scratch = ScratchDir("decode")
        let path = scratch.path("4k.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=3840x2160:r=25:d=0.4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", path])
        let full = try decodeAllFrames(path)
        XCTAssertEqual(full.count, 10)
        XCTAssertEqual([full[0].width, full[0].height], [3840, 2160])
        let small = try decodeAllFrames(path, maxSide: 640)
        XCTAssertEqual(small.count, 10)
        XCTAssertEqual([small[0].width, small[0].height], [640, 360])
    }

    /// Widths and heights that are not multiples of 16 (700, 524, 844, 1282) or are odd (721×405
    /// in 4:4:4): every frame decodes at its size and matches the ffmpeg program's RGB.
    /// libswscale's SIMD paths once wrote past rows of exactly width·3 bytes here (heap
    /// corruption, abort).
    func testUnalignedSizesMatchFFmpeg() throws {
        let scratch = ScratchDir("decode")
        for (width, height, pixelFormat) in [(700, 700, "yuv420p"), (524, 524, "yuv420p"), (844, 844, "yuv420p"),
                                             (1282, 720, "yuv420p"), (721, 405, "yuv444p")] {
            let path = scratch.path("clip-\(width)x\(height).mp4")
            // testsrc2 rounds odd sizes down to even: the scale filter makes the exact size
            // (with square pixels; it would otherwise keep the aspect ratio by the pixel shape).
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(width + 1)x\(height + 1):rate=25:duration=0.4", "-vf",
                        "scale=\(width):\(height),setsar=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pixelFormat, path])
            let frames = try decodeAllFrames(path)
            XCTAssertEqual(frames.count, 10)
            XCTAssertEqual(frames.map { [$0.width, $0.height] }, Array(repeating: [width, height], count: 10))
            let expected = try ffmpegFrames(path, count: 10, in: scratch)
            XCTAssertLessThan(meanAbsoluteDifference(frames.flatMap(\.pixels), expected), 1, "\(width)x\(height)")
        }
    }

    /// Anamorphic video (sample aspect ratio 2:1 as in the 360×528 MP4 that once aborted, and
    /// 8:9 as NTSC DV) comes out with square pixels: the width scaled by the ratio, the picture
    /// as the ffmpeg program's `scale=iw*sar:ih`.
    func testAnamorphicVideoGetsSquarePixels() throws {
        let scratch = ScratchDir("decode")
        for (stored, ratio, display, flags) in [("360x528", "2/1", [720, 528], "bilinear"), ("720x480", "8/9", [640, 480], "area")] {
            let path = scratch.path("anamorphic-\(stored).mp4")
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(stored):rate=25:duration=0.4", "-vf", "setsar=\(ratio)",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path])
            let decoder = try VideoDecoder(path: path)
            XCTAssertEqual([decoder.width, decoder.height], display, stored)
            XCTAssertEqual([decoder.sourceWidth, decoder.sourceHeight], display, stored)
            let parts = ratio.split(separator: "/").map { Double($0)! }
            XCTAssertEqual(decoder.pixelAspectRatio, parts[0] / parts[1], accuracy: 1e-9)
            var frames: [RGBImage] = []
            while let frame = try decoder.nextFrame() { frames.append(frame) }
            XCTAssertEqual(frames.count, 10)
            let expected = try ffmpegFrames(path, count: 10, filter: "scale=iw*sar:ih:flags=\(flags)", in: scratch)
            XCTAssertLessThan(meanAbsoluteDifference(frames.flatMap(\.pixels), expected), 2, stored)
        }
    }

    /// Interlaced MPEG-2 in MPEG-TS (a box moving fast, so the two fields of a frame differ):
    /// frames are deinterlaced as the ffmpeg program's bwdif gives them, and differ clearly from
    /// the combed frames without it. A progressive encoding of the same source is left alone.
    func testInterlacedVideoIsDeinterlaced() throws {
        let scratch = ScratchDir("decode")
        let source = scratch.path("source.mp4"), interlaced = scratch.path("interlaced.ts")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=50:duration=1", "-f", "lavfi", "-i", "color=white:size=40x120:rate=50",
                    "-filter_complex", "[0:v][1:v]overlay=x='mod(t*400,280)':y=60:shortest=1", "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", source])
        try ffmpeg(["-i", source, "-vf", "tinterlace=mode=interleave_top", "-c:v", "mpeg2video", "-q:v", "2",
                    "-flags", "+ilme+ildct", "-top", "1", interlaced])
        XCTAssertFalse(try VideoDecoder(path: source).deinterlaces)
        let decoder = try VideoDecoder(path: interlaced)
        XCTAssertTrue(decoder.deinterlaces)
        var frames: [RGBImage] = []
        while let frame = try decoder.nextFrame() { frames.append(frame) }
        XCTAssertEqual(frames.count, 25)
        let ours = frames.flatMap(\.pixels)
        let bwdif = try ffmpegFrames(interlaced, count: 25, filter: "bwdif=mode=send_frame:parity=auto:deint=interlaced", in: scratch)
        let combed = try ffmpegFrames(interlaced, count: 25, in: scratch)
        let (toBwdif, toCombed) = (meanAbsoluteDifference(ours, bwdif), meanAbsoluteDifference(ours, combed))
        XCTAssertLessThan(toBwdif, 0.5, "the ffmpeg program's bwdif")
        XCTAssertGreaterThan(toCombed, 4 * toBwdif + 0.5, "not deinterlaced")
    }
}
