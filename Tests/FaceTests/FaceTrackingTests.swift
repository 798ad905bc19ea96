import Common
@testable import Face
import TestSupport
import XCTest

final class FaceTrackingTests: XCTestCase {
    /// A face drifting over animated backgrounds: one shot per background kind (no cut inside).
    func testMovingFaceIsFoundAndCropCentred() throws {
        for background in [Background.noise, .gradient, .shapes] {
            let scenes = (0..<50).map { t in
                SceneFrame(background: background, time: t,
                           face: (x: 60 + 6 * t, y: 40 + Int(30 * sin(Double(t) / 6))))
            }
            let (frames, maxHeld) = try Scenes.track(scenes)
            XCTAssertGreaterThanOrEqual(frames.count, 48, "\(background): found in \(frames.count)/50 frames")
            XCTAssertEqual(Set(frames.map(\.segment)), [0], "\(background): one shot, one segment")
            XCTAssertEqual(frames.map(\.index), frames.map(\.index).sorted())
            // Until the track is as long as the crop's smoothing window.
            XCTAssertLessThanOrEqual(maxHeld, FaceParameters().cropSmoothingWindow + 1, "\(background): the processor held \(maxHeld) frames")
            let astronaut = try Scenes.astronaut()
            for frame in frames {
                let face = scenes[frame.index].face!
                let expected = Scenes.faceCentre(face)
                let box = frame.box
                let centreX = Double(box.x) + Double(box.width) / 2, centreY = Double(box.y) + Double(box.height) / 2
                XCTAssertEqual(centreX, expected.x, accuracy: 0.1 * Scenes.faceSide, "\(background) frame \(frame.index)")
                XCTAssertEqual(centreY, expected.y, accuracy: 0.1 * Scenes.faceSide, "\(background) frame \(frame.index)")
                XCTAssertEqual(Double(box.width), Scenes.faceSide, accuracy: 0.25 * Scenes.faceSide)
                // The crop: a square 1.15 face sides wide, horizontally centred on the face,
                // its top 0.5 side above the face centre, each within the crop's bounded shift
                // and zoom (`cropMaxShift`, `cropMaxZoom`) from the smoothed box.
                let crop = frame.cropBox
                XCTAssertEqual(crop.width, crop.height)
                XCTAssertEqual(Double(crop.width), 1.15 * Double(box.width), accuracy: 2 + 1.15 * FaceParameters().cropMaxZoom * Double(box.width))
                let shift = FaceParameters().cropMaxShift * Double(box.width), zoom = FaceParameters().cropMaxZoom * Double(box.width)
                XCTAssertEqual(Double(crop.x) + Double(crop.width) / 2, centreX, accuracy: 1 + shift)
                XCTAssertEqual(Double(crop.y), centreY - Double(box.height) / 2, accuracy: 1 + shift + zoom / 2)
                XCTAssertEqual(frame.crop.width, 128)
                XCTAssertEqual(frame.crop.height, 128)
                // Its pixels are the photo's pixels under the crop box (the box lies inside the
                // pasted patch), so the same square cut from the photo matches.
                let inPhoto = try astronaut.croppedSquare(
                    x: Int(crop.x) - face.x + Scenes.patchOrigin.x, y: Int(crop.y) - face.y + Scenes.patchOrigin.y,
                    side: Int(crop.width), size: 128)
                XCTAssertEqual(inPhoto.pixels, frame.crop.pixels, "\(background) frame \(frame.index)")
            }
        }
    }

    func testShotCutSplitsSegments() throws {
        // The face keeps moving smoothly; only the background changes abruptly, at frames 20
        // and 40, so only the cut detector can split here.
        let shots = [Background.noise, .shapes, .gradient]
        let scenes = (0..<60).map { t in
            SceneFrame(background: shots[t / 20], time: t, face: (x: 150 + 2 * t, y: 60))
        }
        let frames = try Scenes.track(scenes).frames
        XCTAssertGreaterThanOrEqual(frames.count, 57)
        XCTAssertEqual(Set(frames.map(\.segment)), [0, 1, 2])
        for frame in frames { XCTAssertEqual(frame.segment, frame.index / 20, "frame \(frame.index)") }
    }

