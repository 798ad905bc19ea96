import ArgumentParser
import Pipelines

/// `cals merge --out DIR PART...`
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the output folders of partitioned runs (--partition i/n) into one.")

    @Option(help: "The merged output folder (created, or extended when it exists).")
    var out: String

    @Argument(help: "Output folders of the partitioned runs.")
    var parts: [String]

    func run() throws {
        let merged = try mergeOutputs(parts, into: out)
        print("merged \(parts.count) folder(s) into \(out): \(merged.items) items, \(merged.shards) shards, "
              + "\(merged.lipUnitShards) lip-unit shards")
    }
}
