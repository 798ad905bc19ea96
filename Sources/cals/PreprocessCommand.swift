import ArgumentParser
import Foundation
import Pipelines

/// `cals preprocess MANIFEST --data DIR --out DIR [--partition i/n] [--lip-units CKPT] [--strict]`
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Turn a dataset into training shards as its manifest declares (incremental).",
        discussion: """
            Re-running processes only new or changed items (or all items of a stage whose \
            parameters changed), into new shard files; unchanged items are skipped without \
            decoding. Bad files are quarantined with their reason (see `cals status`).
            """)

    @Argument(help: "The manifest, e.g. manifests/hdtf.yaml.")
    var manifest: String

    @Option(help: "The dataset's root folder.")
    var data: String

    @Option(help: "The output folder (ledger.sqlite and shards/).")
    var out: String

    @Option(help: "Process only part i of n (0 ≤ i < n, by item id); use one --out per part, then `cals merge`.")
    var partition: String?

    @Option(help: "Worker threads (default: the manifest's `workers`).")
    var workers: Int?

    @Option(help: "Add (or replace) the lip_units stage with this sync encoder checkpoint.")
    var lipUnits: String?

    @Flag(help: "Exit non-zero when any item is quarantined.")
    var strict = false

    func run() throws {
        try reportingErrors {
            var manifest = try Manifest.load(self.manifest)
            if let workers { manifest.workers = max(1, workers) }
            if let lipUnits {
                var parameters = manifest.stages.lipUnits?.parameters ?? LipUnitsStage.Parameters()
                parameters.checkpoint = lipUnits
                manifest.stages.lipUnits = LipUnitsStage(parameters: parameters)
            }
            let runner = Runner(manifest: manifest, dataRoot: data, outFolder: out,
                                partition: try partition.map(Partition.init(parsing:)))
            let summary = try runner.run()
            for line in summary.lines { print(line) }
            if strict && !summary.quarantined.isEmpty { throw ExitCode(2) }
        }
    }
}
