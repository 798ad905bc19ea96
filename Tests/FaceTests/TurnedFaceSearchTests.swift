import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// The CNN detector's fallback for faces turned far in the image plane (TurnedFaceSearch.swift).
final class TurnedFaceSearchTests: XCTestCase {
    /// Tom Hanks' photo turned 45° clockwise on a black canvas: the plain cascade finds no face,
    /// the whole-frame search finds his through the fallback, its box holding his eyes, nose and
    /// mouth corners (dlib's, `DetectorAccuracyTests.photoFaces`, turned the same way).
    func testAFaceTurned45DegreesIsFoundByTheFallbackOnly() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: MTCNNTests.modelPath), "needs `make detector`")
        let detector = try MTCNNFaceDetector(modelPath: MTCNNTests.modelPath)
        let photo = try RGBImage(contentsOfFile: MTCNNTests.photos[3])
        let centre = SIMD2(Double(photo.width), Double(photo.height)) / 2
        // A canvas turned by −45° shows the photo turned by +45° (clockwise on screen).
        let rotation = ImageRotation.holding(centre: centre, width: Double(photo.width), height: Double(photo.height), angle: -Double.pi / 4)
        let turned = try rotation.canvas(of: photo, outside: 0)
        let points = DetectorAccuracyTests.photoFaces[3][0].points.map(rotation.canvasPoint)

        XCTAssertTrue(detector.faces(in: turned, minFace: 20).isEmpty, "the upright cascade misses the turned face")
        let found = try detector.detect(in: FaceFrame(turned, analysisLongSide: max(turned.width, turned.height)), near: nil)
        XCTAssertEqual(found.count, 1)
        let face = try XCTUnwrap(found.first)
        XCTAssertTrue(points.allSatisfy(face.box.contains), "\(face.box) holds \(points)")
        // Its landmarks are turned back too: the eye line runs at about +45°.
        let eyes = try XCTUnwrap(face.landmarks)[1] - XCTUnwrap(face.landmarks)[0]
        XCTAssertEqual(atan2(eyes.y, eyes.x) * 180 / .pi, 45, accuracy: 15)
    }

    /// Five points in the order of an upright face pass; swapped eyes, a nose below the mouth, an
    /// eye line at 40° or a mouth nearly on the eye line do not.
    func testUprightNeedsThePointsOfAnUprightFace() {
        func face(_ points: [(Double, Double)]) -> FaceDetection {
            FaceDetection(box: Box(x: 0, y: 0, width: 100, height: 100), score: 0.99, landmarks: points.map { SIMD2($0.0, $0.1) })
        }
        let upright = [(30.0, 40.0), (70.0, 40.0), (50.0, 60.0), (35.0, 80.0), (65.0, 80.0)]
        XCTAssertTrue(MTCNNFaceDetector.isUpright(face(upright)))
        XCTAssertFalse(MTCNNFaceDetector.isUpright(face([upright[1], upright[0]] + upright[2...])), "eyes swapped")
        XCTAssertFalse(MTCNNFaceDetector.isUpright(face(Array(upright[0..<2]) + [(50, 90)] + upright[3...])), "nose below the mouth")
        let tilt = 40 * Double.pi / 180
        let tilted = upright.map { p -> (Double, Double) in
            let d = (p.0 - 50, p.1 - 60)
            return (50 + cos(tilt) * d.0 - sin(tilt) * d.1, 60 + sin(tilt) * d.0 + cos(tilt) * d.1)
        }
        XCTAssertFalse(MTCNNFaceDetector.isUpright(face(tilted)), "eye line at 40°")
        XCTAssertFalse(MTCNNFaceDetector.isUpright(face(Array(upright[0..<2]) + [(50, 45), (35, 50), (65, 50)])), "mouth near the eyes")
    }
}
