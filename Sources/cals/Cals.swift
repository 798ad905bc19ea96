import ArgumentParser
import Foundation
import Tensor

@main
struct Cals: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cals",
        abstract: "Context-Aware Lip-Sync: preprocess talking-face video into shards, train, evaluate.",
        version: "0.1.0",
        subcommands: [ExtractCommand.self, PreprocessCommand.self, StatusCommand.self, MergeCommand.self, SlurmCommand.self,
                      DemoCorpusCommand.self, TrainCommand.self, SyncScoreCommand.self, EvalCommand.self,
                      ExperimentCommand.self, BenchCommand.self, DubCommand.self, HDTFCommand.self,
                      DemoReportCommand.self, FacesCommand.self,
                      WorkerCommand.self])

    /// Parses and runs a command; every error of every command is reported here. Misuse (an
    /// unknown or malformed flag, a failed `validate()`) prints the error and the command's usage
    /// and exits 64; an error of the run prints the one line `error: <description>` and exits 1
    /// (an `ExitCode` a command throws is its status). An `EngineCommand` runs inside its engine
    /// settings.
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if let engineCommand = command as? EngineCommand {
                try Engine.withSettings(engineCommand.engineSettings) { try command.run() }
            } else {
                try command.run()
            }
        } catch let status as ExitCode { exit(withError: status) } catch {
            // ArgumentParser's own outcomes keep its output and exit codes: `cals X --help` parses
            // into a help command whose run throws "help requested" (exit 0), misuse exits 64.
            guard exitCode(for: error) == .failure else { exit(withError: error) }
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(withError: ExitCode.failure)
        }
    }
}

/// A command that runs the tensor engine with the settings its flags give (threads).
protocol EngineCommand: ParsableCommand {
    var engineSettings: EngineSettings { get }
}

/// A comma-separated flag value (`--held-out s1,s2`, `--widths 16,32,64,128,128`), split and
/// converted once, when the flag is parsed; an empty or unconvertible element is a usage error.
struct CommaList<Element: LosslessStringConvertible>: ExpressibleByArgument, CustomStringConvertible {
    let values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let converted = parts.compactMap { $0.isEmpty ? nil : Element(String($0)) }
        guard converted.count == parts.count else { return nil }
        values = converted
    }

    var description: String { values.map { "\($0)" }.joined(separator: ",") }
    var defaultValueDescription: String { description }
}

extension CommaList where Element == String {
    /// The names listed, or nil for the one word "all" (every speaker).
    var namesOrAll: [String]? { values == ["all"] ? nil : values }
}

/// `--split`: which clips a command reads.
enum SplitChoice: String, CaseIterable, ExpressibleByArgument {
    case train, val, test, all
}
