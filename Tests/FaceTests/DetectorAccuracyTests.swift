import Common
@testable import Face
import Foundation
import TestSupport
import XCTest

/// Recall and false positives of `haar` and `cnn` on the real photos under hard conditions made
/// with ffmpeg: in-plane rotation up to ±45° (about the image centre, on a black canvas), the face
/// scaled to about 40 px, brightness at 20%, a box blur. Ground truth: the face `cnn` finds on the
/// untouched photo, carried through the known transform; a detection counts when its centre is
/// within 0.3 face sides of the expected centre and its side within 0.6–1.6× the expected side.
final class DetectorAccuracyTests: XCTestCase {
    struct Condition { let name: String; let filter: String; let angle: Double; let scale: Double }

    func testRecallAndFalsePositivesPerCondition() throws {
        let modelPath = MTCNNTests.modelPath
        try XCTSkipUnless(FileManager.default.fileExists(atPath: modelPath), "needs `make detector`")
        let cnn = try MTCNNFaceDetector(modelPath: modelPath), haar = try HaarFaceDetector()
        let scratch = ScratchDir("accuracy")
        let photos = MTCNNTests.photos.filter { !$0.hasSuffix("t1.jpg") }   // one face each
        var conditions = [Condition(name: "upright", filter: "null", angle: 0, scale: 1)]
        for degrees in [-45.0, -30, 30, 45] {
            let a = degrees * .pi / 180
            conditions.append(Condition(name: "rotated \(Int(degrees))°",
                                        filter: "rotate=a=\(a):ow=rotw(\(a)):oh=roth(\(a)):c=black", angle: a, scale: 1))
        }
        conditions.append(Condition(name: "brightness 20%", filter: "colorchannelmixer=rr=0.2:gg=0.2:bb=0.2", angle: 0, scale: 1))
        conditions.append(Condition(name: "blurred", filter: "boxblur=3:1", angle: 0, scale: 1))

        var recall: [String: [String: (hit: Int, total: Int, falsePositives: Int)]] = [:]
        for (p, photo) in photos.enumerated() {
            let original = try RGBImage(contentsOfFile: photo)
            let truth = try XCTUnwrap(try cnn.detect(in: original).first, photo).box
            var all = conditions
            let face40 = 40 / truth.width
            all.append(Condition(name: "face 40 px", filter: "scale=iw*\(face40):ih*\(face40):flags=area", angle: 0, scale: face40))
            for (k, condition) in all.enumerated() {
                let path = scratch.path("p\(p)-c\(k).png")
                try ffmpeg(["-i", photo, "-vf", condition.filter, "-frames:v", "1", path])
                let image = try RGBImage(contentsOfFile: path)
                // The face centre through the transform: scale, then rotation about the image centre.
                let s = condition.scale, a = condition.angle
                let dx = (truth.x + truth.width / 2) * s - Double(original.width) * s / 2
                let dy = (truth.y + truth.height / 2) * s - Double(original.height) * s / 2
                let cx = Double(image.width) / 2 + cos(a) * dx - sin(a) * dy
                let cy = Double(image.height) / 2 + sin(a) * dx + cos(a) * dy
                let side = truth.width * s
                for (name, detector) in [("haar", haar), ("cnn", cnn)] as [(String, any FaceDetecting)] {
                    let found = try detector.detect(in: FaceFrame(image, analysisLongSide: max(image.width, image.height)), near: nil)
                    let hits = found.filter { f in
                        let fx = f.box.x + f.box.width / 2, fy = f.box.y + f.box.height / 2
                        return hypot(fx - cx, fy - cy) <= 0.3 * side && f.box.width >= 0.6 * side && f.box.width <= 1.6 * side
                    }
                    let key = condition.name
                    var r = recall[name, default: [:]][key, default: (0, 0, 0)]
                    r = (r.hit + (hits.isEmpty ? 0 : 1), r.total + 1, r.falsePositives + found.count - min(1, hits.count))
                    recall[name, default: [:]][key] = r
                }
            }
        }
        for name in ["haar", "cnn"] {
            for (condition, r) in recall[name, default: [:]].sorted(by: { $0.key < $1.key }) {
                print("accuracy \(name) \(condition): recall \(r.hit)/\(r.total), false positives \(r.falsePositives)")
            }
        }
        let cnnRecall = recall["cnn", default: [:]]
        let total = cnnRecall.values.reduce(0) { $0 + $1.total }, hits = cnnRecall.values.reduce(0) { $0 + $1.hit }
        let falsePositives = cnnRecall.values.reduce(0) { $0 + $1.falsePositives }
        let haarHits = recall["haar", default: [:]].values.reduce(0) { $0 + $1.hit }
        print("accuracy totals: cnn \(hits)/\(total) (false positives \(falsePositives)), haar \(haarHits)/\(total)")
        // Thresholds a little below what was measured when this was written.
        XCTAssertGreaterThanOrEqual(hits, total - 2, "cnn recall")
        XCTAssertLessThanOrEqual(falsePositives, 1, "cnn false positives")
        XCTAssertEqual(cnnRecall["upright"]?.hit, photos.count, "cnn on the untouched photos")
        let rotated = cnnRecall.filter { $0.key.hasPrefix("rotated") }.values.reduce(0) { $0 + $1.hit }
        XCTAssertGreaterThanOrEqual(rotated, 4 * photos.count - 2, "cnn on rotated faces")
        XCTAssertGreaterThanOrEqual(hits - haarHits, 8, "cnn finds the rotated faces Haar misses")
    }
}
