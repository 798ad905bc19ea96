import Common
@testable import Face
import XCTest

/// A stand-in detector: on every frame a small face in the corner and a larger one at a fixed
/// box (with landmarks); it records the searches it is asked for.
final class FixedBoxDetector: FaceDetecting {
    static let name = "fixed"

    struct Parameters: FaceDetectorParameters {
        var x = 50.0, y = 30.0, side = 64.0

        func validate() throws {
            guard side > 0 else { throw FaceParameterError("side must be > 0") }
        }
    }

    let parameters: Parameters
    private(set) var searches: [FaceSearch?] = []

    init(parameters: Parameters) throws {
        try parameters.validate()
        self.parameters = parameters
    }

    var box: Box { Box(x: parameters.x, y: parameters.y, width: parameters.side, height: parameters.side) }

    func detect(in frame: FaceFrame, near search: FaceSearch?) throws -> [FaceDetection] {
        searches.append(search)
        let s = parameters.side
        let points = [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)]
            .map { SIMD2(parameters.x + $0.0 * s, parameters.y + $0.1 * s) }
        return [FaceDetection(box: Box(x: 0, y: 0, width: 12, height: 12), score: 0.9),
                FaceDetection(box: box, score: 0.95, landmarks: points)]
    }
}

final class FaceDetectingTests: XCTestCase {
    /// A 200×150 frame: a horizontal ramp of brightness `level` ± 40 (no two frames of one level
    /// differ, so only a level change is a cut).
    func frame(level: Int) -> RGBImage {
        let (w, h) = (200, 150)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let v = UInt8(clamping: level - 40 + 80 * x / w)
                pixels[(y * w + x) * 3] = v
                pixels[(y * w + x) * 3 + 1] = UInt8(clamping: Int(v) / 2 + y / 3)
                pixels[(y * w + x) * 3 + 2] = 7
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// The tracker runs on any FaceDetecting: it starts on the double's largest face, asks for
    /// the rest near it, splits at a cut, and crops where the double's box says.
    func testTrackerTakesAnyDetector() throws {
        let detector = try FixedBoxDetector(parameters: .init())
        let parameters = FaceParameters()
        let tracker = try FaceTrackProcessor(detector: detector, parameters: parameters)
        let frames = (0..<14).map { frame(level: $0 < 7 ? 60 : 190) }
        var tracked: [TrackedFrame] = []
        for f in frames { tracked += try tracker.push(f) }
        tracked += try tracker.finish()

        XCTAssertEqual(tracked.map(\.index), Array(0..<14))
        XCTAssertEqual(tracked.map(\.segment), [Int](repeating: 0, count: 7) + [Int](repeating: 1, count: 7))
        for t in tracked {
            XCTAssertEqual(t.box, detector.box.rounded, "frame \(t.index)")
            let still = Observation(box: detector.box, landmarks: t.landmarks)
            XCTAssertEqual(t.cropBox, tracker.cropSquare(tracker.cropFace(smoothed: still, window: [still][...]).box), "frame \(t.index)")
            let expected = try frames[t.index].croppedSquare(x: Int(t.cropBox.x), y: Int(t.cropBox.y),
                                                             side: Int(t.cropBox.width), size: parameters.cropSize)
            XCTAssertEqual(t.crop.pixels, expected.pixels, "frame \(t.index)")
        }
        // A whole-frame search at the start of each shot, a search near the box otherwise.
        XCTAssertEqual(detector.searches.count, 14)
        for (i, search) in detector.searches.enumerated() {
            if i == 0 || i == 7 {
                XCTAssertNil(search, "frame \(i)")
            } else {
                XCTAssertEqual(search, FaceSearch(box: detector.box, regionScale: parameters.searchRegionScale,
                                                  sizeRatio: parameters.searchSizeRatio), "frame \(i)")
            }
        }
    }

    func testRegistryKnowsHaarAndCNNOnly() throws {
        XCTAssertEqual(FaceDetectors.names, ["haar", "cnn"])
        let choice = try XCTUnwrap(FaceDetectorChoice(named: "haar"))
        XCTAssertTrue(try choice.makeDetector() is HaarFaceDetector)
        // cnn is the code default (extract and dub without a manifest).
        XCTAssertEqual(FaceDetectorChoice(named: "cnn"), FaceParameters().detector)
        XCTAssertEqual(FaceParameters().detector.name, "cnn")
        XCTAssertNil(FaceDetectorChoice(named: "mtcnn"))
        XCTAssertNil(FaceDetectorChoice(named: "Haar"))
    }

    /// Haar parameters are encoded flat and without the detector's name (the JSON of before
    /// detectors were named); another detector's name and parameters are encoded beside the rest.
    func testParametersJSON() throws {
        var parameters = FaceParameters()
        var haar = HaarFaceDetector.Parameters()
        haar.minNeighbors = 4
        parameters.detector = FaceDetectorChoice(HaarFaceDetector.self, parameters: haar)
        XCTAssertNotEqual(parameters, FaceParameters())
        let data = try JSONEncoder().encode(parameters)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["minNeighbors"] as? Int, 4)
        XCTAssertEqual(object["cropSize"] as? Int, 128)
        XCTAssertNil(object["detector"])
        XCTAssertNil(object["cropRotation"], "left out when off")
        XCTAssertEqual(try JSONDecoder().decode(FaceParameters.self, from: data), parameters)
        var turning = parameters
        turning.cropRotation = true
        let turningData = try JSONEncoder().encode(turning)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: turningData) as? [String: Any])?["cropRotation"] as? Bool, true)
        XCTAssertEqual(try JSONDecoder().decode(FaceParameters.self, from: turningData), turning)

        parameters.detector = FaceDetectorChoice(FixedBoxDetector.self)
        let other = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(parameters)) as? [String: Any])
        XCTAssertEqual(other["detector"] as? String, "fixed")
        XCTAssertEqual(other["side"] as? Double, 64)
        XCTAssertNil(other["minNeighbors"])
        // Only registered detectors decode.
        XCTAssertThrowsError(try JSONDecoder().decode(FaceParameters.self, from: try JSONEncoder().encode(parameters)))
    }

    func testDetectorParametersAreValidated() {
        var haar = HaarFaceDetector.Parameters()
        haar.scaleFactor = 1
        XCTAssertThrowsError(try HaarFaceDetector(parameters: haar)) { error in
            XCTAssertEqual("\(error)", "scaleFactor must be > 1")
        }
        var parameters = FaceParameters()
        parameters.detector = FaceDetectorChoice(HaarFaceDetector.self, parameters: haar)
        XCTAssertThrowsError(try parameters.validate())
    }
}
