import Foundation
import Models
import NN
import Tensor
import TestSupport
import Training
import XCTest

/// `cals sync-score` through the real binary: a video is decoded, face-tracked, cropped and
/// scored; bad checkpoints and too-short clips are one-line errors.
final class SyncScoreCommandTests: XCTestCase {
    func testScoresAVideoAndRejectsBadInputs() throws {
        let scratch = ScratchDir("sync-score")
        var config = tinyTrainingConfig()
        config.model.outputDim = 64
        var rng = RandomGenerator(seed: 3)
        let checkpoint = scratch.path("sync.safetensors")
        try Safetensors.write(SyncEncoder(config.model, rng: &rng).stateDict,
                              metadata: try SyncCheckpoint.metadata(config), to: checkpoint)
        let video = scratch.path("face.mp4")
        try TestMedia.faceClip(video, seconds: 2)

        let ok = try TestSupport.run(TestEnv.calsBinary, ["sync-score", video, "--checkpoint", checkpoint, "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any], ok.stdout)
        let offset = try XCTUnwrap(json["offset"] as? Int)
        XCTAssertTrue((-15...15).contains(offset))
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(json["lse_c"] as? Double), 0)
        XCTAssertEqual(json["encoder"] as? String, "cals sync encoder")
        XCTAssertEqual(json["windows"] as? Int, 50 - 34)   // 50 frames, centres 17…32

        let text = try TestSupport.run(TestEnv.calsBinary, ["sync-score", video, "--checkpoint", checkpoint])
        XCTAssertTrue(text.stdout.contains("LSE-D (our encoder)") && text.stdout.contains("not SyncNet"), text.stdout)

        let corrupt = scratch.path("corrupt.safetensors")
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: corrupt))
        let bad = try TestSupport.run(TestEnv.calsBinary, ["sync-score", video, "--checkpoint", corrupt])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("error: \(corrupt): "), bad.stderr)

        let short = scratch.path("short.mp4")
        try TestMedia.faceClip(short, seconds: 1)
        let tooShort = try TestSupport.run(TestEnv.calsBinary, ["sync-score", short, "--checkpoint", checkpoint])
        XCTAssertEqual(tooShort.status, 1)
        XCTAssertTrue(tooShort.stderr.contains("too short for offsets ±15"), tooShort.stderr)
    }
}
