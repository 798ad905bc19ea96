import Common
import Foundation

/// What became of one item.
enum ItemOutcome {
    /// Its rows (`itemFile`: the worker's file they are read from, to delete once appended).
    case done(ItemOutput, itemFile: String?)
    /// Quarantine it: the stage, the one-line reason, whether the reason may pass.
    case failed(stage: String, reason: String, cause: QuarantineCause)
    /// A fault of the machine: stop the run.
    case environment(Error)

    /// The outcome of an item whose processing threw `error`, the same in a worker process and
    /// in-process: a fault of the machine stops the run, except a failed allocation, which
    /// quarantines the item as out of memory; a stage's error quarantines the item in that
    /// stage (as timed out past the time limit); any other error, in the decode stage. Reasons
    /// are one line.
    init(failure error: Error) {
        let oneLine = ItemOutcome.oneLine
        switch error {
        case let error as EnvironmentError where error.code == ENOMEM:
            self = .failed(stage: DecodeStage.name, reason: oneLine(error), cause: .outOfMemory)
        case let error as EnvironmentError:
            self = .environment(error)
        case let failure as StageFailure:
            self = .failed(stage: failure.stage, reason: oneLine(failure.error),
                           cause: failure.error is TimeLimitExceeded ? .timedOut : .input)
        default:
            self = .failed(stage: DecodeStage.name, reason: oneLine(error), cause: .input)
        }
    }

    /// `error`'s description on one line (a reason in the ledger, a worker's answer line).
    static func oneLine(_ error: Error) -> String { "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ") }
}

/// Processes items one at a time, one per run slot: `begin` an item, then `finish` it. A worker
/// process starts on the item at `begin`, so the runner begins the next item before it appends
/// the last one's rows to the shard.
protocol ItemProcessor: AnyObject {
    func begin(_ item: SourceItem, path: String)
    func finish() -> ItemOutcome
    func stop()
}

/// Items processed on the calling thread (`cals preprocess --in-process`, and tests of the
/// runner without the binary): the time limit is only checked between frames, and a crash
/// ends the run.
final class InProcessItems: ItemProcessor {
    let pipeline: ItemPipeline
    let timeLimit: Double
    private var path = ""
    private var item: SourceItem?

    init(stages: PipelineStages, spoolFolder: String, timeLimit: Double) throws {
        pipeline = try ItemPipeline(stages: stages, spoolFolder: spoolFolder)
        self.timeLimit = timeLimit
    }

    func begin(_ item: SourceItem, path: String) { (self.path, self.item) = (path, item) }

    func finish() -> ItemOutcome {
        do {
            return .done(try pipeline.process(path, frames: item?.frames, metadata: item?.metadata ?? [:], timeLimit: timeLimit),
                         itemFile: nil)
        } catch {
            return ItemOutcome(failure: error)
        }
    }

    func stop() {}
}

/// One supervised worker process (`cals worker`): spawned on first use and again after it dies,
/// fed one request line per item over a pipe. A worker that dies on a signal quarantines its
/// item as crashed (with its last line on stderr), or as out of memory when its stderr says an
/// allocation failed; one whose resident memory passes `memoryLimit` (`--worker-memory-limit`,
/// read from /proc every `memoryCheckInterval`) is killed (SIGKILL) and its item quarantined as
/// out of memory; one that runs past the time limit plus `grace` is killed and its item
/// quarantined as timed out; one killed by SIGKILL that we did not send (the kernel's
/// out-of-memory killer) stops the run as a fault of the machine.
///
/// The limit is on resident memory, watched from outside, not an address-space rlimit inside the
/// worker: libraries reserve far more address space than they touch (OpenBLAS maps a 128 MiB
/// buffer per calling thread, glibc 64 MiB per thread arena), and OpenBLAS retries a failed
/// buffer mapping for ever, so under RLIMIT_AS an ordinary item spun until its time limit.
final class WorkerProcess: ItemProcessor {
    static let grace = 2.0
    /// How long a new worker may take to load its models and say `ready`.
    static let startLimit = 120.0
    /// How often a worker's resident memory is compared with `memoryLimit`.
    static let memoryCheckInterval = 0.1

    let executable: String
    let configuration: WorkerConfiguration
    /// The worker's resident-memory limit in bytes (`--worker-memory-limit`; nil: none).
    let memoryLimit: Int?
    /// The worker's stderr, kept for its last line.
    let logPath: String
    private var pid: pid_t = 0
    private var requests: Int32 = -1
    private var answers: Int32 = -1
    private var pending: [UInt8] = []
    /// The item begun: its path and when the worker started on it, or why it could not be sent.
    private var path = ""
    private var sent = Date()
    private var sendFailure: Error?

