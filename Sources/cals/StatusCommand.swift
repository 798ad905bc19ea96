import ArgumentParser
import Foundation
import Pipelines

/// `cals status --out DIR [--item ID]`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a preprocessed folder: items per stage and state, shards, lip-unit sets, quarantine list.")

    @Option(help: "The output folder of `cals preprocess`.")
    var out: String

    @Option(help: "Show one item: its record, rows and metadata (transcript, tags, word timings).")
    var item: String?

    func run() throws {
        if let item {
            print(try StatusReport(outFolder: out, item: item).text, terminator: "")
            return
        }
        let parts = try partsProgress(outFolder: out)
        // A folder being filled by `cals slurm preprocess` has no merged ledger until its merge job ran.
        if parts == nil || FileManager.default.fileExists(atPath: out + "/ledger.sqlite") {
            print(try StatusReport(outFolder: out).text, terminator: "")
        }
        for line in parts ?? [] { print(line) }
    }
}
