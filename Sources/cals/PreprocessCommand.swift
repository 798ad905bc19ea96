import ArgumentParser
import Foundation
import Pipelines

/// What a preprocessing run reads and writes: the manifest, the dataset's root and the output
/// folder (`cals preprocess`, `cals slurm preprocess`).
struct PreprocessDatasetOptions: ParsableArguments {
    @Argument(help: "The manifest, e.g. manifests/hdtf.yaml.")
    var manifest: String

    @Option(help: "The dataset's root folder.")
    var data: String

    @Option(help: "The output folder (ledger.sqlite and shards/).")
    var out: String
}

/// `cals preprocess MANIFEST --data DIR --out DIR [--partition i/n [--partition-plan FILE]] [--lip-units CKPT] [--strict]
///  [--retry-quarantined] [--worker-memory-limit MIB] [--in-process]`
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Turn a dataset into training shards as its manifest declares (incremental).",
        discussion: """
            Re-running processes only new or changed items (or all items of a stage whose \
            parameters changed), into new shard files; unchanged items are skipped without \
            decoding. Bad files are quarantined with their reason (see `cals status`). Each item \
            is processed in a supervised worker process: a crash or a hang quarantines that \
            item, and the run goes on. A fault of the machine (no space, an I/O error, \
            permission denied) stops the run with one line, and quarantines nothing.
            """)

    @OptionGroup var dataset: PreprocessDatasetOptions

    @Option(help: "Process only part i of n (0 ≤ i < n, by item id); use one --out per part, then `cals merge`.")
    var partition: String?

    @Option(help: "With --partition: the plan assigning items to parts (written by `cals slurm preprocess`); items it does not list go by id.")
    var partitionPlan: String?

    @Option(help: "Worker processes (default: the manifest's `workers`).")
    var workers: Int?

    @Option(help: "Add (or replace) the lip_units stage with this sync encoder checkpoint.")
    var lipUnits: String?

    @Flag(help: "Quarantine items with any undecodable packet, and exit non-zero when any item is quarantined.")
    var strict = false

    @Flag(help: "Retry every quarantined item (items that crashed or timed out are retried anyway under a new cals or a higher item_time_limit).")
    var retryQuarantined = false

    @Option(help: "Each worker process's resident-memory limit in MiB; a worker past it is killed and its item quarantined as out of memory (default: none).")
    var workerMemoryLimit: Int?

    @Flag(help: "Process items on threads of this process, without worker processes (the baseline of bench/pipeline.sh; a crash ends the run).")
    var inProcess = false

    func run() throws {
        var manifest = try Manifest.load(dataset.manifest)
        if let workers { manifest.workers = max(1, workers) }
        if strict { manifest.stages[DecodeStage.self].damageLimit.strict = true }
        if let lipUnits {
            var parameters = manifest.stages.lipUnits?.parameters ?? LipUnitsStage.Parameters()
            parameters.checkpoint = lipUnits
            manifest.stages.lipUnits = LipUnitsStage(parameters: parameters)
        }
        var part = try partition.map(Partition.init(parsing:))
        if let partitionPlan {
            guard let partition = part else { throw ValidationError("--partition-plan needs --partition i/n") }
            let plan = try PartitionPlan.load(partitionPlan)
            guard plan.parts == partition.count else {
                throw ValidationError("--partition \(partition) does not match the plan's \(plan.parts) parts (\(partitionPlan))")
            }
            part?.plan = plan.items
        }
        // Test hook (for the Slurm tests only): this partition's run fails at once.
        if let part, ProcessInfo.processInfo.environment["CALS_TEST_FAIL_PARTITION"] == "\(part.index)" {
            throw ValidationError("test hook CALS_TEST_FAIL_PARTITION: partition \(part) fails")
        }
        let runner = Runner(manifest: manifest, dataRoot: dataset.data, outFolder: dataset.out, partition: part)
        runner.retryQuarantined = retryQuarantined
        if let workerMemoryLimit {
            guard (1...(1 << 30)).contains(workerMemoryLimit) else {
                throw ValidationError("--worker-memory-limit: expected MiB between 1 and 2^30, got \(workerMemoryLimit)")
            }
            runner.workerMemoryLimit = workerMemoryLimit << 20
        }
        if !inProcess { runner.workerExecutable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") }
        let summary = try runner.run()
        for line in summary.lines { print(line) }
        if strict && !summary.quarantined.isEmpty { throw ExitCode(2) }
    }
}
