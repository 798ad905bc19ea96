import Foundation
import TestSupport
@testable import Training
import XCTest

/// The ablation's statistics on numbers checked by hand, and `cals experiment ablation-summary`
/// through the real binary on evaluation files written here.
final class PairedComparisonTests: XCTestCase {
    func testMeanStandardErrorAndSignTestOfFivePairs() {
        // differences −1 −2 −3 −4 +5: mean −1; deviations 0 −1 −2 −3 6 → squares sum 50, variance 50/4,
        // SE = √(12.5/5) = √2.5; 4 below of 5: one-sided P(X ≤ 1) = (1 + 5)/32, two-sided twice that.
        let c = PairedComparison(differences: [-1, -2, -3, -4, 5])
        XCTAssertEqual(c.mean, -1, accuracy: 1e-12)
        XCTAssertEqual(c.standardError ?? 0, 2.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual([c.below, c.above, c.ties], [4, 1, 0])
        XCTAssertEqual(c.signTestBelow, 6.0 / 32, accuracy: 1e-12)
        XCTAssertEqual(c.signTestAbove, 31.0 / 32, accuracy: 1e-12)
        XCTAssertEqual(c.signTestTwoSided, 12.0 / 32, accuracy: 1e-12)
    }

    func testAllOneWayAndTiesAreDropped() {
        // 5 of 5 below: one-sided 1/32, two-sided 1/16 (the smallest five seeds can give).
        let five = PairedComparison(differences: [-0.1, -0.2, -0.1, -0.3, -0.05])
        XCTAssertEqual(five.signTestBelow, 1.0 / 32, accuracy: 1e-12)
        XCTAssertEqual(five.signTestTwoSided, 1.0 / 16, accuracy: 1e-12)
        // a tie is dropped: 3 below of 3 untied → 1/8 one-sided, 1/4 two-sided
        let tied = PairedComparison(differences: [-1, 0, -2, -3])
        XCTAssertEqual([tied.below, tied.above, tied.ties], [3, 0, 1])
        XCTAssertEqual(tied.signTestBelow, 1.0 / 8, accuracy: 1e-12)
        XCTAssertEqual(tied.signTestTwoSided, 1.0 / 4, accuracy: 1e-12)
        // one pair: no standard error; all tied: p = 1
        XCTAssertNil(PairedComparison(differences: [2]).standardError)
        XCTAssertEqual(PairedComparison(differences: [0, 0]).signTestTwoSided, 1)
    }

    /// Two seeds of two arms plus a no-dav row; each run's score is the mean of its files.
    func testSummaryAveragesCheckpointsAndPairsSeeds() throws {
        let scratch = ScratchDir("ablation-summary")
        func write(_ run: String, step: Int, distance: Double, psnr: Double) throws {
            let folder = scratch.path(run)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var generated = L2FScores()
            (generated.syncDistance, generated.syncConfidence, generated.mouthPSNR, generated.lmd) = (distance, 1, psnr, 2)
            let evaluation = L2FEvaluation(split: "all", clips: 1, frames: 10, generated: generated, copyReference: L2FScores(),
                                           copyAlignedReference: L2FScores(), real: L2FScores())
            try JSONEncoder().encode(evaluation).write(to: URL(fileURLWithPath: "\(folder)/eval-\(step).json"))
        }
        // a2l − window per seed: seed 1 (0.8 + 1.0)/2 − 1.0 = −0.1; seed 2: 0.7 − 1.0 = −0.3
        try write("a2l-s1", step: 20, distance: 0.8, psnr: 20)
        try write("a2l-s1", step: 30, distance: 1.0, psnr: 22)
        try write("window-s1", step: 20, distance: 1.0, psnr: 21)
        try write("window-s1", step: 30, distance: 1.0, psnr: 21)
        try write("a2l-s2", step: 20, distance: 0.7, psnr: 20)
        try write("a2l-s2", step: 30, distance: 0.7, psnr: 20)
        try write("window-s2", step: 20, distance: 1.0, psnr: 20)
        try write("window-s2", step: 30, distance: 1.0, psnr: 20)
        try write("no-dav-s1", step: 30, distance: 0.9, psnr: 19)
        let json = scratch.path("summary.json")
        let result = try TestSupport.run(TestEnv.calsBinary, ["experiment", "ablation-summary", "--runs", scratch.url.path, "--json", json])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("| no-dav | 1 | 1 (30) | 0.900 |"), result.stdout)
        XCTAssertTrue(result.stdout.contains("| sync distance (lower is better) | -0.2000 | 0.1000 | 2 of 2 | 0.2500 | 0.5000 |"), result.stdout)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        XCTAssertEqual(summary["seeds"] as? [Int], [1, 2])
        let paired = try XCTUnwrap(summary["paired"] as? [[String: Any]])
        let psnr = try XCTUnwrap(paired.first { $0["name"] as? String == "mouth PSNR (dB)" }?["comparison"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(psnr["differences"] as? [Double]), [0, 0])
        XCTAssertEqual(psnr["ties"] as? Int, 2)

        // a pair that scored different steps is refused
        try write("window-s2", step: 40, distance: 1.0, psnr: 20)
        let bad = try TestSupport.run(TestEnv.calsBinary, ["experiment", "ablation-summary", "--runs", scratch.url.path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("seed 2: a2l scored steps [20, 30], window [20, 30, 40]"), bad.stderr)
    }
}
