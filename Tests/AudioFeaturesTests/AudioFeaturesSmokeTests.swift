import XCTest
import TestSupport

final class AudioFeaturesSmokeTests: XCTestCase {
    func testRepositoryIsFound() {
        XCTAssertTrue(FileManager.default.fileExists(atPath: TestEnv.repoRoot.appendingPathComponent("Package.swift").path))
    }
}
