import Face
import Foundation
import XCTest

/// ReferenceAlignment on a smooth synthetic face-sized pattern moved by known amounts.
final class ReferenceAlignmentTests: XCTestCase {
    let side = 128

    /// Frame [S, S, 3]: pixel (x, y) = f(x − dx, y − dy) for a smooth, aperiodic pattern f.
    func frame(shiftedBy dx: Double, _ dy: Double) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side { for x in 0..<side {
            let (u, v) = (Double(x) - dx, Double(y) - dy)
            let f = 128 + 50 * sin(u / 7.3) * cos(v / 5.1) + 40 * sin((u + 2 * v) / 11.7) + 20 * cos(u * v / 900)
            for c in 0..<3 { out[(y * side + x) * 3 + c] = UInt8(max(0, min(255, (f + Double(10 * c)).rounded()))) }
        } }
        return out
    }

    /// Mean |a − b| over the interior (8 px in from every edge), all channels.
    func interiorError(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var sum = 0.0, n = 0
        for y in 8..<(side - 8) { for x in 8..<(side - 8) { for c in 0..<3 {
            let i = (y * side + x) * 3 + c
            sum += abs(Double(a[i]) - Double(b[i]))
            n += 1
        } } }
        return sum / Double(n)
    }

    func testWholePixelShiftIsUndoneExactly() {
        let target = frame(shiftedBy: 0, 0), reference = frame(shiftedBy: 3, -2)
        let aligned = ReferenceAlignment.aligned(reference, to: target, side: side)
        XCTAssertGreaterThan(interiorError(reference, target), 10)
        XCTAssertEqual(interiorError(aligned, target), 0, accuracy: 0.05)
    }

    func testFractionalShiftsOfTwoFramesAreUndoneToAFractionOfAGreyLevel() {
        let targets = frame(shiftedBy: 0.5, 1) + frame(shiftedBy: -1, 0)
        let references = frame(shiftedBy: 2.9, -0.7) + frame(shiftedBy: -4.6, 2.3)
        let aligned = ReferenceAlignment.aligned(references, to: targets, side: side)
        let bytes = side * side * 3
        for k in 0..<2 {
            let r = Array(references[(k * bytes)..<((k + 1) * bytes)]), a = Array(aligned[(k * bytes)..<((k + 1) * bytes)])
            let t = Array(targets[(k * bytes)..<((k + 1) * bytes)])
            XCTAssertGreaterThan(interiorError(r, t), 10, "frame \(k) starts misaligned")
            XCTAssertLessThan(interiorError(a, t), 1.5, "frame \(k) aligned")
        }
    }

    func testAlignedFramesAreUnchanged() {
        let target = frame(shiftedBy: 0, 0)
        XCTAssertEqual(ReferenceAlignment.aligned(target, to: target, side: side), target)
    }
}
