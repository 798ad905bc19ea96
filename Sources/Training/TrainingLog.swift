import Common
import Foundation

/// A record a `MetricsLog` holds: a step and named values (CSV columns after `step`).
public protocol LoggedMetrics: Equatable, SendableMetatype {
    /// The CSV columns after `step`, in order.
    static var columns: [String] { get }
    var step: Int { get }
    /// The values in column order; nil is an empty field.
    var values: [Double?] { get }
    /// The record of a CSV row's values (one per column: fields missing from rows written before
    /// a column existed are nil); nil when a value the record needs is missing.
    init?(step: Int, values: [Double?])
}

/// One logged training step: the batch loss and accuracy, and the held-out accuracy when it was
/// evaluated at this step.
public struct TrainingRecord: LoggedMetrics {
    public var step: Int
    public var loss: Double
    public var accuracy: Double
    public var evalAccuracy: Double?

    public init(step: Int, loss: Double, accuracy: Double, evalAccuracy: Double? = nil) {
        self.step = step; self.loss = loss; self.accuracy = accuracy; self.evalAccuracy = evalAccuracy
    }

    public static let columns = ["loss", "accuracy", "eval_accuracy"]
    public var values: [Double?] { [loss, accuracy, evalAccuracy] }

    public init?(step: Int, values: [Double?]) {
        guard let loss = values[0], let accuracy = values[1] else { return nil }
        self.init(step: step, loss: loss, accuracy: accuracy, evalAccuracy: values[2])
    }
}

/// The metrics log of a run, a CSV file (`step,<columns>`), one row per record, appended as
/// training goes. A resumed run keeps the rows up to its checkpoint's step. Only the primary rank
/// writes the file (`writes` false: the records are kept in memory alone).
public final class MetricsLog<Record: LoggedMetrics> {
    public let path: String
    public let writes: Bool
    public private(set) var records: [Record] = []
    static var header: String { (["step"] + Record.columns).joined(separator: ",") }

    /// Starts a new log, or with `keepingUpTo` continues an existing one from that step.
    public init(path: String, keepingUpTo step: Int? = nil, writes: Bool = true) throws {
        (self.path, self.writes) = (path, writes)
        if let step, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for (n, line) in text.split(separator: "\n").enumerated().dropFirst() {
                let record = try Self.record(line, path: path, line: n + 1)
                if record.step <= step { records.append(record) }
            }
        }
        guard writes else { return }
        let body = ([Self.header] + records.map(Self.row)).joined(separator: "\n") + "\n"
        do { try body.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw InputError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    public func append(_ record: Record) throws {
        records.append(record)
        guard writes else { return }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw InputError(path, "cannot open for appending") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data((Self.row(record) + "\n").utf8))
    }

    static func row(_ r: Record) -> String {
        ([String(r.step)] + r.values.map { $0.map { "\($0)" } ?? "" }).joined(separator: ",")
    }

    /// The record of CSV `line` (number `n` of the file at `path`): a step and up to one field per
    /// column, each a number or empty.
    static func record(_ line: Substring, path: String, line n: Int) throws -> Record {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let columns = Record.columns.count
        guard fields.count >= 2, fields.count <= columns + 1, let step = Int(fields[0]) else {
            throw InputError(path, "line \(n): not a log row")
        }
        var values: [Double?] = []
        for field in fields.dropFirst() {
            guard field.isEmpty || Double(field) != nil else { throw InputError(path, "line \(n): not a log row") }
            values.append(Double(field))
        }
        values += Array(repeating: nil, count: columns - values.count)
        guard let record = Record(step: step, values: values) else { throw InputError(path, "line \(n): not a log row") }
        return record
    }

    /// The (step, value) points of the column named `column` (one of `Record.columns`) where it has a value.
    public func series(_ column: String) -> [(step: Int, value: Double)] {
        guard let i = Record.columns.firstIndex(of: column) else { preconditionFailure("no column \(column) in \(Record.columns)") }
        return records.compactMap { r in r.values[i].map { (r.step, $0) } }
    }
}

/// The sync and A2L logs: loss, accuracy, held-out accuracy.
public typealias TrainingLog = MetricsLog<TrainingRecord>
