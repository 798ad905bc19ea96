import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// The labelled face set of issue 23: recall and false positives of `haar` and `cnn` per condition.
/// - The real photos (data/faces: astronaut, Grace Hopper, Tom Hanks, and t1.jpg with its several
///   faces) transformed by ffmpeg: in-plane rotation up to ±45° (about the image centre, on a
///   black canvas), yaw by a perspective warp (one side squeezed to 76% of the height), the
///   smallest face scaled to 40 px, brightness at 20%, a horizontal motion blur, and an occluder
///   covering the left, right or lower half of every face (its positions across frames). Ground
///   truth: `photoFaces`, fixed points found without the detectors under test, carried through the
///   known transform.
/// - Compositions of two to six of those faces (48–140 px) pasted onto the moving test
///   backgrounds of `Scenes`, ground truth from where they were pasted.
/// - Frames without faces (the same backgrounds), for false positives per 1,000 frames.
/// A face counts as found when a detection's box holds all its points and the box's side is
/// within 0.6–1.6× the face's side; a detection that finds no face is a false positive. (Points,
/// not a box centre: detectors put their boxes' tops at different heights, the forehead or the
/// brows, and a detector's box that holds the eyes, nose and mouth has found the face whatever
/// its convention.) Thresholds sit a little below what was measured when this was written.
final class DetectorAccuracyTests: XCTestCase {
    /// One detector's counts under one condition.
    struct Tally {
        var found = 0, faces = 0, falsePositives = 0, frames = 0
        var recall: Double { faces == 0 ? 0 : Double(found) / Double(faces) }
    }

    /// Counts per detector name, then per condition.
    var tallies: [String: [String: Tally]] = [:]

    /// Where a face is expected: its side and points on it, in image pixels.
    struct Face {
        var side: Double
        var points: [SIMD2<Double>]

        /// The square of `side` about the points' mean.
        var square: Box {
            let c = points.reduce(SIMD2<Double>(0, 0), +) / Double(points.count)
            return Box(x: c.x - side / 2, y: c.y - side / 2, width: side, height: side)
        }

        /// The face with every point moved by `map` and the side scaled by `scale`.
        func mapped(_ map: (SIMD2<Double>) -> SIMD2<Double>, scale: Double = 1) -> Face {
            Face(side: side * scale, points: points.map(map))
        }
    }

    /// The faces of each photo of `MTCNNTests.photos` (in that order), in photo pixels: the side,
    /// then the eye centres, nose tip and mouth corners. Found once with dlib, not with a detector
    /// under test: dlib's MMOD CNN face detector (face_recognition_models) placed its 68-point
    /// shape predictor on each face; the side is the longer side of the 68 points' bounding box
    /// (brows to chin, cheek to cheek), the points are the means of points 37–42 and 43–48,
    /// point 31 and points 49 and 55 (1-based), rounded to pixels. Checked by eye with the points
    /// drawn on the photos: every one is a face, and no face is missing but t1.jpg's framed
    /// portrait on the wall (blurred, about 10 px, below every detector's smallest face).
    static let photoFaces: [[Face]] = [
        [(92, [(203, 102), (247, 104), (225, 127), (201, 139), (246, 141)])],            // astronaut
        [(173, [(225, 192), (305, 188), (268, 238), (234, 281), (300, 277)])],           // Grace Hopper
        [(115, [(87, 330), (128, 310), (118, 337), (114, 372), (148, 352)]),             // t1.jpg, left to right
         (97, [(291, 214), (321, 196), (305, 227), (312, 249), (339, 233)]),
         (113, [(491, 320), (538, 333), (509, 365), (482, 369), (531, 380)]),
         (101, [(762, 399), (800, 404), (772, 431), (763, 436), (808, 441)]),
         (108, [(938, 114), (981, 114), (952, 157), (936, 172), (975, 172)]),
         (97, [(1149, 328), (1192, 325), (1164, 348), (1153, 367), (1197, 364)])],
        [(86, [(36, 52), (72, 50), (63, 78), (37, 92), (66, 91)])],                      // Tom Hanks
    ].map { $0.map { Face(side: $0.0, points: $0.1.map { SIMD2($0.0, $0.1) }) } }

