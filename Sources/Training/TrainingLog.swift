import Common
import Foundation

/// One logged training step: the batch loss and accuracy, and the held-out accuracy when it was
/// evaluated at this step.
public struct TrainingRecord: Equatable {
    public var step: Int
    public var loss: Double
    public var accuracy: Double
    public var evalAccuracy: Double?

    public init(step: Int, loss: Double, accuracy: Double, evalAccuracy: Double? = nil) {
        self.step = step; self.loss = loss; self.accuracy = accuracy; self.evalAccuracy = evalAccuracy
    }
}

/// The loss/accuracy log of a run, `<out>/log.csv` (`step,loss,accuracy,eval_accuracy`), one row
/// per step, appended as training goes. A resumed run keeps the rows up to its checkpoint's step.
public final class TrainingLog {
    public let path: String
    public private(set) var records: [TrainingRecord] = []
    static let header = "step,loss,accuracy,eval_accuracy"

    /// Starts a new log, or with `keepingUpTo` continues an existing one from that step.
    public init(path: String, keepingUpTo step: Int? = nil) throws {
        self.path = path
        if let step, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for (n, line) in text.split(separator: "\n").enumerated().dropFirst() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard f.count == 4, let s = Int(f[0]), let loss = Double(f[1]), let acc = Double(f[2]) else {
                    throw InputError(path, "line \(n + 1): not a log row")
                }
                if s <= step { records.append(TrainingRecord(step: s, loss: loss, accuracy: acc, evalAccuracy: Double(f[3]))) }
            }
        }
        let body = ([Self.header] + records.map(Self.row)).joined(separator: "\n") + "\n"
        do { try body.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw InputError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    public func append(_ record: TrainingRecord) throws {
        records.append(record)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw InputError(path, "cannot open for appending") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write((Self.row(record) + "\n").data(using: .utf8)!)
    }

    static func row(_ r: TrainingRecord) -> String {
        "\(r.step),\(r.loss),\(r.accuracy),\(r.evalAccuracy.map { "\($0)" } ?? "")"
    }

    /// Writes a PNG with two panels: loss (blue, top) and accuracy (bottom: batch accuracy in
    /// light blue, held-out accuracy in red, chance level dashed grey), steps on the x axis.
    public func plot(to path: String, chance: Double) throws {
        let (width, height, margin) = (800, 520, 20)
        var canvas = Canvas(width: width, height: height)
        let panelHeight = (height - 3 * margin) / 2
        let top = Canvas.Panel(x: margin, y: margin, width: width - 2 * margin, height: panelHeight)
        let bottom = Canvas.Panel(x: margin, y: 2 * margin + panelHeight, width: width - 2 * margin, height: panelHeight)
        let lastStep = Double(max(records.last?.step ?? 1, 1))
        let maxLoss = max(records.map(\.loss).max() ?? 1, 1e-6)
        canvas.frame(top, gridLines: 4)
        canvas.frame(bottom, gridLines: 4)
        canvas.dashedLine(bottom, y: chance, colour: (150, 150, 150))
        canvas.polyline(top, records.map { (Double($0.step) / lastStep, $0.loss / maxLoss) }, colour: (30, 80, 200))
        canvas.polyline(bottom, records.map { (Double($0.step) / lastStep, $0.accuracy) }, colour: (140, 180, 240))
        canvas.polyline(bottom, records.compactMap { r in r.evalAccuracy.map { (Double(r.step) / lastStep, $0) } },
                        colour: (210, 40, 40), marks: true)
        try PNG.write(canvas.image, to: path)
    }
}

/// A white RGB canvas with panels whose coordinates run 0…1 left to right and bottom to top.
struct Canvas {
    struct Panel { let x: Int, y: Int, width: Int, height: Int }
    typealias Colour = (UInt8, UInt8, UInt8)
    var image: RGBImage

    init(width: Int, height: Int) {
        image = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
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
