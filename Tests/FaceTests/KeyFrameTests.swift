import Common
@testable import Face
import XCTest

/// Sparse detection: a track whose face is not found near its last box, or found with a low
/// score, makes the frame a key frame (a whole-frame detection), so a face that jumps is re-found
/// on the frame it jumps.
final class KeyFrameTests: XCTestCase {
    /// A 60 px face drifting right that jumps 150 px on frame 15 (no shot cut: flat frames).
    let jumping = { (t: Int) -> [FaceDetection] in [face(x: t < 15 ? 40 + Double(t) : 200 + Double(t), y: 60)] }

    /// `largest`: the jumped face is searched for on the whole frame at once, and the next
    /// segment starts on it there (it used to start 4 frames later, once the gap was too long).
    func testLargestRefindsAJumpedFaceAtOnce() throws {
        let detector = ScriptedDetector(jumping)
        let frames = try detector.track(30)
        XCTAssertEqual(detector.wholeFrameSearches, [0, 15])
        XCTAssertEqual(frames.map(\.index), Array(0..<30))
        XCTAssertEqual(frames.map(\.segment), [Int](repeating: 0, count: 15) + [Int](repeating: 1, count: 15))
        for frame in frames { XCTAssertEqual(frame.box, jumping(frame.index)[0].box.rounded, "frame \(frame.index)") }
    }

    /// `all`: the jumped face starts its track on frame 15 (not on the next periodic key frame,
    /// 20); the old track searches the whole frame while its gap lasts, then ends.
    func testAllStartsATrackOnAJumpedFaceAtOnce() throws {
        let detector = ScriptedDetector(jumping)
        let frames = try detector.track(30, parameters: allSpeakersParameters())
        XCTAssertEqual(detector.wholeFrameSearches, [0, 10, 15, 16, 17, 18, 20])
        XCTAssertEqual(frames.map(\.index), Array(0..<30))
        XCTAssertEqual(frames.map(\.segment), [Int](repeating: 0, count: 15) + [Int](repeating: 1, count: 15))
    }

    /// A score below `keyFrameScore` makes a key frame; the track goes on with the face.
    func testLowScoreMakesAKeyFrame() throws {
        let detector = ScriptedDetector { t in
            var f = face(x: 40 + Double(t), y: 60)
            if t == 12 { f.score = 0.8 }
            return [f]
        }
        let frames = try detector.track(20)
        XCTAssertEqual(detector.wholeFrameSearches, [0, 12])
        XCTAssertEqual(frames.map(\.index), Array(0..<20))
        XCTAssertEqual(Set(frames.map(\.segment)), [0])
    }

    /// A small face elsewhere is not the tracked face moved: a short miss of the large face stays
    /// a gap of its track, bridged by interpolation.
    func testSmallFaceElsewhereDoesNotEndTheTrack() throws {
        let detector = ScriptedDetector { t in
            var faces = [face(x: 220, y: 20, side: 40)]
            if t != 10 && t != 11 { faces.append(face(x: 20 + Double(t), y: 60, side: 90)) }
            return faces
        }
        let frames = try detector.track(20)
        XCTAssertEqual(detector.wholeFrameSearches, [0, 10, 11])
        XCTAssertEqual(frames.map(\.index), Array(0..<20))
        XCTAssertEqual(frames.map(\.box.width), [Int32](repeating: 90, count: 20))
    }
}

/// The tracker holds small parts of frames, not whole frames, while a crop window fills, and
/// the crops it makes from them are those of the whole frames.
final class HeldFrameTests: XCTestCase {
    /// Noise frames (so a crop from a wrong place differs) with a shaking face that drifts out
    /// past the left edge: every crop equals the whole frame's `croppedSquare` of its crop box,
    /// and the tracker never holds more than 5 whole frames' bytes (it held up to 31 whole frames).
    func testCropsOfHeldPartsEqualThoseOfTheWholeFrames() throws {
        let (width, height) = (320, 240)
        var shake = SplitMix64(state: 9)
        let detector = ScriptedDetector { t in
            let dx = Double(shake.next() % 9) - 4, dy = Double(shake.next() % 9) - 4
            return [face(x: 60 - 2 * Double(t) + dx, y: 90 + dy, side: 40)]
        }
        let tracker = try FaceTrackProcessor(detector: detector)
        var images: [RGBImage] = [], out: [TrackedFrame] = [], maxHeld = 0
        for k in 0..<60 {
            var noise = SplitMix64(state: UInt64(k) + 100)
            var frame = RGBImage(width: width, height: height,
                                 pixels: (0..<(width * height * 3)).map { _ in UInt8(truncatingIfNeeded: noise.next()) })
            frame.pixels[0] = UInt8(k)
            frame.pixels[1] = 0
            images.append(frame)
            out += try tracker.push(frame)
            maxHeld = max(maxHeld, tracker.heldPixelBytes)
        }
        out += try tracker.finish()
        XCTAssertEqual(out.map(\.index), Array(0..<60))
        XCTAssertTrue(out.contains { $0.cropBox.x < 0 }, "some crops reach past the left edge")
        for frame in out {
            let box = frame.cropBox
            let whole = try images[frame.index].croppedSquare(x: Int(box.x), y: Int(box.y), side: Int(box.width), size: 128)
            XCTAssertEqual(frame.crop.pixels, whole.pixels, "frame \(frame.index)")
        }
        XCTAssertLessThanOrEqual(maxHeld, 5 * width * height * 3, "held \(maxHeld) bytes")
    }
}
