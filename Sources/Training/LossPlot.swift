import Foundation

/// A PNG with two panels over steps: loss on top (training in blue, held-out in red with marks)
/// and the second metric below (same colours). Each panel is scaled to its largest value.
public func plotLosses(train: [TrainingRecord], heldOut: [TrainingRecord], to path: String) throws {
    let (width, height, margin) = (800, 520, 20)
    var canvas = Canvas(width: width, height: height)
    let panelHeight = (height - 3 * margin) / 2
    let top = Canvas.Panel(x: margin, y: margin, width: width - 2 * margin, height: panelHeight)
    let bottom = Canvas.Panel(x: margin, y: 2 * margin + panelHeight, width: width - 2 * margin, height: panelHeight)
    let lastStep = Double(max(train.last?.step ?? 1, heldOut.last?.step ?? 1, 1))
    let maxLoss = max((train + heldOut).map(\.loss).max() ?? 1, 1e-9)
    let maxOther = max((train + heldOut).map(\.accuracy).max() ?? 1, 1e-9)
    canvas.frame(top, gridLines: 4)
    canvas.frame(bottom, gridLines: 4)
    canvas.polyline(top, train.map { (Double($0.step) / lastStep, $0.loss / maxLoss) }, colour: (30, 80, 200))
    canvas.polyline(top, heldOut.map { (Double($0.step) / lastStep, $0.loss / maxLoss) }, colour: (210, 40, 40), marks: true)
    canvas.polyline(bottom, train.map { (Double($0.step) / lastStep, $0.accuracy / maxOther) }, colour: (140, 180, 240))
    canvas.polyline(bottom, heldOut.map { (Double($0.step) / lastStep, $0.accuracy / maxOther) }, colour: (210, 40, 40), marks: true)
    try PNG.write(canvas.image, to: path)
}

/// A PNG of one curve y(x) with marks, both axes scaled from 0 to their largest value, and an
/// optional dashed vertical line at x = `marker`.
public func plotCurve(_ points: [(x: Double, y: Double)], marker: Double? = nil, to path: String) throws {
    var canvas = Canvas(width: 640, height: 400)
    let panel = Canvas.Panel(x: 20, y: 20, width: 600, height: 360)
    let maxX = max(points.map(\.x).max() ?? 1, 1e-9), maxY = max(points.map(\.y).max() ?? 1, 1e-9)
    canvas.frame(panel, gridLines: 4)
    if let marker {
        canvas.line(canvas.point(panel, marker / maxX, 0), canvas.point(panel, marker / maxX, 1), (150, 150, 150), dashed: true)
    }
    canvas.polyline(panel, points.map { ($0.x / maxX, $0.y / maxY) }, colour: (210, 40, 40), marks: true)
    try PNG.write(canvas.image, to: path)
}
