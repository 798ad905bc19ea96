import ArgumentParser
import Foundation
import Pipelines

/// `cals worker --configuration JSON`: hidden; `cals preprocess` runs its items in these
/// supervised processes (protocol and test hooks in Pipelines/Worker.swift).
///
/// Test hooks (environment variables, for the supervisor's tests only):
/// - `CALS_TEST_CRASH_ITEM=<id>` makes the worker abort() on item `<id>`;
/// - `CALS_TEST_HANG_ITEM=<id>` makes it sleep for ever on item `<id>`;
/// - `CALS_TEST_HOLD_ITEM=<id>:<file>` makes it wait on item `<id>` until `<file>` exists;
/// - `CALS_TEST_ALLOCATE_ITEM=<id>` makes it allocate on item `<id>` until an allocation fails.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Process items sent by `cals preprocess` over stdin (internal).",
        shouldDisplay: false)

    @Option(help: "The worker configuration (JSON, written by `cals preprocess`).")
    var configuration: String

    func run() throws {
        try Worker.run(try JSONDecoder().decode(WorkerConfiguration.self, from: Data(configuration.utf8)))
    }
}
