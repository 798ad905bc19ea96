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

/// Decodes every 25 fps frame of `path`.
func decodeAllFrames(_ path: String, maxSide: Int? = nil) throws -> [RGBImage] {
    let decoder = try VideoDecoder(path: path, maxSide: maxSide)
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