    func testShortGapIsInterpolated() throws {
        let scenes = (0..<30).map { t in
            SceneFrame(background: .shapes, time: t, face: (12...13).contains(t) ? nil : (x: 100 + 5 * t, y: 50))
        }
        let frames = try Scenes.track(scenes).frames
        XCTAssertEqual(Set(frames.map(\.segment)), [0])
        let byIndex = Dictionary(uniqueKeysWithValues: frames.map { ($0.index, $0) })
        for t in 12...13 {
            let box = try XCTUnwrap(byIndex[t], "gap frame \(t) not emitted").box
            // The face would have been here; the interpolated box follows the motion.
            let expected = Scenes.faceCentre((x: 100 + 5 * t, y: 50))
            XCTAssertEqual(Double(box.x) + Double(box.width) / 2, expected.x, accuracy: 0.1 * Scenes.faceSide)
            XCTAssertEqual(Double(box.y) + Double(box.height) / 2, expected.y, accuracy: 0.1 * Scenes.faceSide)
        }
    }

    func testLongGapSplitsSegments() throws {
        let scenes = (0..<40).map { t in
            SceneFrame(background: .shapes, time: t, face: (12..<22).contains(t) ? nil : (x: 100 + 5 * t, y: 50))
        }
        let frames = try Scenes.track(scenes).frames
        XCTAssertEqual(Set(frames.map(\.segment)), [0, 1])
        XCTAssertTrue(frames.allSatisfy { !(12..<22).contains($0.index) }, "gap frames emitted")
        for frame in frames { XCTAssertEqual(frame.segment, frame.index < 12 ? 0 : 1) }
    }

    func testSegmentShorterThanMinimumIsDropped() throws {
        let scenes = (0..<20).map { t in
            SceneFrame(background: .gradient, time: t, face: (8..<12).contains(t) ? (x: 200, y: 60) : nil)
        }
        XCTAssertTrue(try Scenes.track(scenes).frames.isEmpty, "a 4-frame segment is below the 5-frame minimum")
    }

    func testSmoothingReducesJitter() throws {
        // The paste position shakes by up to ±6 px around a slow path.
        var rng = SplitMix64(state: 99)
        let scenes = (0..<40).map { t in
            SceneFrame(background: .gradient, time: t,
                       face: (x: 120 + 3 * t + Int(rng.next() % 13) - 6, y: 60 + Int(rng.next() % 13) - 6))
        }
        let astronaut = try Scenes.astronaut()
        let detector = try HaarFaceDetector()
        let raw = try scenes.map { try XCTUnwrap(detector.detect(in: Scenes.render($0, astronaut: astronaut)).first?.box.rounded) }
        let frames = try Scenes.track(scenes).frames
        XCTAssertEqual(frames.count, 40)
        // Roughness: mean |second difference| of the box centre.
        func roughness(_ boxes: [FaceBox]) -> Double {
            let xs = boxes.map { Double($0.x) + Double($0.width) / 2 }
            let ys = boxes.map { Double($0.y) + Double($0.height) / 2 }
            var total = 0.0
            for t in 1..<(boxes.count - 1) {
                total += abs(xs[t + 1] - 2 * xs[t] + xs[t - 1])
                total += abs(ys[t + 1] - 2 * ys[t] + ys[t - 1])
            }
            return total / Double(boxes.count - 2)
        }
        let before = roughness(raw), after = roughness(frames.map(\.box))
        XCTAssertLessThan(after, 0.5 * before, "roughness \(before) raw, \(after) smoothed")
    }

    func testFramesWithoutFacesGiveNoSegments() throws {
        let scenes = (0..<30).map { t in
            SceneFrame(background: [Background.noise, .gradient, .shapes][t / 10], time: t, face: nil)
        }
        XCTAssertTrue(try Scenes.track(scenes).frames.isEmpty)
    }
}

