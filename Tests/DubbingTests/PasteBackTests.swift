import Common
import Dubbing
import Foundation
import Face
import XCTest

/// The paste-back of generated crops and the back-and-forth frame order.
final class PasteBackTests: XCTestCase {
    /// A smooth RGB frame (waves of 25–40 px), so resampling changes it little but a shift by one
    /// pixel changes it by up to ~20.
    func frame(width: Int, height: Int) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { i in
            let c = Double(i % 3), p = i / 3, x = Double(p % width), y = Double(p / width)
            return UInt8((128 + 100 * sin(x / 4 + c) * cos(y / 6 - c)).rounded())
        })
    }

    func testPingPongPlaysForwardsThenBackwards() {
        XCTAssertEqual((0..<10).map { Dubber.pingPong($0, count: 4) }, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3])
        XCTAssertEqual((0..<4).map { Dubber.pingPong($0, count: 1) }, [0, 0, 0, 0])
        XCTAssertEqual((0..<5).map { Dubber.pingPong($0, count: 2) }, [0, 1, 0, 1, 0])
    }

    /// A solid crop lands only in the lower half of its square: full weight inside the feather,
    /// nothing above the middle row or outside the square.
    func testSolidCropChangesOnlyTheSquaresLowerHalf() throws {
        let original = frame(width: 200, height: 160)
        let square = FaceBox(x: 40, y: 20, width: 100, height: 100)
        let solid = RGBImage(width: 128, height: 128, pixels: [UInt8](repeating: 7, count: 128 * 128 * 3))
        var pasted = original
        try pasted.blendLowerHalf(of: solid, into: ImageRotation(box: square), feather: 0.1)
        for y in 0..<160 { for x in 0..<200 {
            let i = (y * 200 + x) * 3
            let inside = x >= 40 && x < 140 && y >= 70 && y < 120
            if !inside {
                XCTAssertEqual(pasted.pixels[i..<(i + 3)], original.pixels[i..<(i + 3)], "(\(x), \(y)) outside changed")
            } else if x >= 50 && x < 130 && y >= 80 && y < 110 {
                XCTAssertEqual(Array(pasted.pixels[i..<(i + 3)]), [7, 7, 7], "(\(x), \(y)) inside the feather")
            }
        } }
        // The feather: weight rises from the middle row downwards (no step at the seam).
        let column = 90, rows = [70, 74, 78, 82]
        let distance = rows.map { y in abs(Int(pasted.pixels[(y * 200 + column) * 3]) - 7) }
        XCTAssertEqual(distance, distance.sorted(by: >), "weights along the seam: \(distance)")
        XCTAssertGreaterThan(distance[0], 0)
    }

    /// Pasting a frame's own crop back (the crop transform, then its inverse) leaves the frame
    /// nearly as it was (max 4 measured; the square moved by one pixel gives 27), also for a square
    /// that reaches past the frame's edges.
    func testOwnCropPastedBackIsNearlyTheFrame() throws {
        let original = frame(width: 160, height: 120)
        for square in [FaceBox(x: 30, y: 10, width: 90, height: 90), FaceBox(x: 100, y: 60, width: 90, height: 90)] {
            let crop = try original.croppedSquare(x: Int(square.x), y: Int(square.y), side: Int(square.width), size: 128)
            var pasted = original
            try pasted.blendLowerHalf(of: crop, into: ImageRotation(box: square))
            let error = zip(pasted.pixels, original.pixels).map { abs(Int($0) - Int($1)) }
            print("own crop pasted back into \(square): |error| max \(error.max()!), mean \(Double(error.reduce(0, +)) / Double(error.count))")
            XCTAssertLessThanOrEqual(error.max()!, 6, "square \(square)")
        }
    }

    /// A crop cut turned (`crop_rotation`: a square turned about its face's centre) and pasted
    /// back through its turn lands where it came from: the frame changes only inside the turned
    /// square's lower half (the mask is turned too) and stays nearly as it was (max 6, as the
    /// unturned paste above), also for a square turned the other way past the frame's corner.
    /// Pasted as if unturned (the same square at angle 0) it is misplaced, and the frame changes
    /// by far more.
    func testTurnedCropPastedBackThroughItsTurnIsNearlyTheFrame() throws {
        let original = frame(width: 200, height: 180)
        let inside = ImageRotation(centre: SIMD2(97.5, 88.25), angle: 30 * Double.pi / 180, width: 90, height: 90)
        let pastCorner = ImageRotation(centre: SIMD2(171, 150.5), angle: -40 * Double.pi / 180, width: 90, height: 90)
        let mean = { (e: [Int]) in Double(e.reduce(0, +)) / Double(max(1, e.count)) }
        for turned in [inside, pastCorner] {
            let crop = try turned.canvas(of: original).resized(width: 128, height: 128)
            var pasted = original
            try pasted.blendLowerHalf(of: crop, into: turned)
            var unturned = original
            try unturned.blendLowerHalf(of: crop, into: ImageRotation(centre: turned.centre, angle: 0, width: 90, height: 90))
            // Over the turned lower half within the frame, but for the frame's outer 2 pixels: the
            // canvas mirrors the frame past its edges, so the crop itself is off there.
            var turnedError: [Int] = [], unturnedError: [Int] = []
            var changedOutside = 0
            for y in 0..<180 { for x in 0..<200 {
                let i = (y * 200 + x) * 3
                let q = turned.canvasPoint(SIMD2(Double(x) + 0.5, Double(y) + 0.5))
                if q.x < 0 || q.x > 90 || q.y < 45 || q.y > 90 {
                    if pasted.pixels[i..<(i + 3)] != original.pixels[i..<(i + 3)] { changedOutside += 1 }
                } else if x >= 2 && x < 198 && y >= 2 && y < 178 {
                    turnedError += (i..<(i + 3)).map { abs(Int(pasted.pixels[$0]) - Int(original.pixels[$0])) }
                    unturnedError += (i..<(i + 3)).map { abs(Int(unturned.pixels[$0]) - Int(original.pixels[$0])) }
                }
            } }
            print("turned crop at \(turned.centre) pasted back over \(turnedError.count / 3) pixels: through its turn |error|",
                  "max \(turnedError.max() ?? -1) mean \(mean(turnedError)); unturned max \(unturnedError.max() ?? -1) mean \(mean(unturnedError))")
            XCTAssertEqual(changedOutside, 0, "\(turned): pixels outside the turned lower half changed")
            XCTAssertGreaterThan(turnedError.count / 3, turned == inside ? 90 * 45 * 9 / 10 : 500, "\(turned): the part inside the frame")
            XCTAssertLessThanOrEqual(turnedError.max() ?? 99, 6, "\(turned)")
            XCTAssertGreaterThan(mean(unturnedError), 10 * max(0.5, mean(turnedError)), "\(turned)")
        }
    }
}
