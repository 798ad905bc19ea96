import Common
import Face
import Foundation

/// One panel of a metrics plot: curves over steps under a title.
public struct PlotPanel {
    /// The y axis: 0 to the largest value, 0 to 1, or logarithmic from the lowest to the highest positive value.
    public enum Scale { case linear, unit, logarithmic }

    public struct Curve {
        public var points: [(step: Int, value: Double)]
        public var colour: Canvas.Colour
        /// A mark at each point (sparse curves: held-out scores).
        public var marks = false

        public init(_ points: [(step: Int, value: Double)], colour: Canvas.Colour, marks: Bool = false) {
            (self.points, self.colour, self.marks) = (points, colour, marks)
        }
    }

    public var title: String
    public var scale: Scale
    public var curves: [Curve]
    /// A dashed grey horizontal line at this value (chance level).
    public var reference: Double?

    public init(_ title: String, scale: Scale = .linear, curves: [Curve], reference: Double? = nil) {
        (self.title, self.scale, self.curves, self.reference) = (title, scale, curves, reference)
    }

    public static let blue: Canvas.Colour = (30, 80, 200), lightBlue: Canvas.Colour = (140, 180, 240), red: Canvas.Colour = (210, 40, 40)
}

/// A PNG of `panels` stacked top to bottom over a shared step axis (0 to the last step of any curve).
public func plotMetrics(_ panels: [PlotPanel], to path: String) throws {
    let height = 300 + 120 * panels.count
    var canvas = Canvas(width: 800, height: height)
    let boxes = Canvas.stackedPanels(panels.count, width: 800, height: height)
    let lastStep = Double(max(panels.flatMap { $0.curves.compactMap { $0.points.last?.step } }.max() ?? 1, 1))
    let steps = Canvas.stepRange(lastStep)
    for (panel, box) in zip(panels, boxes) {
        let values = panel.curves.flatMap { $0.points.map(\.value) }
        let y: (bottom: Double, top: Double), scaled: (Double) -> Double
        switch panel.scale {
        case .linear:
            let top = max(values.max() ?? 1, 1e-9)
            (y, scaled) = ((0, top), { $0 / top })
        case .unit:
            (y, scaled) = ((0, 1), { $0 })
        case .logarithmic:
            let positive = values.filter { $0 > 0 }
            let (low, high) = (positive.min() ?? 1, positive.max() ?? 1), span = max(log(high) - log(low), 1e-9)
            (y, scaled) = ((low, high), { (log(max($0, 1e-30)) - log(low)) / span })
        }
        try canvas.axes(box, title: panel.title, y: y, x: steps)
        if let reference = panel.reference { canvas.dashedLine(box, y: scaled(reference), colour: (150, 150, 150)) }
        for curve in panel.curves {
            canvas.polyline(box, curve.points.map { (Double($0.step) / lastStep, scaled($0.value)) }, colour: curve.colour,
                            marks: curve.marks)
        }
    }
    try PNG.write(canvas.image, to: path)
}

/// A PNG of one curve y(x) with marks under `title`, both axes from 0 to their largest value
/// (`xName` names the x values), and an optional dashed vertical line at x = `marker`.
public func plotCurve(_ points: [(x: Double, y: Double)], title: String, xName: String, marker: Double? = nil,
                      to path: String) throws {
    var canvas = Canvas(width: 640, height: 420)
    let panel = Canvas.stackedPanels(1, width: 640, height: 420)[0]
    let maxX = max(points.map(\.x).max() ?? 1, 1e-9), maxY = max(points.map(\.y).max() ?? 1, 1e-9)
    try canvas.axes(panel, title: title, y: (0, maxY), x: ("\(xName) = 0", "\(xName) = \(Canvas.label(maxX))"))
    if let marker {
        canvas.line(canvas.point(panel, marker / maxX, 0), canvas.point(panel, marker / maxX, 1), (150, 150, 150), dashed: true)
        try canvas.text("\(xName) = \(Canvas.label(marker))", x: canvas.point(panel, marker / maxX, 0).0 + 4,
                        y: panel.y + panel.height - 6)
    }
    canvas.polyline(panel, points.map { ($0.x / maxX, $0.y / maxY) }, colour: (210, 40, 40), marks: true)
    try PNG.write(canvas.image, to: path)
}

