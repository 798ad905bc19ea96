import Common
import Dataset
import Face
import Foundation
import Media

/// What a worker process needs to run `ItemPipeline` as the supervisor would in-process
/// (passed as JSON in the worker's arguments).
public struct WorkerConfiguration: Codable, Sendable {
    /// Each item stage as JSON (`{"name": "face", "stage": {...}}`), in registry order.
    struct StageEntry: Codable, Sendable {
        var name: String
        var stage: Data
    }

    var stageEntries: [StageEntry]
    /// Where item files go (`<out>/shards/.work`).
    public var workFolder: String
    public var timeLimit: Double
    /// The process id of the supervisor: the worker dies with it.
    public var supervisor: Int32

    init(stages: PipelineStages, workFolder: String, timeLimit: Double) throws {
        stageEntries = try stages.all.map { StageEntry(name: type(of: $0).name, stage: try JSONEncoder().encode($0)) }
        self.workFolder = workFolder
        self.timeLimit = timeLimit
        supervisor = getpid()
    }

    /// The item stages, as the supervisor's manifest set them.
    func stages() throws -> PipelineStages {
        guard stageEntries.map(\.name) == PipelineStages.order else {
            throw InputError("worker configuration", "stages \(stageEntries.map(\.name)), this cals has \(PipelineStages.order)")
        }
        var stages = PipelineStages()
        stages.all = try zip(PipelineStages.registry, stageEntries).map { type, entry in try type.decoded(from: entry.stage) }
        return stages
    }
}

/// One request line to a worker: process the item `id` from the file at `path` (only timeline
/// frames `frames`, when given), with the dataset's `metadata` of the item.
struct WorkerRequest: Codable {
    var id: String
    var path: String
    var frames: Range<Int>?
    var metadata: [String: String]
}

/// A worker's one answer line for one item.
struct WorkerAnswer: Codable {
    enum Kind: String, Codable {
        /// The rows are in `file` (an `ItemFile`).
        case done
        /// The item failed in `stage` for `reason` (a one-line input error).
        case failed
        /// Like `failed`, for running past the time limit (a reason that may pass).
        case timedOut
        /// A fault of the machine (`reason`): the supervisor stops the run.
        case environment
        /// An allocation failed (ENOMEM): quarantined as out of memory.
        case outOfMemory
    }
    var kind: Kind
    var file: String?
    var stage: String?
    var reason: String?
}

/// The worker side of supervised processing (`cals worker`): reads one `WorkerRequest` JSON line
/// per item on stdin, runs `ItemPipeline.process` writing the rows to an item file in the work
/// folder, and answers one `WorkerAnswer` JSON line on stdout (after a first line `ready` once
/// the face detector is loaded). Ends at the end of stdin, and is killed (SIGKILL) when its
/// supervisor dies, so that no worker outlives a killed `cals preprocess`.
///
/// Test hooks (for the supervisor's tests; never set them otherwise):
/// - `CALS_TEST_CRASH_ITEM=<id>`: the worker calls abort() when asked for item `<id>`.
/// - `CALS_TEST_HANG_ITEM=<id>`: the worker sleeps for ever when asked for item `<id>`.
/// - `CALS_TEST_HOLD_ITEM=<id>:<file>`: the worker waits until `<file>` exists before it
///   processes item `<id>` (to change the machine under a run at a known point).
/// - `CALS_TEST_ALLOCATE_ITEM=<id>`: the worker fills memory when asked for item `<id>`, until the
///   supervisor's `--worker-memory-limit` kills it (it aborts by itself at 16 GiB).
public enum Worker {
    public static func run(_ configuration: WorkerConfiguration) throws {
        try dieWithSupervisor(configuration.supervisor)
        // Answers go to the original stdout only; anything a library prints goes to stderr.
        let answers = FileHandle(fileDescriptor: dup(1), closeOnDealloc: true)
        dup2(2, 1)
        let pipeline = try ItemPipeline(stages: try configuration.stages(), spoolFolder: configuration.workFolder)
        answers.write(Data("ready\n".utf8))
        let environment = ProcessInfo.processInfo.environment
        let encoder = JSONEncoder()
        var sequence = 0
        while let line = readLine() {
            let request = try JSONDecoder().decode(WorkerRequest.self, from: Data(line.utf8))
            if environment["CALS_TEST_CRASH_ITEM"] == request.id {
                FileHandle.standardError.write(Data("cals worker: test hook CALS_TEST_CRASH_ITEM, aborting on \(request.id)\n".utf8))
                abort()
            }
            if environment["CALS_TEST_HANG_ITEM"] == request.id {
                while true { sleep(3600) }
            }
            if let hold = environment["CALS_TEST_HOLD_ITEM"], hold.hasPrefix(request.id + ":") {
                while access(String(hold.dropFirst(request.id.count + 1)), F_OK) != 0 { usleep(50_000) }
            }
            if environment["CALS_TEST_ALLOCATE_ITEM"] == request.id {
                var blocks: [[UInt8]] = []
                while blocks.count < 1024 {
                    blocks.append([UInt8](repeating: 1, count: 16 << 20))
                    if blocks.count % 16 == 0 {
                        FileHandle.standardError.write(Data("cals worker: test hook allocated \(blocks.count * 16) MiB\n".utf8))
                    }
                }
                FileHandle.standardError.write(Data("cals worker: test hook CALS_TEST_ALLOCATE_ITEM reached 16 GiB, aborting\n".utf8))
                abort()
            }
            let file = (configuration.workFolder as NSString).appendingPathComponent("item-\(getpid())-\(sequence).bin")
            sequence += 1
            let answer = process(request, pipeline, configuration.timeLimit, file)
            if answer.kind != .done { unlink(file) }
            answers.write(try encoder.encode(answer) + Data("\n".utf8))
        }
    }

    private static func process(_ request: WorkerRequest, _ pipeline: ItemPipeline, _ timeLimit: Double,
                                _ file: String) -> WorkerAnswer {
        do {
            try ItemFile.finish(try pipeline.process(request.path, frames: request.frames, metadata: request.metadata,
                                                   timeLimit: timeLimit, spoolPath: file))
            return WorkerAnswer(kind: .done, file: file)
        } catch {
            guard case .failed(let stage, let reason, let cause) = ItemOutcome(failure: error) else {
                return WorkerAnswer(kind: .environment, reason: ItemOutcome.oneLine(error))
            }
            let kinds: [QuarantineCause: WorkerAnswer.Kind] = [.timedOut: .timedOut, .outOfMemory: .outOfMemory]
            return WorkerAnswer(kind: kinds[cause] ?? .failed, stage: stage, reason: reason)
        }
    }

    /// Asks the kernel to SIGKILL this process when the thread that spawned it ends
    /// (PR_SET_PDEATHSIG); exits at once if the supervisor is already gone.
    private static func dieWithSupervisor(_ supervisor: Int32) throws {
        // prctl is variadic in C, which Swift does not import: called through its address with
        // the five long arguments of the system call.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else {
            throw EnvironmentError("prctl", code: ENOENT)
        }
        let prSetPdeathsig: Int32 = 1
        guard unsafeBitCast(address, to: Prctl.self)(prSetPdeathsig, UInt(SIGKILL), 0, 0, 0) == 0 else {
            throw EnvironmentError.fromErrno("prctl", "cannot set the parent death signal")
        }
        if getppid() != supervisor { exit(1) }
    }
}
