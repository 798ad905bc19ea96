import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// A stand-in detector that returns the faces `script(k)` on frame k (read from the frame's
/// first pixel, which `track` sets), wherever it is asked to search; it records the frames it
/// searched whole.
final class ScriptedDetector: FaceDetecting {
    static let name = "scripted"
    struct Parameters: FaceDetectorParameters {
        func validate() throws {}
    }

    let script: (Int) -> [FaceDetection]
    private(set) var wholeFrameSearches: [Int] = []

    init(parameters: Parameters) throws { script = { _ in [] } }
    init(_ script: @escaping (Int) -> [FaceDetection]) { self.script = script }

    func detect(in frame: FaceFrame, near search: FaceSearch?) throws -> [FaceDetection] {
        let index = Int(frame.image.pixels[0]) + 256 * Int(frame.image.pixels[1])
        if search == nil { wholeFrameSearches.append(index) }
        return script(index)
    }

    /// Pushes `count` flat grey frames (no cuts between them) through a tracker on this detector.
    func track(_ count: Int, parameters: FaceParameters = FaceParameters()) throws -> [TrackedFrame] {
        let tracker = try FaceTrackProcessor(detector: self, parameters: parameters)
        var out: [TrackedFrame] = []
        for k in 0..<count {
            var frame = RGBImage(width: 320, height: 240, pixels: [UInt8](repeating: 100, count: 320 * 240 * 3))
            frame.pixels[0] = UInt8(k % 256)
            frame.pixels[1] = UInt8(k / 256)
            out += try tracker.push(frame)
        }
        return out + (try tracker.finish())
    }
}

/// A 60 px face whose box starts at (x, y), with five landmarks at fixed places in the box.
func face(x: Double, y: Double, side: Double = 60, landmarks: Bool = true) -> FaceDetection {
    let points = [(0.3, 0.35), (0.7, 0.35), (0.5, 0.55), (0.35, 0.78), (0.65, 0.78)]
        .map { SIMD2(x + $0.0 * side, y + $0.1 * side) }
    return FaceDetection(box: Box(x: x, y: y, width: side, height: side), score: 0.99,
                         landmarks: landmarks ? points : nil)
}

/// The default parameters with `speaker: all`, the whole frame searched every 10 frames.
func allSpeakersParameters() -> FaceParameters {
    var parameters = FaceParameters()
    parameters.speaker = FaceParameters.allSpeakers
    parameters.keyFrameInterval = 10
    return parameters
}

final class LandmarkTrackingTests: XCTestCase {
    /// Landmarks move with the face, are interpolated across a gap like the box, and averaged
    /// over 5 frames (at the segment's ends the 5 nearest ones): a ±1.5 px shake of every point,
    /// alternating frame by frame, shrinks to at most 0.3 px (1.5 / 5).
    func testLandmarksAreInterpolatedAndSmoothed() throws {
        let path = { (t: Int) in face(x: 40 + 3 * Double(t), y: 50 + Double(t)) }
        let detector = ScriptedDetector { t in
            guard t != 10 && t != 11 else { return [] }
            var f = path(t)
            let shake = t % 2 == 0 ? 1.5 : -1.5
            f.landmarks = f.landmarks!.map { $0 + SIMD2(shake, -shake) }
            return [f]
        }
        let frames = try detector.track(30)
        XCTAssertEqual(frames.map(\.index), Array(0..<30))
        for frame in frames {
            let points = try XCTUnwrap(frame.landmarks, "frame \(frame.index)")
            // The path is straight: the mean over frames low...low+4 is its point at low + 2.
            let low = min(max(frame.index - 2, 0), 25)
            let truth = path(low + 2).landmarks!
            XCTAssertEqual(points.count, 5)
            for (p, q) in zip(points, truth) {
                XCTAssertLessThanOrEqual(abs(p.x - q.x), 0.3 + 1e-9, "frame \(frame.index)")
                XCTAssertLessThanOrEqual(abs(p.y - q.y), 0.3 + 1e-9, "frame \(frame.index)")
            }
        }
        // Gap frames 10 and 11 lie between the shaken detections of frames 9 and 12: their
        // interpolated points sit on the straight path, the box too.
        XCTAssertEqual(frames[11].box, path(11).box.rounded)
    }