final class HaarFaceDetectorTests: XCTestCase {
    func testMissingCascadeNamesThePathsSearched() throws {
        let scratch = ScratchDir("face")
        XCTAssertThrowsError(try HaarFaceDetector(searchDirectories: [scratch.url.path])) { error in
            let inputError = error as? InputError
            XCTAssertNotNil(inputError, "\(error)")
            XCTAssertEqual(inputError?.path, scratch.path(HaarFaceDetector.cascadeFileName))
            XCTAssertTrue(inputError?.reason.contains("not found") ?? false, "\(error)")
        }
    }

    func testUnreadableCascadeIsInputError() throws {
        let scratch = ScratchDir("face")
        let path = scratch.path(HaarFaceDetector.cascadeFileName)
        try "not a cascade".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HaarFaceDetector(searchDirectories: [scratch.url.path])) { error in
            XCTAssertEqual((error as? InputError)?.path, path, "\(error)")
        }
    }

    func testCascadeDirectoryFromEnvironmentComesFirst() {
        setenv("CALS_HAAR_DIR", "/somewhere", 1)
        defer { unsetenv("CALS_HAAR_DIR") }
        XCTAssertEqual(HaarFaceDetector.searchDirectories.first, "/somewhere")
    }

    func testDetectsThePhotoFaceInSourcePixels() throws {
        // astronaut.png is 512 px; analysed at long side 256 the detector works at half size and
        // must still report the box in the photo's own pixels.
        let frame = try FaceFrame(try Scenes.astronaut(), analysisLongSide: 256)
        let face = try XCTUnwrap(try HaarFaceDetector().detect(in: frame, near: nil).first?.box.rounded)
        XCTAssertEqual(Double(face.x) + Double(face.width) / 2, 224.5, accuracy: 8)
        XCTAssertEqual(Double(face.y) + Double(face.height) / 2, 113.5, accuracy: 8)
        XCTAssertEqual(Double(face.width), Scenes.faceSide, accuracy: 20)
    }

    func testParametersRoundTripAndValidate() throws {
        var parameters = FaceParameters()
        parameters.chinMargin = 0.3
        let data = try JSONEncoder().encode(parameters)
        XCTAssertEqual(try JSONDecoder().decode(FaceParameters.self, from: data), parameters)
        parameters.smoothingWindow = 4
        XCTAssertThrowsError(try FaceTrackProcessor(detector: try HaarFaceDetector(), parameters: parameters))
    }
}

final class ImageOpsTests: XCTestCase {
    /// A 4×3 image whose pixel (x, y) is (10x, 10y, 7).
    let ramp = RGBImage(width: 4, height: 3,
                        pixels: (0..<3).flatMap { y in (0..<4).flatMap { x in [UInt8(10 * x), UInt8(10 * y), 7] } })

    func pixel(_ image: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
        Array(image.pixels[((y * image.width + x) * 3)..<((y * image.width + x) * 3 + 3)])
    }

    func testCropInsideIsExact() throws {
        let crop = try ramp.croppedSquare(x: 1, y: 1, side: 2, size: 2)
        XCTAssertEqual(crop.pixels, [10, 10, 7, 20, 10, 7, 10, 20, 7, 20, 20, 7])
    }

    func testCropPastTheEdgeRepeatsEdgePixels() throws {
        let crop = try ramp.croppedSquare(x: -2, y: 1, side: 4, size: 4)
        for y in 0..<4 {
            for x in 0..<4 {
                let sourceX = min(max(x - 2, 0), 3), sourceY = min(max(y + 1, 0), 2)
                XCTAssertEqual(pixel(crop, x, y), pixel(ramp, sourceX, sourceY), "(\(x), \(y))")
            }
        }
        // Wholly outside, below right: every pixel is the bottom-right corner.
        let outside = try ramp.croppedSquare(x: 10, y: 8, side: 3, size: 3)
        XCTAssertEqual(outside.pixels, [UInt8]((0..<9).flatMap { _ in [30, 20, 7] }))
        let aboveLeft = try ramp.croppedSquare(x: -9, y: -9, side: 3, size: 3)
        XCTAssertEqual(aboveLeft.pixels, [UInt8]((0..<9).flatMap { _ in [0, 0, 7] }))
    }