/// A white RGB canvas with panels whose coordinates run 0…1 left to right and bottom to top.
public struct Canvas {
    public struct Panel { public let x: Int, y: Int, width: Int, height: Int }
    public typealias Colour = (UInt8, UInt8, UInt8)
    public var image: RGBImage

    public init(width: Int, height: Int) {
        image = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
    }

    /// `count` panels stacked top to bottom over the whole canvas, each with room for a title
    /// above it, value labels left of it and x labels below it.
    public static func stackedPanels(_ count: Int, width: Int, height: Int) -> [Panel] {
        let (left, right, above, below) = (72, 16, 22, 22)
        let each = height / count
        return (0..<count).map { Panel(x: left, y: $0 * each + above, width: width - left - right, height: each - above - below) }
    }

    public static let textScale = 0.4
    static let ink: Colour = (40, 40, 40)

    /// `s` in dark grey with the left end of its baseline at (x, y), or its right end when `alignRight`.
    public mutating func text(_ s: String, x: Int, y: Int, alignRight: Bool = false) throws {
        let shift = alignRight ? try RGBImage.textSize(s, scale: Self.textScale).width : 0
        try image.drawText(s, x: x - shift, y: y, scale: Self.textScale, colour: Self.ink)
    }

    /// The frame and grid lines of `p`, `title` above it, the values `y` of its bottom and top
    /// edges left of it, and the labels `x` of its left and right ends below it.
    mutating func axes(_ p: Panel, title: String, y: (bottom: Double, top: Double), x: (left: String, right: String),
                       gridLines: Int = 4) throws {
        frame(p, gridLines: gridLines)
        try text(title, x: p.x, y: p.y - 8)
        try text(Self.label(y.top), x: p.x - 6, y: p.y + 9, alignRight: true)
        try text(Self.label(y.bottom), x: p.x - 6, y: p.y + p.height - 1, alignRight: true)
        try text(x.left, x: p.x, y: p.y + p.height + 16)
        try text(x.right, x: p.x + p.width, y: p.y + p.height + 16, alignRight: true)
    }

    /// The x labels of a panel over training steps 0…`last`.
    static func stepRange(_ last: Double) -> (left: String, right: String) { ("0", "\(Int(last)) steps") }

    /// A value for an axis: whole numbers as they are, others with three significant digits.
    public static func label(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%.3g", v)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: Colour) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        let i = (y * image.width + x) * 3
        image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2
    }

    func point(_ p: Panel, _ u: Double, _ v: Double) -> (Int, Int) {
        (p.x + Int((min(max(u, 0), 1) * Double(p.width - 1)).rounded()),
         p.y + p.height - 1 - Int((min(max(v, 0), 1) * Double(p.height - 1)).rounded()))
    }

    /// Bresenham line between two pixels.
    mutating func line(_ a: (Int, Int), _ b: (Int, Int), _ c: Colour, dashed: Bool = false) {
        var (x, y) = a
        let dx = abs(b.0 - x), dy = -abs(b.1 - y), sx = x < b.0 ? 1 : -1, sy = y < b.1 ? 1 : -1
        var err = dx + dy, n = 0
        while true {
            if !dashed || (n / 6) % 2 == 0 { set(x, y, c) }
            n += 1
            if x == b.0 && y == b.1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Border and horizontal grid lines.
    mutating func frame(_ p: Panel, gridLines: Int) {
        for i in 1..<gridLines {
            line(point(p, 0, Double(i) / Double(gridLines)), point(p, 1, Double(i) / Double(gridLines)), (225, 225, 225))
        }
        let corners = [point(p, 0, 0), point(p, 1, 0), point(p, 1, 1), point(p, 0, 1)]
        for i in 0..<4 { line(corners[i], corners[(i + 1) % 4], (90, 90, 90)) }
    }

    mutating func dashedLine(_ p: Panel, y: Double, colour: Colour) {
        line(point(p, 0, y), point(p, 1, y), colour, dashed: true)
    }

    mutating func polyline(_ p: Panel, _ points: [(Double, Double)], colour: Colour, marks: Bool = false) {
        let pixels = points.map { point(p, $0.0, $0.1) }
        for (a, b) in zip(pixels, pixels.dropFirst()) { line(a, b, colour) }
        guard marks else { return }
        for (x, y) in pixels { for dy in -2...2 { for dx in -2...2 { set(x + dx, y + dy, colour) } } }
    }
}