    init(executable: String, configuration: WorkerConfiguration, memoryLimit: Int?, slot: Int) {
        self.executable = executable
        self.configuration = configuration
        self.memoryLimit = memoryLimit
        logPath = (configuration.workFolder as NSString).appendingPathComponent("worker-\(slot).log")
    }

    /// Sends the item to the worker (starting one if none runs), which starts on it at once.
    func begin(_ item: SourceItem, path: String) {
        self.path = path
        sendFailure = nil
        do {
            if pid == 0 { try start() }
            let request = WorkerRequest(id: item.id, path: path, frames: item.frames, metadata: item.metadata)
            try send(try JSONEncoder().encode(request) + Data("\n".utf8))
            sent = Date()
        } catch {
            stop()
            sendFailure = error
        }
    }

    /// Waits for the worker's answer for the item begun, at most its time limit plus `grace`.
    func finish() -> ItemOutcome {
        if let sendFailure { return .environment(sendFailure) }
        let limit = configuration.timeLimit
        switch readLine(deadline: sent.addingTimeInterval(limit + Self.grace)) {
        case .line(let text):
            guard let answer = try? JSONDecoder().decode(WorkerAnswer.self, from: Data(text.utf8)) else {
                stop()
                return .environment(InputError(executable, "worker answered '\(text)', not an answer"))
            }
            return outcome(answer)
        case .timedOut:
            kill(pid, SIGKILL)
            _ = reap()
            return .failed(stage: DecodeStage.name, reason: "\(path): timed out after \(Int(limit)) s", cause: .timedOut)
        case .overMemory(let resident):
            kill(pid, SIGKILL)
            _ = reap()
            return .failed(stage: DecodeStage.name, reason: "\(path): \(outOfMemory): resident memory reached \(resident >> 20) MiB",
                           cause: .outOfMemory)
        case .ended:
            let status = reap()
            let words = lastLogLine().map { "; last line on stderr: \($0)" } ?? ""
            if let failure = allocationFailure() {
                return .failed(stage: DecodeStage.name, reason: "\(path): \(outOfMemory): \(failure)", cause: .outOfMemory)
            }
            if status.signal == SIGKILL {
                return .environment(EnvironmentError("\(path): the worker process was killed by SIGKILL, "
                                                     + "most likely by the system for lack of memory\(words)", code: ENOMEM))
            }
            let how = status.signal.map { "signal \($0) (\(signalName($0)))" } ?? "exit status \(status.exit)"
            return .failed(stage: DecodeStage.name, reason: "\(path): crashed: \(how)\(words)", cause: .crashed)
        }
    }

    private func outcome(_ answer: WorkerAnswer) -> ItemOutcome {
        let reason = answer.reason ?? "?"
        switch answer.kind {
        case .done:
            guard let file = answer.file else { return .environment(InputError(executable, "worker answered done without a file")) }
            do {
                return .done(try ItemFile.read(file), itemFile: file)
            } catch {
                unlink(file)
                return .environment(error)
            }
        case .failed: return .failed(stage: answer.stage ?? DecodeStage.name, reason: reason, cause: .input)
        case .timedOut: return .failed(stage: answer.stage ?? DecodeStage.name, reason: reason, cause: .timedOut)
        case .environment: return .environment(WorkerEnvironmentError(description: reason))
        case .outOfMemory:
            return .failed(stage: answer.stage ?? DecodeStage.name, reason: "\(outOfMemory): \(reason)", cause: .outOfMemory)
        }
    }

    /// The words an item over the worker's memory limit is quarantined with.
    private var outOfMemory: String {
        "out of memory" + (memoryLimit.map { " (worker memory limit \($0 >> 20) MiB)" } ?? "")
    }

    /// What the worker said on stderr when an allocation failed (Swift's runtime, C++'s
    /// bad_alloc, a C library's ENOMEM), or nil.
    private func allocationFailure() -> String? {
        let markers = ["failed to allocate", "std::bad_alloc", "Cannot allocate memory", "out of memory"]
        return logTail().split(whereSeparator: \.isNewline).last { line in markers.contains { line.contains($0) } }
            .map(String.init)
    }

    /// Held from making a worker's pipes to spawning it, so that no other worker inherits them
    /// (a worker holding another's pipe would hide that one's death).
    private static let spawnLock = NSLock()