    func testAreaResizeAveragesBlocks() throws {
        let half = try RGBImage(width: 4, height: 2, pixels: [UInt8](repeating: 0, count: 24))
            .resized(width: 2, height: 1)
        XCTAssertEqual(half.pixels, [0, 0, 0, 0, 0, 0])
        let image = RGBImage(width: 2, height: 2, pixels: [0, 0, 0, 100, 100, 100, 20, 20, 20, 40, 40, 40])
        XCTAssertEqual(try image.resized(width: 1, height: 1).pixels, [40, 40, 40])
    }

    func testGreyIsLuma() throws {
        let image = RGBImage(width: 2, height: 1, pixels: [255, 0, 0, 0, 0, 255])
        XCTAssertEqual(try image.grey(width: 2, height: 1).pixels, [76, 29])
    }

    func testBadSizesThrowInsteadOfTrapping() {
        XCTAssertThrowsError(try ramp.croppedSquare(x: 0, y: 0, side: 0, size: 4)) { error in
            XCTAssertEqual((error as? OpenCVError)?.code, -2, "\(error)")
        }
        XCTAssertThrowsError(try ramp.croppedSquare(x: 0, y: 0, side: 2, size: -1))
        XCTAssertThrowsError(try ramp.resized(width: 0, height: 5))
    }

    func testReadingTextFileAsImageIsInputError() throws {
        let scratch = ScratchDir("face")
        let path = scratch.path("fake.png")
        try "not a png".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RGBImage(contentsOfFile: path)) { error in
            XCTAssertEqual((error as? InputError)?.path, path, "\(error)")
        }
    }

    func testReadingMissingImageIsInputError() {
        XCTAssertThrowsError(try RGBImage(contentsOfFile: "/nonexistent/x.png")) { error in
            XCTAssertEqual((error as? InputError)?.path, "/nonexistent/x.png", "\(error)")
        }
    }
}

final class EncodedClipTests: XCTestCase {
    /// The same scenes through a real encode (H.264, yuv420p) and decode with the ffmpeg CLI,
    /// so the detector sees compression artefacts and chroma subsampling.
    func testFaceIsFoundInAnEncodedClip() throws {
        let scratch = ScratchDir("face-clip")
        let astronaut = try Scenes.astronaut()
        let scenes = (0..<50).map { t in
            SceneFrame(background: .shapes, time: t, face: (x: 80 + 5 * t, y: 30 + t))
        }
        let raw = scratch.path("in.rgb"), clip = scratch.path("clip.mp4"), decoded = scratch.path("out.rgb")
        FileManager.default.createFile(atPath: raw, contents: Data(scenes.flatMap { Scenes.render($0, astronaut: astronaut).pixels }))
        let size = "\(Scenes.width)x\(Scenes.height)"
        try ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", "25", "-i", raw,
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "28", clip])
        try ffmpeg(["-i", clip, "-f", "rawvideo", "-pix_fmt", "rgb24", decoded])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: decoded))
        let frameBytes = Scenes.width * Scenes.height * 3
        XCTAssertEqual(bytes.count, scenes.count * frameBytes)

        let processor = try FaceTrackProcessor(detector: try HaarFaceDetector())
        var frames: [TrackedFrame] = []
        for start in stride(from: 0, to: bytes.count, by: frameBytes) {
            let image = RGBImage(width: Scenes.width, height: Scenes.height,
                                 pixels: [UInt8](bytes[start..<(start + frameBytes)]))
            frames += try processor.push(image)
        }
        frames += try processor.finish()
        XCTAssertGreaterThanOrEqual(frames.count, 48, "found in \(frames.count)/50 frames")
        for frame in frames {
            let expected = Scenes.faceCentre(scenes[frame.index].face!)
            XCTAssertEqual(Double(frame.box.x) + Double(frame.box.width) / 2, expected.x, accuracy: 0.1 * Scenes.faceSide)
            XCTAssertEqual(Double(frame.box.y) + Double(frame.box.height) / 2, expected.y, accuracy: 0.1 * Scenes.faceSide)
        }
    }
}
