import ArgumentParser
import Common
import Foundation

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do { try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw InputError(path, "cannot write: \(error.localizedDescription)")
    }
}

/// `cals eval …`
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate trained CALS models.",
                                                    subcommands: [EvalSync.self, EvalA2L.self, EvalL2F.self])
}