    /// A detector without landmarks (Haar) gives frames without landmarks, and a track whose
    /// detections lose them keeps none where the smoothing window mixes the two.
    func testNoLandmarksWithoutThem() throws {
        let plain = try ScriptedDetector { _ in [face(x: 40, y: 40, landmarks: false)] }.track(12)
        XCTAssertEqual(plain.count, 12)
        XCTAssertTrue(plain.allSatisfy { $0.landmarks == nil })
        let mixed = try ScriptedDetector { t in [face(x: 40, y: 40, landmarks: t < 6)] }.track(12)
        XCTAssertEqual(mixed.map { $0.landmarks != nil }, (0..<12).map { $0 + 2 < 6 })
    }
}

/// The crop square follows the landmarks, not the box.
final class LandmarkCropTests: XCTestCase {
    /// Eyes and nose placed exactly as the template says for a face of `side` centred on
    /// `centre`, and the mouth corners at `mouth` ± 20 px.
    func templateFace(centre: SIMD2<Double>, side: Double, box: Box, mouth: SIMD2<Double>) -> FaceDetection {
        FaceDetection(box: box, score: 0.99, landmarks: FaceTrackProcessor.landmarkTemplate.map { centre + side * $0 }
                      + [mouth - SIMD2(20, 0), mouth + SIMD2(20, 0)])
    }

    func testLandmarkBoxInvertsTheTemplate() throws {
        let box = try XCTUnwrap(FaceTrackProcessor.landmarkFit(FaceTrackProcessor.landmarkTemplate.map { SIMD2(100, 80) + 60 * $0 }
                                                               + [SIMD2(0, 0), SIMD2(500, 500)])).box
        XCTAssertEqual(box.x, 70, accuracy: 1e-9)
        XCTAssertEqual(box.y, 50, accuracy: 1e-9)
        XCTAssertEqual(box.width, 60, accuracy: 1e-9)
        XCTAssertEqual(box.height, 60, accuracy: 1e-9)
        // Points piled on one spot, or too few, place no face.
        XCTAssertNil(FaceTrackProcessor.landmarkFit([SIMD2<Double>](repeating: SIMD2(5, 5), count: 5)))
        XCTAssertNil(FaceTrackProcessor.landmarkFit(FaceTrackProcessor.landmarkTemplate.map { SIMD2(100, 80) - 60 * $0 }),
                     "upside down")
        XCTAssertNil(FaceTrackProcessor.landmarkFit([SIMD2(1, 2)]))
    }

    /// The box and the mouth corners shake by up to ±8 px (more than smoothing removes) while
    /// the eyes and nose stay put: every crop is the same square, the one the box crop gives a
    /// box where the template puts the face.
    func testCropFollowsLandmarksNotTheBox() throws {
        var rng = SplitMix64(state: 5)
        let centre = SIMD2<Double>(150, 110), side = 60.0
        let detector = ScriptedDetector { _ in
            let dx = Double(rng.next() % 17) - 8, dy = Double(rng.next() % 17) - 8
            return [self.templateFace(centre: centre, side: side,
                                      box: Box(x: centre.x - side / 2 + dx, y: centre.y - side / 2 + dy, width: side, height: side),
                                      mouth: centre + SIMD2(dy, 17 + dx))]
        }
        let parameters = FaceParameters()
        let frames = try detector.track(20, parameters: parameters)
        XCTAssertEqual(frames.count, 20)
        let tracker = try FaceTrackProcessor(detector: detector, parameters: parameters)
        let expected = tracker.cropSquare(Box(x: centre.x - side / 2, y: centre.y - side / 2, width: side, height: side))
        XCTAssertEqual(Set(frames.map(\.cropBox)), [expected])
        XCTAssertGreaterThan(Set(frames.map(\.box)).count, 5, "the boxes do shake")
    }

