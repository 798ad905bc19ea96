import ArgumentParser
import Pipelines

/// `cals status --out DIR`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a preprocessed folder: items per stage and state, shards, lip-unit sets, quarantine list.")

    @Option(help: "The output folder of `cals preprocess`.")
    var out: String

    func run() throws {
        print(try StatusReport(outFolder: out).text, terminator: "")
    }
}
