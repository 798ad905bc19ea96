import ArgumentParser
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
        let report = try item.map { try StatusReport(outFolder: out, item: $0) } ?? StatusReport(outFolder: out)
        print(report.text, terminator: "")
    }
}
