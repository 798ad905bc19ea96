import XCTest
import TestSupport

final class TensorSmokeTests: XCTestCase {
    func testRepositoryIsFound() {
        XCTAssertTrue(FileManager.default.fileExists(atPath: TestEnv.repoRoot.appendingPathComponent("Package.swift").path))
    }
}
