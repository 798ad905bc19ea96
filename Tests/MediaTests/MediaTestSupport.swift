import Common
import Foundation
import Media
import TestSupport
import XCTest

/// Makes a clip whose frame N shows N in binary: 8 blocks of 16×32 pixels, block b white when
/// bit b of N is set (robust to compression). `filters` (e.g. setpts) run on the pattern;
/// `inputs` come before the pattern's input (other inputs, or options such as -itsoffset).
func makeCountingClip(_ path: String, fps: String, seconds: Double, filters: String? = nil,
                      inputs: [String] = [], extra: [String] = []) throws {
    let bit = "if(mod(floor(N/pow(2,floor(X/16))),2),255,0)"
    try ffmpeg(inputs + ["-f", "lavfi", "-i", "nullsrc=s=128x32:r=\(fps):d=\(seconds),format=rgb24,geq=r='\(bit)':g='\(bit)':b='\(bit)'"]
               + (filters.map { ["-vf", $0] } ?? [])
               + ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"] + extra + [path])
}

/// Reads the frame number a counting clip frame shows (block centres thresholded at 128).
func countingIndex(_ image: RGBImage) -> Int {
    var index = 0
    for b in 0..<8 {
        let x = b * image.width / 8 + image.width / 16, y = image.height / 2
        if image.pixels[(y * image.width + x) * 3] > 128 { index |= 1 << b }
    }
    return index
}

/// Decodes every 25 fps frame of `path` (only timeline frames `frames`, when given).
func decodeAllFrames(_ path: String, frames range: Range<Int>? = nil, maxSide: Int? = nil) throws -> [RGBImage] {
    let decoder = try VideoDecoder(path: path, frames: range, maxSide: maxSide)
    var frames: [RGBImage] = []
    while let frame = try decoder.nextFrame() { frames.append(frame) }
    return frames
}

/// Runs a Python snippet (written to `scratch`) with the reference interpreter; returns stdout.
func python(_ code: String, in scratch: ScratchDir, _ arguments: [String] = []) throws -> String {
    let script = scratch.path("snippet-\(UUID().uuidString.prefix(6)).py")
    try code.write(toFile: script, atomically: true, encoding: .utf8)
    return try runPython(script, arguments)
}

/// Writes float samples as raw little-endian float32.
func writeFloats(_ samples: [Float], to path: String) throws {
    try samples.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path))
}

/// The `InputError` thrown by `body`, failing the test when it throws something else or nothing.
func inputError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> InputError? {
    do {
        try body()
        XCTFail("expected an InputError, nothing was thrown", file: file, line: line)
    } catch let error as InputError {
        return error
    } catch {
        XCTFail("expected an InputError, got \(error)", file: file, line: line)
    }
    return nil
}

/// The first `count` frames of `path` as the ffmpeg program decodes them to packed RGB24 (after
/// the video filter `filter` when given), [count, height, width, 3] flattened.
func ffmpegFrames(_ path: String, count: Int, filter: String? = nil, in scratch: ScratchDir) throws -> [UInt8] {
    let raw = scratch.path("frames-\(UUID().uuidString.prefix(6)).rgb")
    try ffmpeg(["-i", path] + (filter.map { ["-vf", $0] } ?? []) + ["-frames:v", "\(count)", "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
}

/// Mean absolute difference of two byte arrays of the same length (infinity when they differ in length).
func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return .infinity }
    var sum = 0
    for i in 0..<a.count { sum += abs(Int(a[i]) - Int(b[i])) }
    return Double(sum) / Double(a.count)
}

/// A 3 s clip of the face photo drifting over a test pattern with a tone, made by the ffmpeg
/// program with `videoOptions` (codec, pixel format, ...) at `size`, and `audioOptions`.
func makeFaceClip(_ path: String, size: String, seconds: Double = 3, filter: String = "null",
                  videoOptions: [String] = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
                  audioOptions: [String] = ["-c:a", "aac"]) throws {
    let side = (size.split(separator: "x").compactMap { Int($0) }.min() ?? 256) / 2
    try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25:duration=\(seconds)", "-loop", "1", "-i", TestMedia.facePhoto,
                "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100:duration=\(seconds)",
                "-filter_complex", "[1:v]scale=\(side):\(side)[f];[0:v][f]overlay=x='(W-w)/2+10*sin(2*t)':y='(H-h)/2':shortest=1,\(filter)[v]",
                "-map", "[v]", "-map", "2:a", "-t", "\(seconds)"] + videoOptions + audioOptions + [path])
}