    /// `cropRotation`: the astronaut photo turned 30° clockwise (ffmpeg) and held still for 9
    /// frames, tracked by `cnn`. On, the crop stands the face upright: MTCNN finds its eye line
    /// within 4° of level in the crop, and the face where the untouched photo's crop has it
    /// (centre within 4 px, side within 8%). Off, the crop is today's: the `cropBox` square cut
    /// unturned, the eye line still at about 30°.
    func testCropRotationStandsATurnedFaceUpright() throws {
        let path = TestEnv.repoRoot.appendingPathComponent("data/faces/astronaut.png").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: MTCNNTests.modelPath), "needs `make detector`")
        let scratch = ScratchDir("crop-rotation")
        let turnedPath = scratch.path("turned.png")
        try ffmpeg(["-i", path, "-vf", "rotate=a=\(30 * Double.pi / 180):c=black", "-frames:v", "1", turnedPath])
        let detector = try MTCNNFaceDetector(modelPath: MTCNNTests.modelPath)
        func track(_ image: RGBImage, rotation: Bool) throws -> [TrackedFrame] {
            var parameters = FaceParameters()
            parameters.cropRotation = rotation
            let processor = try FaceTrackProcessor(detector: detector, parameters: parameters)
            var frames: [TrackedFrame] = []
            for _ in 0..<9 { frames += try processor.push(image) }
            return frames + (try processor.finish())
        }
        /// The face MTCNN finds in a crop, and its eye line's angle in degrees (clockwise).
        func face(_ crop: RGBImage) throws -> (box: Box, degrees: Double) {
            let face = try XCTUnwrap(detector.detect(in: FaceFrame(crop, analysisLongSide: crop.width), near: nil).first)
            let eyes = try XCTUnwrap(face.landmarks)
            return (face.box, atan2(eyes[1].y - eyes[0].y, eyes[1].x - eyes[0].x) * 180 / .pi)
        }
        let turned = try RGBImage(contentsOfFile: turnedPath)
        let upright = try face(XCTUnwrap(track(try RGBImage(contentsOfFile: path), rotation: false).last).crop)
        let on = try track(turned, rotation: true), off = try track(turned, rotation: false)
        XCTAssertEqual(on.count, 9)
        XCTAssertEqual(off.count, 9)
        for frame in off {
            let today = try turned.croppedSquare(x: Int(frame.cropBox.x), y: Int(frame.cropBox.y), side: Int(frame.cropBox.width),
                                                 size: 128)
            XCTAssertEqual(frame.crop.pixels, today.pixels, "frame \(frame.index)")
        }
        let offFace = try face(XCTUnwrap(off.last).crop), onFace = try face(XCTUnwrap(on.last).crop)
        print("crop rotation: eye line \(onFace.degrees)° on, \(offFace.degrees)° off, \(upright.degrees)° upright photo;",
              "face in the crop \(onFace.box) on, \(upright.box) upright photo")
        XCTAssertEqual(offFace.degrees, 30, accuracy: 6, "off: the face stays turned")
        XCTAssertEqual(onFace.degrees, 0, accuracy: 4, "on: the face stands upright")
        XCTAssertEqual(onFace.box.x + onFace.box.width / 2, upright.box.x + upright.box.width / 2, accuracy: 4)
        XCTAssertEqual(onFace.box.y + onFace.box.height / 2, upright.box.y + upright.box.height / 2, accuracy: 4)
        XCTAssertEqual(onFace.box.width, upright.box.width, accuracy: 0.08 * upright.box.width)
    }
}

