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

    /// Writes a PNG with two panels over steps: the loss (blue, top) and the offset accuracy
    /// (bottom: batch accuracy in light blue, held-out accuracy in red, chance level dashed grey).
    public func plot(to path: String, chance: Double) throws {
        var canvas = Canvas(width: 800, height: 540)
        let panels = Canvas.stackedPanels(2, width: 800, height: 540)
        let lastStep = Double(max(records.last?.step ?? 1, 1))
        let maxLoss = max(records.map(\.loss).max() ?? 1, 1e-6)
        let steps = Canvas.stepRange(lastStep)
        try canvas.axes(panels[0], title: "loss (multi-way matching)", y: (0, maxLoss), x: steps)
        try canvas.axes(panels[1], title: "offset accuracy: batch (light blue), held-out (red), chance (dashed)",
                        y: (0, 1), x: steps)
        canvas.dashedLine(panels[1], y: chance, colour: (150, 150, 150))
        canvas.polyline(panels[0], records.map { (Double($0.step) / lastStep, $0.loss / maxLoss) }, colour: (30, 80, 200))
        canvas.polyline(panels[1], records.map { (Double($0.step) / lastStep, $0.accuracy) }, colour: (140, 180, 240))
        canvas.polyline(panels[1], records.compactMap { r in r.evalAccuracy.map { (Double(r.step) / lastStep, $0) } },
                        colour: (210, 40, 40), marks: true)
        try PNG.write(canvas.image, to: path)
    }
}
