import Common
import Face
import Foundation
import TestSupport
import Training
import XCTest

/// The PNG plots carry their numbers: titles, the value at each end of the y axis, the x range.
final class PlotTests: XCTestCase {
    /// The columns of `image` inside the box that hold ink (darker than mid grey), and the count of inked pixels.
    private func inked(_ image: RGBImage, x: Range<Int>, y: Range<Int>) -> (columns: Set<Int>, count: Int) {
        var columns = Set<Int>(), count = 0
        for row in y { for column in x where image.pixels[(row * image.width + column) * 3] < 128 {
            columns.insert(column); count += 1
        } }
        return (columns, count)
    }

    func testAxisLabelsKeepThreeSignificantDigits() {
        XCTAssertEqual(Canvas.label(12000), "12000")
        XCTAssertEqual(Canvas.label(0), "0")
        XCTAssertEqual(Canvas.label(0.000486123), "0.000486")
        XCTAssertEqual(Canvas.label(1234.5678), "1.23e+03")
        XCTAssertEqual(Canvas.label(0.5), "0.5")
    }

    func testRightAlignedTextEndsAtItsAnchor() throws {
        var canvas = Canvas(width: 120, height: 30)
        try canvas.text("0.000486", x: 100, y: 20, alignRight: true)
        let ink = inked(canvas.image, x: 0..<120, y: 0..<30)
        let width = try RGBImage.textSize("0.000486", scale: Canvas.textScale).width
        XCTAssertGreaterThan(ink.count, 20)
        XCTAssertLessThanOrEqual(try XCTUnwrap(ink.columns.max()), 101)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(ink.columns.min()), 100 - width - 1)
        XCTAssertLessThan(try XCTUnwrap(ink.columns.min()), 100 - width / 2, "the text is not as wide as measured")
    }

    func testCurvePlotHasATitleAndLabelsOnBothAxes() throws {
        let scratch = ScratchDir("plot-curve")
        let path = scratch.path("curve.png")
        try plotCurve([(0, 0.0008), (1, 0.0005), (2, 0.0004), (3, 0.0004)], title: "unit MSE", xName: "w", marker: 2, to: path)
        let image = try RGBImage(contentsOfFile: path)
        let panel = Canvas.stackedPanels(1, width: image.width, height: image.height)[0]
        // the title above the panel, the top value left of it, the x range below it
        XCTAssertGreaterThan(inked(image, x: panel.x..<(panel.x + 100), y: 0..<panel.y).count, 20, "no title")
        XCTAssertGreaterThan(inked(image, x: 0..<(panel.x - 2), y: panel.y..<(panel.y + 14)).count, 20, "no top value")
        XCTAssertGreaterThan(inked(image, x: 0..<(panel.x - 2), y: (panel.y + panel.height - 14)..<(panel.y + panel.height)).count,
                             5, "no bottom value")
        XCTAssertGreaterThan(inked(image, x: panel.x..<(panel.x + 60), y: (panel.y + panel.height + 2)..<image.height).count,
                             20, "no x label")
        // nothing but the y values left of the panel's middle
        XCTAssertEqual(inked(image, x: 0..<(panel.x - 2), y: (panel.y + 20)..<(panel.y + panel.height - 20)).count, 0)
    }
}