final class CropStabilityTests: XCTestCase {
    /// The frames of `count` frames of grace_hopper.jpg scaled to 320×240 and filtered by
    /// `filter` (after the noise), as an H.264 clip, tracked with MTCNN.
    func track(_ count: Int, filter: String) throws -> [TrackedFrame] {
        let model = TestEnv.repoRoot.appendingPathComponent("data/models/" + MTCNNFaceDetector.modelFileName).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: model), "needs `make detector`")
        let scratch = ScratchDir("crop-stability")
        let (width, height) = (320, 240)
        let clip = scratch.path("clip.mp4"), raw = scratch.path("frames.rgb")
        let photo = TestEnv.repoRoot.appendingPathComponent("data/faces/grace_hopper.jpg").path
        try ffmpeg(["-loop", "1", "-framerate", "25", "-i", photo, "-frames:v", "\(count)",
                    "-vf", "scale=\(width):\(height),\(filter)", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", clip])
        try ffmpeg(["-i", clip, "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: raw))
        let frameBytes = width * height * 3
        XCTAssertEqual(bytes.count, count * frameBytes)
        let tracker = try FaceTrackProcessor(detector: try MTCNNFaceDetector(modelPath: model))
        var frames: [TrackedFrame] = []
        for start in stride(from: 0, to: bytes.count, by: frameBytes) {
            frames += try tracker.push(RGBImage(width: width, height: height, pixels: [UInt8](bytes[start..<(start + frameBytes)])))
        }
        frames += try tracker.finish()
        XCTAssertEqual(frames.map(\.index), Array(0..<count))
        XCTAssertTrue(frames.allSatisfy { $0.landmarks != nil })
        return frames
    }

    /// The largest distance of a value from the values' mean.
    func jitter(_ values: [Double]) -> Double {
        let mean = values.reduce(0, +) / Double(values.count)
        return values.map { abs($0 - mean) }.max() ?? 0
    }

    func testStaticFaceCropIsStill() throws {
        let frames = try track(50, filter: "noise=alls=6:allf=t")
        let crops = frames.map(\.cropBox)
        let centreX = crops.map { Double($0.x) + Double($0.width) / 2 }, centreY = crops.map { Double($0.y) + Double($0.height) / 2 }
        let boxes = frames.map(\.box)
        let boxX = boxes.map { Double($0.x) + Double($0.width) / 2 }, boxY = boxes.map { Double($0.y) + Double($0.height) / 2 }
        let summary = String(format: "crop centre jitter x %.2f y %.2f side %.2f px; smoothed box centre jitter x %.2f y %.2f px",
                             jitter(centreX), jitter(centreY), jitter(crops.map { Double($0.width) }), jitter(boxX), jitter(boxY))
        print(summary)
        // The target: 1 px.
        XCTAssertLessThanOrEqual(jitter(centreX), 1, summary)
        XCTAssertLessThanOrEqual(jitter(centreY), 1, summary)
        XCTAssertLessThanOrEqual(jitter(crops.map { Double($0.width) }), 1.5, summary)
    }

    /// The photo padded to 480 px wide and a 320 px window panned over it: still for 15 frames,
    /// then 4 px a frame for 25 frames (the face moves 100 px left), then still again. Where the
    /// crop is, plus the pan, must stay put: the crop follows the face.
    func testPannedFaceIsFollowed() throws {
        let count = 60
        let pan = { (n: Int) in 40 + 4 * min(max(n - 15, 0), 25) }
        let frames = try track(count, filter: "pad=480:240:80:0,noise=alls=6:allf=t,crop=320:240:40+4*min(max(n-15\\,0)\\,25):0")
        let placed = frames.map { Double($0.cropBox.x) + Double($0.cropBox.width) / 2 + Double(pan($0.index)) }
        let side = Double(frames[0].cropBox.width)
        let summary = String(format: "crop centre + pan: jitter %.2f px (crop side %.0f px)", jitter(placed), side)
        print(summary)
        // 4.07 px when every frame ran the whole cascade; 5.04 px since O-Net alone follows the
        // face from its last box (the crop lags a little more behind a fast pan).
        XCTAssertLessThanOrEqual(jitter(placed), 5.5, summary)
    }
}

/// Several faces (`speaker: all`): each followed on its own, new ones found on key frames.
final class MultiFaceTrackingTests: XCTestCase {
    /// A large face on the left all along, a smaller one on the right for frames 0...29, a third
    /// one from frame 12 on.
    let scene = { (t: Int) -> [FaceDetection] in
        var faces = [face(x: 20 + Double(t), y: 40, side: 90)]
        if t < 30 { faces.append(face(x: 200, y: 50 - Double(t) / 2, side: 60)) }
        if t >= 12 { faces.append(face(x: 120, y: 150, side: 50)) }
        return faces
    }

    func testEveryFaceIsItsOwnSegment() throws {
        let detector = ScriptedDetector(scene)
        let frames = try detector.track(40, parameters: allSpeakersParameters())
        // Segments in the order their tracks started, each one's frames together and in order.
        XCTAssertEqual(frames.map(\.segment), [Int](repeating: 0, count: 40) + [Int](repeating: 1, count: 30) + [Int](repeating: 2, count: 20))
        XCTAssertEqual(frames.map(\.index), Array(0..<40) + Array(0..<30) + Array(20..<40))
        for frame in frames {
            // Each segment follows its own face.
            let truth = scene(frame.index)[frame.segment == 2 ? scene(frame.index).count - 1 : frame.segment].box.rounded
            XCTAssertEqual(Double(frame.box.x), Double(truth.x), accuracy: 1, "segment \(frame.segment) frame \(frame.index)")
            XCTAssertEqual(Double(frame.box.y), Double(truth.y), accuracy: 1, "segment \(frame.segment) frame \(frame.index)")
        }
        // Whole frames on key frames (the third face waits for frame 20) and while the right face
        // is not found (frames 30 to 33, when its track ends: more than 3 frames after its last
        // detection, 29).
        XCTAssertEqual(detector.wholeFrameSearches, [0, 10, 20, 30, 31, 32, 33])
    }

    /// `largest` is the tracker of one face: the large one only, whole frames only at the start.
    func testLargestKeepsOneTrack() throws {
        let detector = ScriptedDetector(scene)
        let frames = try detector.track(40)
        XCTAssertEqual(frames.map(\.segment), [Int](repeating: 0, count: 40))
        XCTAssertEqual(frames.map(\.box.width), [Int32](repeating: 90, count: 40))
        XCTAssertEqual(detector.wholeFrameSearches, [0])
    }

    func testSpeakerAndKeyFrameIntervalAreValidated() {
        var parameters = FaceParameters()
        parameters.speaker = "loudest"
        XCTAssertThrowsError(try parameters.validate()) { XCTAssertEqual("\($0)", "speaker must be one of largest, all, active") }
        parameters.speaker = FaceParameters.activeSpeaker
        XCTAssertThrowsError(try parameters.validate()) { XCTAssertTrue("\($0)".hasPrefix("speaker active needs sync_checkpoint"), "\($0)") }
        parameters.syncCheckpoint = "sync.safetensors"
        XCTAssertNoThrow(try parameters.validate())
        parameters = FaceParameters()
        parameters.keyFrameInterval = 0
        XCTAssertThrowsError(try parameters.validate()) { XCTAssertEqual("\($0)", "keyFrameInterval must be >= 1") }
    }
}

/// `speaker: active`'s choice per shot, over tracks made by hand and a scripted score.
final class ActiveSpeakerSelectionTests: XCTestCase {
    /// A track's frames: segment `track` of shot `shot` over `frames`.
    func frames(_ track: Int, shot: Int, _ frames: ClosedRange<Int>) -> [TrackedFrame] {
        let box = FaceBox(x: Int32(40 * track), y: 0, width: 30, height: 30)
        return frames.map {
            TrackedFrame(index: $0, segment: track, shot: shot, box: box, landmarks: nil, cropBox: box,
                         cropRegion: ImageRotation(box: box), crop: RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12)))
        }
    }

    func testOneTrackPerShotIsKeptTheBestScored() throws {
        // Confidence per track; nil: too short to score.
        let confidence: [Int: Double?] = [0: 0.1, 1: 0.3, 2: nil, 3: 0.2, 4: 0.05, 5: nil, 6: nil]
        let selection = ActiveSpeakerSelection { tracked in
            confidence[tracked[0].segment]!.map { ($0, tracked[0].segment - 3) }
        }
        // Shot 0: tracks 0 and 1 (20 frames), 2 (5 frames). Nothing comes out before the shot ends.
        XCTAssertEqual(try selection.push(frames(0, shot: 0, 0...19) + frames(1, shot: 0, 0...19) + frames(2, shot: 0, 3...7)).count, 0)
        // Shot 1 begins: shot 0's best track (1) comes out as segment 0.
        let first = try selection.push(frames(3, shot: 1, 20...39))
        XCTAssertEqual(first.map(\.index), Array(0...19))
        XCTAssertEqual(Set(first.map(\.segment)), [0])
        XCTAssertEqual(Set(first.map(\.box.x)), [40])
        // Shot 2 has only unscored tracks: the longest (6) is kept.
        let second = try selection.push(frames(4, shot: 1, 25...39) + frames(5, shot: 2, 40...45) + frames(6, shot: 2, 40...49))
        XCTAssertEqual(second.map(\.index), Array(20...39))
        XCTAssertEqual(Set(second.map(\.segment)), [1])
        let last = try selection.finish()
        XCTAssertEqual(last.map(\.index), Array(40...49))
        XCTAssertEqual(Set(last.map(\.segment)), [2])
        XCTAssertEqual(selection.scores.map(\.track), [0, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(selection.scores.map(\.shot), [0, 0, 0, 1, 1, 2, 2])
        XCTAssertEqual(selection.scores.map(\.segment), [nil, 0, nil, 1, nil, nil, 2])
        XCTAssertEqual(selection.scores.map(\.confidence), [0.1, 0.3, nil, 0.2, 0.05, nil, nil])
        XCTAssertEqual(selection.scores[1].line, "shot 0 face 1: frames 0-19, confidence 0.3000 (best offset -2), kept as segment 0")
        XCTAssertEqual(selection.scores[2].line, "shot 0 face 2: frames 3-7, not scored (too short or silent), not kept")
    }
}
