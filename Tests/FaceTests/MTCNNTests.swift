import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// `detector: cnn` against its reference, facenet-pytorch's MTCNN (golden/mtcnn_reference.py), on
/// the real photos `make faces` installs and on a frame of an H.264 clip made with ffmpeg; both
/// sides get the same RGB bytes. Weights: data/models/mtcnn.safetensors (`make detector`).
final class MTCNNTests: XCTestCase {
    static let modelPath = TestEnv.repoRoot.appendingPathComponent("data/models/" + MTCNNFaceDetector.modelFileName).path
    static let photos = ["astronaut.png", "grace_hopper.jpg", "t1.jpg", "Tom_Hanks_54745.png"]
        .map { TestEnv.repoRoot.appendingPathComponent("data/faces/" + $0).path }

    func detector() throws -> MTCNNFaceDetector {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: MTCNNTests.modelPath), "needs `make detector`")
        return try MTCNNFaceDetector(modelPath: MTCNNTests.modelPath)
    }

    /// Boxes and landmarks within 1 px, scores within 1e-3, the same number of faces.
    func testMatchesFacenetPytorch() throws {
        let detector = try detector()
        let scratch = ScratchDir("mtcnn")
        var images = try MTCNNTests.photos.map { try RGBImage(contentsOfFile: $0) }
        let clip = scratch.path("clip.mp4"), raw = scratch.path("frame.rgb")
        try TestMedia.faceClip(clip, seconds: 1, size: "640x360", faceSide: 150, audio: false)
        try ffmpeg(["-i", clip, "-vf", "select=eq(n\\,10)", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
        images.append(RGBImage(width: 640, height: 360, pixels: [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))))

        var jobs: [[String: Any]] = []
        for (i, image) in images.enumerated() {
            let path = scratch.path("image\(i).rgb")
            try Data(image.pixels).write(to: URL(fileURLWithPath: path))
            jobs.append(["path": path, "width": image.width, "height": image.height])
        }
        let jobsPath = scratch.path("jobs.json")
        try JSONSerialization.data(withJSONObject: jobs).write(to: URL(fileURLWithPath: jobsPath))
        let output = try runPython("Tests/FaceTests/golden/mtcnn_reference.py", [jobsPath])
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[[String: Any]]])
        XCTAssertEqual(reference.count, images.count)

        var worst = (box: 0.0, landmark: 0.0, score: 0.0), total = 0
        for (i, (image, expected)) in zip(images, reference).enumerated() {
            let ours = detector.faces(in: image, minFace: 20)
            XCTAssertEqual(ours.count, expected.count, "image \(i): faces")
            total += expected.count
            for face in expected {
                let box = try XCTUnwrap(face["box"] as? [Double]), score = try XCTUnwrap(face["score"] as? Double)
                let points = try XCTUnwrap(face["landmarks"] as? [[Double]])
                let theirs = Box(x: box[0], y: box[1], width: box[2] - box[0], height: box[3] - box[1])
                guard let match = ours.max(by: { $0.box.iou(theirs) < $1.box.iou(theirs) }) else { continue }
                let b = match.box
                let boxError = zip([b.x, b.y, b.x + b.width, b.y + b.height], box).map { abs($0 - $1) }.max() ?? 0
                let landmarks = try XCTUnwrap(match.landmarks)
                let landmarkError = zip(landmarks, points).map { max(abs($0.x - $1[0]), abs($0.y - $1[1])) }.max() ?? 0
                worst = (max(worst.box, boxError), max(worst.landmark, landmarkError), max(worst.score, abs(match.score - score)))
                XCTAssertLessThanOrEqual(boxError, 1, "image \(i) box \(box)")
                XCTAssertLessThanOrEqual(landmarkError, 1, "image \(i) landmarks of \(box)")
                XCTAssertLessThanOrEqual(abs(match.score - score), 1e-3, "image \(i) score of \(box)")
            }
        }
        XCTAssertGreaterThanOrEqual(total, 8, "the photos hold at least 8 faces")
        print("mtcnn golden: \(total) faces, worst box \(worst.box) px, landmark \(worst.landmark) px, score \(worst.score)")
    }

    /// The tracker's search (a square of 2 box sides around the last box, faces of 1/1.5 to 1.5
    /// times its side) finds the face the whole frame gives, its box within 1 px, from a last
    /// box shifted by a tenth of a side and a tenth smaller or larger.
    func testSearchNearALastBoxFindsTheWholeFrameFace() throws {
        let detector = try detector()
        var searched = 0, worst = 0.0
        for path in MTCNNTests.photos {
            let frame = try FaceFrame(try RGBImage(contentsOfFile: path), analysisLongSide: FaceParameters().detectionLongSide)
            let whole = try detector.detect(in: frame, near: nil)
            XCTAssertFalse(whole.isEmpty, path)
            for face in whole {
                let b = face.box
                for (dx, dy, grow) in [(0.1, -0.1, 0.9), (-0.1, 0.1, 1.1)] {
                    let last = Box(x: b.x + dx * b.width, y: b.y + dy * b.height, width: b.width * grow, height: b.height * grow)
                    let found = try detector.detect(in: frame, near: FaceSearch(box: last, regionScale: 2, sizeRatio: 1.5))
                    let match = try XCTUnwrap(found.max { $0.box.iou(b) < $1.box.iou(b) }, "\(path): face at \(b)")
                    let m = match.box
                    let error = zip([m.x, m.y, m.x + m.width, m.y + m.height], [b.x, b.y, b.x + b.width, b.y + b.height])
                        .map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(error, 1, "\(path): face at \(b), search from \(last) found \(m)")
                    worst = max(worst, error)
                    searched += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(searched, 16, "the photos hold at least 8 faces")
        print("mtcnn search: \(searched) searches, worst box difference from the whole frame \(worst) px")
    }

    /// A missing or damaged weight file: one InputError naming the file and `make setup`.
    func testMissingOrDamagedWeightsNameTheFileAndMakeSetup() throws {
        _ = try detector()
        let scratch = ScratchDir("mtcnn-bad")
        let missing = scratch.path("absent.safetensors")
        let truncated = scratch.path("truncated.safetensors")
        let whole = try Data(contentsOf: URL(fileURLWithPath: MTCNNTests.modelPath))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        for path in [missing, truncated] {
            XCTAssertThrowsError(try MTCNNFaceDetector(modelPath: path)) { error in
                let error = error as? InputError
                XCTAssertEqual(error?.path, path)
                XCTAssertTrue(error?.reason.contains("make setup") ?? false, "\(String(describing: error))")
            }
        }
    }
}
