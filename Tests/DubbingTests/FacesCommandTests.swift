import Foundation
import TestSupport
import XCTest

/// Three photos side by side (astronaut, Grace Hopper, Tom Hanks: panels 320, 273 and 321 px
/// wide, 320 high), still, with mild noise, as an H.264 clip of `frames` frames.
func threeFaceClip(_ path: String, frames: Int = 40) throws {
    let faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
    var args: [String] = []
    for photo in ["astronaut.png", "grace_hopper.jpg", "Tom_Hanks_54745.png"] {
        args += ["-loop", "1", "-framerate", "25", "-i", faces + "/" + photo]
    }
    args += ["-filter_complex", "[0:v]scale=-2:320,setsar=1[a];[1:v]scale=-2:320,setsar=1[b];[2:v]scale=-2:320,setsar=1[c];"
             + "[a][b][c]hstack=inputs=3,noise=alls=4:allf=t,format=yuv420p[v]",
             "-map", "[v]", "-frames:v", "\(frames)", "-c:v", "libx264", "-preset", "ultrafast", path]
    try ffmpeg(args)
}

/// The left edges of the three panels of `threeFaceClip`, and its width.
let threeFacePanels = [0, 320, 593, 914]

final class FacesCommandTests: XCTestCase {
    /// `cals faces` lists one track per face, each over the whole clip and inside its own panel,
    /// and writes their crops side by side.
    func testThreeFacesAreListed() throws {
        let scratch = ScratchDir("faces")
        let clip = scratch.path("three.mp4"), sheet = scratch.path("sheet.png")
        try threeFaceClip(clip)
        let result = try TestSupport.run(TestEnv.calsBinary, ["faces", clip, "--manifest", TestEnv.repoRoot.path + "/manifests/demo.yaml",
                                                  "--contact-sheet", sheet])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, result.stdout)
        var panels: [Int] = []
        for (i, line) in lines.enumerated() {
            XCTAssertTrue(line.hasPrefix("face \(i): first frame 0, frames 0-39 (40), box x "), line)
            let numbers = line.components(separatedBy: "box ")[1].split(separator: " ").compactMap { Int($0) }
            XCTAssertEqual(numbers.count, 4, line)
            guard numbers.count == 4 else { continue }
            let centre = numbers[0] + numbers[2] / 2
            panels.append(threeFacePanels.lastIndex { $0 <= centre } ?? -1)
        }
        XCTAssertEqual(panels.sorted(), [0, 1, 2], result.stdout)
        // PNG header: width and height (big-endian) at bytes 16 and 20.
        let png = try Data(contentsOf: URL(fileURLWithPath: sheet))
        XCTAssertGreaterThan(png.count, 24)
        let word = { (at: Int) in png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(word(16), 3 * 128)
        XCTAssertEqual(word(20), 128)
    }
}
