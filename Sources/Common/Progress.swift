import Foundation

/// Reports progress of long work: a live line with rate and ETA on a terminal, plain log lines
/// (at most one every `logInterval` seconds) otherwise. Thread-safe.
/// @unchecked Sendable: `total`, `done` and `lastPrint` change only while holding `lock`.
public final class Progress: @unchecked Sendable {
    public let label: String
    public let unit: String
    public private(set) var total: Int
    public private(set) var done = 0

    private let lock = NSLock()
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let isTerminal: Bool
    private let logInterval: TimeInterval
    private let output: FileHandle

    public init(label: String, total: Int, unit: String = "items",
                output: FileHandle = .standardError, logInterval: TimeInterval = 10) {
        self.label = label
        self.total = total
        self.unit = unit
        self.output = output
        self.logInterval = logInterval
        self.isTerminal = isatty(output.fileDescriptor) != 0
    }

    /// Changes the expected total (for example when the work list grows while running).
    public func setTotal(_ newTotal: Int) {
        lock.lock(); total = newTotal; lock.unlock()
    }

    public func advance(by count: Int = 1, note: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        done += count
        let now = Date()
        let interval = isTerminal ? 0.2 : logInterval
        if now.timeIntervalSince(lastPrint) >= interval || done == total {
            lastPrint = now
            emit(line(now: now, note: note))
        }
    }

    /// Prints a message without breaking the live line.
    public func log(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        if isTerminal { emit("\r\u{1B}[K" + message + "\n", raw: true) } else { emit(message) }
    }

    /// Ends the live line and prints the final count and elapsed time.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        emit(line(now: Date(), note: "done"))
        if isTerminal { emit("\n", raw: true) }
    }

    /// `label: 12/40 items  3.1 items/s  ETA 0:09`
    private func line(now: Date, note: String?) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        var text = "\(label): \(done)/\(total) \(unit)  \(String(format: "%.1f", rate)) \(unit)/s"
        if total > done, rate > 0 {
            text += "  ETA \(Progress.clock(Double(total - done) / rate))"
        } else {
            text += "  \(Progress.clock(elapsed))"
        }
        if let note { text += "  \(note)" }
        return text
    }

    private func emit(_ text: String, raw: Bool = false) {
        let out = raw ? text : (isTerminal ? "\r\u{1B}[K" + text : text + "\n")
        output.write(out.data(using: .utf8)!)
    }

    /// Seconds as `h:mm:ss` or `m:ss`.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
