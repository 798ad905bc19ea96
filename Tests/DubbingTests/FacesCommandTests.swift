import Foundation
import TestSupport
import XCTest

final class FacesCommandTests: XCTestCase {
    /// `cals faces` lists one track per face, each over the whole clip and inside its own panel,
    /// and writes their crops side by side.
    func testThreeFacesAreListed() throws {
        let scratch = ScratchDir("faces")
        let clip = scratch.path("three.mp4"), sheet = scratch.path("sheet.png")
        try TestMedia.threeFaceClip(clip)
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
            panels.append(TestMedia.threeFacePanels.lastIndex { $0 <= centre } ?? -1)
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
