import Common
import Foundation
import Pipelines
import TestSupport
import XCTest

final class CropSpoolTests: XCTestCase {
    func testCropsComeBackByRowAndLeaveNoFile() throws {
        let s = ScratchDir()
        let spool = try CropSpool(folder: s.url.path, size: 16)
        var rng = SystemRandomNumberGenerator()
        let crops = (0..<50).map { _ in RGBImage(width: 16, height: 16, pixels: (0..<768).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        for crop in crops { try spool.append(crop) }
        XCTAssertEqual(spool.count, 50)
        for row in [49, 0, 17, 17, 3] { XCTAssertEqual(try spool.crop(row), crops[row]) }
        // The spool file is unlinked at once: nothing is left in the folder, even while open.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: s.url.path), [])
    }

    func testMissingFolderIsAnErrorNamingIt() {
        let folder = ScratchDir().path("missing")
        XCTAssertThrowsError(try CropSpool(folder: folder, size: 128)) {
            // A vanished output folder is a fault of the machine, not of the item.
            XCTAssertEqual(($0 as? EnvironmentError)?.code, ENOENT, "\($0)")
            XCTAssertTrue("\($0)".hasPrefix(folder) && "\($0)".contains("No such file or directory (ENOENT)"), "\($0)")
        }
    }
}
