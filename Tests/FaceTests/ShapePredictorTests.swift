import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// dlib's 68-point model, copied into data/models by `make landmarks` (loaded once: ~100 MB).
enum LandmarkModel {
    static let path = TestEnv.repoRoot.appendingPathComponent("data/models/" + ShapePredictor.modelFileName).path

    static let shared: Result<ShapePredictor, Error> = Result { try ShapePredictor(contentsOfFile: path) }

    static func load() throws -> ShapePredictor {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputErrorForTests("\(path) is missing: run `make landmarks`")
        }
        return try shared.get()
    }
}

final class ShapePredictorTests: XCTestCase {
    /// Faces of the real photos (data/faces) at the Haar detector's boxes, at shifted and
    /// rescaled boxes (one hanging over the image edge, so feature pixels fall outside), and
    /// 128×128 crops cut as the pipeline cuts them with the fixed LMD box: every point must be
    /// dlib's point (dlib rounds to whole pixels; ours are unrounded, so they must round to it).
    func testMatchesPythonDlibOnRealFaces() throws {
        let predictor = try LandmarkModel.load()
        XCTAssertEqual(predictor.landmarkCount, 68)
        let scratch = ScratchDir("landmarks")
        let folder = TestEnv.repoRoot.appendingPathComponent("data/faces")
        var images: [(image: RGBImage, boxes: [FaceBox])] = []
        for file in ["astronaut.png", "t1.jpg", "Tom_Hanks_54745.png"] {
            let photo = try RGBImage(contentsOfFile: folder.appendingPathComponent(file).path)
            let faces = try HaarFaceDetector().detect(in: photo).map(\.box.rounded)
            XCTAssertFalse(faces.isEmpty, "no face found in \(file)")
            var boxes: [FaceBox] = []
            for face in faces {
                let s = face.width
                boxes += [face, FaceBox(x: face.x + s / 10, y: face.y + s / 6, width: s * 4 / 5, height: s * 4 / 5),
                          FaceBox(x: face.x - s / 8, y: face.y - s / 12, width: s * 5 / 4, height: s * 6 / 5)]
                // The crop of the face stage (1.15 sides, top half a side above the centre), at 128 px.
                let side = Int(Double(s) * 1.15)
                let crop = try photo.croppedSquare(x: Int(face.x) + Int(s) / 2 - side / 2, y: Int(face.y), side: side, size: 128)
                images.append((crop, [FaceLandmarks.cropBox(side: 128)]))
            }
            let first = faces[0]
            boxes.append(FaceBox(x: Int32(photo.width) - first.width / 2, y: first.y, width: first.width, height: first.height))
            images.append((photo, boxes))
        }
        var jobs: [[String: Any]] = []
        for (i, item) in images.enumerated() {
            let raw = scratch.path("image\(i).rgb")
            try Data(item.image.pixels).write(to: URL(fileURLWithPath: raw))
            jobs.append(["raw": raw, "width": item.image.width, "height": item.image.height,
                         "boxes": item.boxes.map { [$0.x, $0.y, $0.width, $0.height] }])
        }
        let jobsPath = scratch.path("jobs.json")
        try JSONSerialization.data(withJSONObject: jobs).write(to: URL(fileURLWithPath: jobsPath))
        let output = try runPython("Tests/FaceTests/golden/landmarks_reference.py", [LandmarkModel.path, jobsPath])
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[[[Int]]]])

        var shapes = 0, worst = 0.0
        for (item, expected) in zip(images, reference) {
            XCTAssertEqual(expected.count, item.boxes.count)
            for (box, points) in zip(item.boxes, expected) {
                let ours = predictor.landmarks(in: item.image, box: box)
                XCTAssertEqual(ours.count, points.count)
                for (p, q) in zip(ours, points) {
                    // dlib: floor(v + 0.5)
                    XCTAssertEqual([Int((p.x + 0.5).rounded(.down)), Int((p.y + 0.5).rounded(.down))], q,
                                   "box \(box) of a \(item.image.width)×\(item.image.height) image: \(p) vs dlib \(q)")
                    worst = max(worst, abs(p.x - Double(q[0])), abs(p.y - Double(q[1])))
                }
                shapes += 1
            }
        }
        XCTAssertGreaterThanOrEqual(shapes, 20)
        XCTAssertLessThanOrEqual(worst, 0.5)
    }

    /// On a real crop the mouth points lie in the mouth region of the crop, in order around
    /// the lips: corners (49, 55) left and right of the centre, the upper lip above the lower.
    func testMouthPointsOnACropAreOnTheMouth() throws {
        let predictor = try LandmarkModel.load()
        let photo = try RGBImage(contentsOfFile: TestMedia.facePhoto)
        let face = try XCTUnwrap(try HaarFaceDetector().detect(in: photo).first?.box.rounded)
        let side = Int(Double(face.width) * 1.15)
        let crop = try photo.croppedSquare(x: Int(face.x) + Int(face.width) / 2 - side / 2, y: Int(face.y),
                                           side: side, size: 128)
        let points = predictor.landmarks(in: crop, box: FaceLandmarks.cropBox(side: 128))
        let mouth = Array(points[FaceLandmarks.mouth])
        for p in mouth {
            XCTAssertTrue((32.0...96.0).contains(p.x) && (64.0...118.0).contains(p.y), "mouth point \(p)")
        }
        XCTAssertLessThan(points[48].x + 15, points[54].x, "mouth corners")
        XCTAssertLessThan(points[51].y, points[57].y, "upper lip above lower lip")
        XCTAssertLessThan(points[36].y + 20, points[51].y, "eyes above the mouth")
    }

    /// The crop's content moved 4 px to the right: the mouth landmarks follow, LMD ≈ 4.
    func testLMDOfAShiftedCropIsTheShift() throws {
        let predictor = try LandmarkModel.load()
        let photo = try RGBImage(contentsOfFile: TestMedia.facePhoto)
        let face = try XCTUnwrap(try HaarFaceDetector().detect(in: photo).first?.box.rounded)
        // photo pixels per crop pixel, and the whole photo pixels nearest to 4 crop pixels
        let side = Int(Double(face.width) * 1.15), step = Double(side) / 128, shift = Int((4 * step).rounded())
        let x = Int(face.x) + Int(face.width) / 2 - side / 2
        let box = FaceLandmarks.cropBox(side: 128)
        let still = predictor.landmarks(in: try photo.croppedSquare(x: x, y: Int(face.y), side: side, size: 128), box: box)
        let moved = predictor.landmarks(in: try photo.croppedSquare(x: x - shift, y: Int(face.y), side: side, size: 128), box: box)
        XCTAssertEqual(FaceLandmarks.meanDistance(still, still), 0)
        let lmd = FaceLandmarks.meanDistance(still, moved)
        XCTAssertEqual(lmd, Double(shift) / step, accuracy: 1, "LMD \(lmd)")
    }

    func testMeanDistanceOfKnownShapes() {
        let a = (0..<68).map { SIMD2(Double($0), Double(2 * $0)) }
        var b = a
        for i in 48..<68 { b[i] += i < 58 ? SIMD2(3, 4) : SIMD2(0, -1) }  // 10 points at 5 px, 10 at 1 px
        b[10] += SIMD2(100, 100)  // not a mouth point: ignored
        XCTAssertEqual(FaceLandmarks.meanDistance(a, b), 3, accuracy: 1e-12)
        XCTAssertEqual(FaceLandmarks.meanDistance(a, a), 0)
        XCTAssertEqual(FaceLandmarks.meanDistance(a, b, indices: 10..<11), 100 * 2.0.squareRoot(), accuracy: 1e-12)
    }

    func testMissingModelIsInputError() throws {
        let scratch = ScratchDir("landmarks")
        let path = scratch.path("absent.dat")
        XCTAssertThrowsError(try ShapePredictor(contentsOfFile: path)) { error in
            XCTAssertEqual((error as? InputError)?.path, path, "\(error)")
            XCTAssertTrue("\(error)".contains("not found"), "\(error)")
        }
        // optional use (LMD in eval): absent is nil, present but broken still throws
        XCTAssertNil(try ShapePredictor.loadIfPresent(path))
        try "junk".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ShapePredictor.loadIfPresent(path)) { error in
            XCTAssertEqual((error as? InputError)?.path, path, "\(error)")
        }
    }

    /// Truncated, wrong and damaged files: InputError naming the file and what is wrong.
    func testCorruptModelsAreInputErrors() throws {
        guard let model = FileManager.default.contents(atPath: LandmarkModel.path) else {
            throw InputErrorForTests("\(LandmarkModel.path) is missing: run `make landmarks`")
        }
        let scratch = ScratchDir("landmarks")
        var version2 = model
        version2[1] = 2
        var badIndex = model
        badIndex.replaceSubrange(2..<4, with: [0x81, 0x87])  // initial shape of 135 numbers
        let cases: [(String, Data, String)] = [
            ("empty", Data(), "file ends inside an integer"),
            ("truncated", model.prefix(100_000), "file ends"),
            ("truncated-late", model.prefix(model.count - 3), "file ends"),
            ("trailing", model + Data([1, 0]), "2 bytes after the model"),
            ("version", version2, "version 2"),
            ("odd-shape", badIndex, "initial shape of 135"),
            ("png", try Data(contentsOf: URL(fileURLWithPath: TestMedia.facePhoto)), "bad integer control byte"),
        ]
        // Damaged beginnings (random bytes overwritten, cut at a random point): never a trap,
        // always an InputError.
        var rng = SplitMix64(state: 9)
        for trial in 0..<100 {
            var bytes = model.prefix(Int.random(in: 1...200_000, using: &rng))
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let path = scratch.path("damaged\(trial).dat")
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ShapePredictor(contentsOfFile: path)) { error in
                XCTAssertEqual((error as? InputError)?.path, path, "\(error)")
            }
        }
        for (name, bytes, reason) in cases {
            let path = scratch.path("\(name).dat")
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ShapePredictor(contentsOfFile: path), name) { error in
                let inputError = error as? InputError
                XCTAssertEqual(inputError?.path, path, "\(name): \(error)")
                XCTAssertTrue(inputError?.reason.contains(reason) ?? false, "\(name): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(name): one line")
            }
        }
    }
}