    /// A pipe whose ends are closed on exec.
    private func makePipe() throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw EnvironmentError.fromErrno(executable, "cannot make a pipe") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Spawns the worker with its stdin and stdout on pipes and stderr on `logPath`, and waits
    /// for its `ready`.
    private func start() throws {
        Self.spawnLock.lock()
        var locked = true
        defer { if locked { Self.spawnLock.unlock() } }
        let toChild = try makePipe()
        let fromChild: [Int32]
        do { fromChild = try makePipe() } catch {
            close(toChild[0]); close(toChild[1])
            throw error
        }
        defer { close(toChild[0]); close(fromChild[1]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let json = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
        let arguments = [executable, "worker", "--configuration", json]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // Swift's crash backtracer off: the crash's own message stays the log's last line.
        var environment: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment
            .filter { $0.key != "SWIFT_BACKTRACE" }.map { strdup("\($0.key)=\($0.value)") }
            + [strdup("SWIFT_BACKTRACE=enable=no"), nil]
        defer { for p in environment { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, nil, &argv, &environment)
        guard status == 0 else {
            close(toChild[1]); close(fromChild[0])
            errno = status
            throw EnvironmentError.fromErrno(executable, "cannot start a worker process")
        }
        (pid, requests, answers, pending) = (child, toChild[1], fromChild[0], [])
        Self.spawnLock.unlock()
        locked = false
        switch readLine(deadline: Date().addingTimeInterval(Self.startLimit)) {
        case .line("ready"): return
        case .line(let other):
            stop()
            throw InputError(executable, "worker said '\(other)' instead of ready")
        case .overMemory(let resident):
            kill(pid, SIGKILL)
            _ = reap()
            throw InputError(executable, "worker did not start: its resident memory reached \(resident >> 20) MiB, "
                             + "past --worker-memory-limit")
        case .timedOut, .ended:
            kill(pid, SIGKILL)
            _ = reap()
            throw InputError(executable, "worker did not start" + (lastLogLine().map { ": \($0)" } ?? ""))
        }
    }

    private func send(_ data: Data) throws {
        try data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(requests, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw EnvironmentError.fromErrno(executable, "cannot write to the worker process") }
                done += n
            }
        }
    }

    private enum Read { case line(String), timedOut, ended, overMemory(Int) }

    /// The next line from the worker, waiting until `deadline` at most; under a memory limit, its
    /// resident memory is checked every `memoryCheckInterval` meanwhile.
    private func readLine(deadline: Date) -> Read {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return .line(line)
            }
            if let memoryLimit, let resident = residentBytes(of: pid), resident > memoryLimit {
                return .overMemory(resident)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return .timedOut }
            let wait = memoryLimit == nil ? 60 : Self.memoryCheckInterval
            var poller = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, wait) * 1000 + 1))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(answers, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .ended }
            pending += buffer[..<n]
        }
    }

    /// Waits for the worker to end and forgets it; gives how it ended.
    private func reap() -> (signal: Int32?, exit: Int32) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(requests)
        close(answers)
        (pid, requests, answers, pending) = (0, -1, -1, [])
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS (macros, not imported into Swift).
        let signal = status & 0x7f
        return (signal != 0 && signal != 0x7f ? signal : nil, (status >> 8) & 0xff)
    }

    /// Ends a running worker: end of stdin, then it exits.
    func stop() {
        guard pid != 0 else { return }
        close(requests)
        requests = -1
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(answers)
        (pid, answers, pending) = (0, -1, [])
    }

    /// The last non-empty line the worker wrote on stderr.
    private func lastLogLine() -> String? {
        logTail().split(whereSeparator: \.isNewline).last.map(String.init)
    }

    /// The last 4 KiB the worker wrote on stderr.
    private func logTail() -> String {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }
}

/// The resident memory of process `pid` in bytes (/proc/PID/statm), or nil once it is gone.
func residentBytes(of pid: pid_t) -> Int? {
    guard let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * sysconf(Int32(_SC_PAGESIZE))
}

/// A fault of the machine met by a worker, in its words (it names the cause and the path).
struct WorkerEnvironmentError: Error, CustomStringConvertible {
    let description: String
}

/// `SIGABRT` for 6, and so on for the signals a crash gives.
func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [SIGABRT: "SIGABRT", SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
                                  SIGFPE: "SIGFPE", SIGTRAP: "SIGTRAP", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM",
                                  SIGPIPE: "SIGPIPE", SIGSYS: "SIGSYS"]
    return names[signal] ?? "signal \(signal)"
}