    func detectors() throws -> [(String, any FaceDetecting)] {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: MTCNNTests.modelPath), "needs `make detector`")
        return [("haar", try HaarFaceDetector()), ("cnn", try MTCNNFaceDetector(modelPath: MTCNNTests.modelPath))]
    }

    /// Detects on `image` at full resolution (so a 40 px face is 40 px to the detector) and
    /// adds the matches against `truth` (the faces expected) to the condition's tally.
    func score(_ image: RGBImage, truth: [Face], condition: String, detectors: [(String, any FaceDetecting)]) throws {
        let frame = try FaceFrame(image, analysisLongSide: max(image.width, image.height))
        for (name, detector) in detectors {
            let detections = try detector.detect(in: frame, near: nil)
            func finds(_ d: FaceDetection, _ t: Face) -> Bool {
                t.points.allSatisfy(d.box.contains) && d.box.width >= 0.6 * t.side && d.box.width <= 1.6 * t.side
            }
            var tally = tallies[name, default: [:]][condition, default: Tally()]
            tally.frames += 1
            tally.faces += truth.count
            tally.found += truth.filter { t in detections.contains { finds($0, t) } }.count
            tally.falsePositives += detections.filter { d in !truth.contains { finds(d, $0) } }.count
            tallies[name, default: [:]][condition] = tally
        }
    }

    func printTallies() {
        for (name, conditions) in tallies.sorted(by: { $0.key > $1.key }) {
            for (condition, t) in conditions.sorted(by: { $0.key < $1.key }) {
                print(String(format: "accuracy %@ %@: recall %d/%d (%.1f%%), false positives %d in %d frames",
                             name, condition, t.found, t.faces, 100 * t.recall, t.falsePositives, t.frames))
            }
        }
    }

    func recall(_ name: String, _ condition: String) -> Double { tallies[name]?[condition]?.recall ?? 0 }

    // MARK: The photos under ffmpeg transforms

    /// A transform of a photo: the ffmpeg filter, and where a point of the photo lands.
    struct Condition {
        let name: String
        let filter: String
        /// A photo point → the transformed image's point, given the photo's and the image's sizes.
        let map: (_ x: Double, _ y: Double, _ photo: (w: Double, h: Double), _ image: (w: Double, h: Double)) -> (Double, Double)
        var scale = 1.0
    }

    func testRecallAndFalsePositivesPerConditionOnThePhotos() throws {
        let detectors = try detectors()
        let scratch = ScratchDir("accuracy")
        for (p, (photo, truth)) in zip(MTCNNTests.photos, DetectorAccuracyTests.photoFaces).enumerated() {
            let original = try RGBImage(contentsOfFile: photo)
            for (k, condition) in conditions(truth).enumerated() {
                let path = scratch.path("p\(p)-c\(k).png")
                try ffmpeg(["-i", photo, "-vf", condition.filter, "-frames:v", "1", path])
                let image = try RGBImage(contentsOfFile: path)
                let sizes = ((Double(original.width), Double(original.height)), (Double(image.width), Double(image.height)))
                let expected = truth.map { face in
                    face.mapped({ p in let (x, y) = condition.map(p.x, p.y, sizes.0, sizes.1); return SIMD2(x, y) },
                                scale: condition.scale)
                }
                try score(image, truth: expected, condition: condition.name, detectors: detectors)
            }
        }
        printTallies()
        // Measured: cnn 9/9 upright, 18/18 at ±30°, 17/18 at ±45°, 9/9 at 20% brightness, 9/9 at
        // 40 px, 18/18 yawed, 9/9 blurred, 19/27 half occluded, 9/45 behind the moving occluder,
        // 31 false positives (t1.jpg's hand and ashtray in most conditions); haar 2/18 at ±45°.
        XCTAssertGreaterThanOrEqual(recall("cnn", "upright"), 0.98, "cnn upright")
        for (condition, least) in [("rotated ±30°", 0.9), ("rotated ±45°", 0.9), ("brightness 20%", 0.9),
                                   ("smallest face 40 px", 0.9), ("yaw (perspective)", 0.9), ("motion blur", 0.9),
                                   ("half occluded", 0.6), ("moving occluder", 0.15)] {
            XCTAssertGreaterThanOrEqual(recall("cnn", condition), least, "cnn \(condition)")
        }
        XCTAssertGreaterThan(recall("cnn", "rotated ±45°"), recall("haar", "rotated ±45°") + 0.5, "cnn finds the rotated faces Haar misses")
        let falsePositives = tallies["cnn", default: [:]].values.reduce(0) { $0 + $1.falsePositives }
        XCTAssertLessThanOrEqual(falsePositives, 34, "cnn false positives on the photos")
    }

    /// The conditions for a photo whose faces are `truth`.
    func conditions(_ truth: [Face]) -> [Condition] {
        let same: (Double, Double, (w: Double, h: Double), (w: Double, h: Double)) -> (Double, Double) = { x, y, _, _ in (x, y) }
        var all = [Condition(name: "upright", filter: "null", map: same)]
        for degrees in [-45.0, -30, 30, 45] {
            let a = degrees * .pi / 180
            // ffmpeg rotates clockwise by a about the centre onto a canvas that holds the whole photo.
            all.append(Condition(name: "rotated ±\(Int(abs(degrees)))°", filter: "rotate=a=\(a):ow=rotw(\(a)):oh=roth(\(a)):c=black",
                                 map: { x, y, photo, image in
                let dx = x - photo.w / 2, dy = y - photo.h / 2
                return (image.w / 2 + cos(a) * dx - sin(a) * dy, image.h / 2 + sin(a) * dx + cos(a) * dy)
            }))
        }
        // Yaw: the right (or left) edge squeezed to the middle 76% of the height, a projective map
        // of the photo's corners (what ffmpeg's perspective filter applies).
        for right in [true, false] {
            let q = 0.12
            let filter = right ? "perspective=x0=0:y0=0:x1=W:y1=\(q)*H:x2=0:y2=H:x3=W:y3=\(1 - q)*H:sense=destination"
                               : "perspective=x0=0:y0=\(q)*H:x1=W:y1=0:x2=0:y2=\(1 - q)*H:x3=W:y3=H:sense=destination"
            all.append(Condition(name: "yaw (perspective)", filter: filter, map: { x, y, photo, _ in
                let u = x / photo.w, v = y / photo.h
                // Corners (u, v) = (0,0), (1,0), (1,1), (0,1) → quad p0, p1, p2, p3 (Heckbert's square-to-quad).
                let p: [(Double, Double)] = right ? [(0.0, 0.0), (photo.w, q * photo.h), (photo.w, (1 - q) * photo.h), (0, photo.h)]
                              : [(0.0, q * photo.h), (photo.w, 0), (photo.w, photo.h), (0, (1 - q) * photo.h)]
                let dx1 = p[1].0 - p[2].0, dx2 = p[3].0 - p[2].0, dx3 = p[0].0 - p[1].0 + p[2].0 - p[3].0
                let dy1 = p[1].1 - p[2].1, dy2 = p[3].1 - p[2].1, dy3 = p[0].1 - p[1].1 + p[2].1 - p[3].1
                let det = dx1 * dy2 - dx2 * dy1
                let g = (dx3 * dy2 - dx2 * dy3) / det, h = (dx1 * dy3 - dx3 * dy1) / det
                let a = p[1].0 - p[0].0 + g * p[1].0, b = p[3].0 - p[0].0 + h * p[3].0
                let d = p[1].1 - p[0].1 + g * p[1].1, e = p[3].1 - p[0].1 + h * p[3].1
                let w = g * u + h * v + 1
                return ((a * u + b * v + p[0].0) / w, (d * u + e * v + p[0].1) / w)
            }))
        }
        all.append(Condition(name: "brightness 20%", filter: "colorchannelmixer=rr=0.2:gg=0.2:bb=0.2", map: same))
        let smallest = truth.map(\.side).min() ?? 40
        all.append(Condition(name: "motion blur", filter: "dblur=angle=0:radius=\(Int(max(2, smallest * 0.06)))", map: same))
        let s = 40 / smallest
        all.append(Condition(name: "smallest face 40 px", filter: "scale=iw*\(s):ih*\(s):flags=area",
                             map: { x, y, photo, image in (x * image.w / photo.w, y * image.h / photo.h) }, scale: s))
        // An occluder over half of every face: its left, right or lower half, in mid grey.
        for part in [(0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 0.5, 1.0), (0.0, 0.5, 1.0, 0.5)] {   // x, y, width, height in face sides
            let boxes = truth.map(\.square).map { b in
                "drawbox=x=\(Int(b.x + part.0 * b.width)):y=\(Int(b.y + part.1 * b.height)):w=\(Int(part.2 * b.width))" +
                    ":h=\(Int(part.3 * b.height)):color=gray:t=fill"
            }
            all.append(Condition(name: "half occluded", filter: boxes.joined(separator: ","), map: same))
        }
        // A moving occluder: a grey bar half a face wide (and 1.2 faces high) sliding across every
        // face, at five steps from over its left half to over its right half.
        for step in 0..<5 {
            let offset = 0.125 * Double(step)
            let boxes = truth.map(\.square).map { b in
                "drawbox=x=\(Int(b.x + offset * b.width)):y=\(Int(b.y - 0.1 * b.height)):w=\(Int(0.5 * b.width))" +
                    ":h=\(Int(1.2 * b.height)):color=gray:t=fill"
            }
            all.append(Condition(name: "moving occluder", filter: boxes.joined(separator: ","), map: same))
        }
        return all
    }

    // MARK: Demo-corpus frames

    /// Every 5th frame of one 2-s demo-corpus clip per identity (`cals demo-corpus`, 6 speakers,
    /// 192 px frames): one talking face each, turned and moved by the head pose. Truth from the
    /// clip's sidecar: the face side is the closed mouth's half-width / 0.18 (the renderer's
    /// mouth is 0.18 face sides wide either side), its points the mouth's corners and the face's
    /// middle 0.3 sides above the mouth centre (the identities' mouths sit 0.235–0.38 sides below
    /// the face centre).
    func testRecallOnDemoCorpusFrames() throws {
        let detectors = try detectors()
        let scratch = ScratchDir("accuracy-demo")
        let corpus = scratch.path("corpus"), faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
        let made = try TestSupport.run(TestEnv.calsBinary, ["demo-corpus", "--out", corpus, "--speakers", "6", "--clips", "1",
                                                "--seconds", "2", "--size", "192", "--faces", faces])
        XCTAssertEqual(made.status, 0, made.stderr)
        let clips = (FileManager.default.subpaths(atPath: corpus) ?? []).filter { $0.hasSuffix(".mp4") }.sorted()
        XCTAssertEqual(clips.count, 6)
        for clip in clips {
            let path = (corpus as NSString).appendingPathComponent(clip), raw = scratch.path("frames.rgb")
            let sidecar = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
                (path as NSString).deletingPathExtension + ".json"))) as? [String: Any]
            let mouths = try XCTUnwrap((sidecar?["frames"] as? [[String: Any]])?.map { $0["mouth"] as? [Double] ?? [] }, clip)
            try ffmpeg(["-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            let size = 192, frameBytes = size * size * 3
            XCTAssertEqual(bytes.count, mouths.count * frameBytes, clip)
            for f in stride(from: 0, to: min(mouths.count, bytes.count / frameBytes), by: 5) where mouths[f].count == 3 {
                let image = RGBImage(width: size, height: size, pixels: Array(bytes[(f * frameBytes)..<((f + 1) * frameBytes)]))
                let (x, y, halfWidth) = (mouths[f][0], mouths[f][1], mouths[f][2]), side = halfWidth / 0.18
                let truth = Face(side: side, points: [SIMD2(x - halfWidth, y), SIMD2(x + halfWidth, y), SIMD2(x, y - 0.3 * side)])
                try score(image, truth: [truth], condition: "demo corpus", detectors: detectors)
            }
        }
        printTallies()
        XCTAssertGreaterThanOrEqual(recall("cnn", "demo corpus"), 0.95, "cnn recall on demo-corpus frames (measured 60/60)")
        XCTAssertLessThanOrEqual(tallies["cnn"]?["demo corpus"]?.falsePositives ?? 0, 0, "cnn false positives on demo-corpus frames")
    }

    // MARK: Several faces per frame

    /// Two to six faces from the photos, 48–140 px, on the moving backgrounds.
    func testRecallOnFramesWithTwoToSixFaces() throws {
        let detectors = try detectors()
        // Each face of each photo as a square patch of 1.5 face sides around it, with the face in
        // the patch's units (its side 1).
        var patches: [(image: RGBImage, face: Face)] = []
        for (photo, faces) in zip(MTCNNTests.photos, DetectorAccuracyTests.photoFaces) {
            let image = try RGBImage(contentsOfFile: photo)
            for face in faces {
                let b = face.square, side = Int(1.5 * face.side)
                let x = Int(b.x + b.width / 2) - side / 2, y = Int(b.y + b.height / 2) - side / 2
                patches.append((try image.croppedSquare(x: x, y: y, side: side, size: 210),
                                face.mapped({ ($0 - SIMD2(Double(x), Double(y))) / Double(side) }, scale: 1 / Double(side))))
            }
        }
        XCTAssertGreaterThanOrEqual(patches.count, 8)
        var rng = SplitMix64(state: 23)
        let backgrounds: [Background] = [.noise, .gradient, .shapes]
        let cellW = 1280 / 3, cellH = 720 / 2
        for f in 0..<15 {
            var frame = try Scenes.render(SceneFrame(background: backgrounds[f % 3], time: f, face: nil),
                                          astronaut: RGBImage(width: 1, height: 1)).resized(width: 1280, height: 720)
            let count = 2 + f % 5
            var cells = Array(0..<6)
            var truth: [Face] = []
            for _ in 0..<count {
                let cell = cells.remove(at: Int(rng.next() % UInt64(cells.count)))
                let size = (48 + Int(rng.next() % 93)) * 3 / 2
                let (source, face) = patches[Int(rng.next() % UInt64(patches.count))]
                let patch = try source.resized(width: size, height: size)
                let x = cell % 3 * cellW + Int(rng.next() % UInt64(cellW - size)), y = cell / 3 * cellH + Int(rng.next() % UInt64(cellH - size))
                frame.pixels.withUnsafeMutableBufferPointer { out in
                    for row in 0..<size {
                        for k in 0..<(size * 3) { out[((y + row) * 1280 + x) * 3 + k] = patch.pixels[row * size * 3 + k] }
                    }
                }
                truth.append(face.mapped({ SIMD2(Double(x), Double(y)) + $0 * Double(size) }, scale: Double(size)))
            }
            try score(frame, truth: truth, condition: "2-6 faces, 48-140 px", detectors: detectors)
        }
        printTallies()
        XCTAssertGreaterThanOrEqual(recall("cnn", "2-6 faces, 48-140 px"), 0.95, "cnn recall with several faces (measured 60/60)")
    }

    // MARK: Frames without faces

    /// False positives per 1,000 frames on the moving backgrounds without a face.
    func testFalsePositivesOnFramesWithoutFaces() throws {
        let detectors = try detectors()
        let backgrounds: [Background] = [.noise, .gradient, .shapes]
        // CALS_NO_FACE_FRAMES: more frames for a measurement that can show 1 per 1,000 (300 in `make test`).
        let frames = ProcessInfo.processInfo.environment["CALS_NO_FACE_FRAMES"].flatMap(Int.init).map { max(3, $0) } ?? 300
        for f in 0..<frames {
            let image = Scenes.render(SceneFrame(background: backgrounds[f % 3], time: f, face: nil), astronaut: RGBImage(width: 1, height: 1))
            try score(image, truth: [], condition: "no face", detectors: detectors)
        }
        printTallies()
        for (name, _) in detectors {
            let t = tallies[name]?["no face"] ?? Tally()
            print(String(format: "accuracy %@: %.1f false positives per 1,000 frames without faces", name,
                         1000 * Double(t.falsePositives) / Double(frames)))
        }
        XCTAssertLessThanOrEqual(tallies["cnn"]?["no face"]?.falsePositives ?? 0, max(1, frames / 1000),
                                 "cnn false positives on \(frames) frames (measured 0 on 300)")
    }
}
