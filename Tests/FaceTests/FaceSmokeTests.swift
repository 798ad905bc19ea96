import XCTest
import TestSupport

final class FaceSmokeTests: XCTestCase {
    func testRepositoryIsFound() {
        XCTAssertTrue(FileManager.default.fileExists(atPath: TestEnv.repoRoot.appendingPathComponent("Package.swift").path))
    }
}
