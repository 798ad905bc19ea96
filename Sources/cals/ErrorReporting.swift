import ArgumentParser
import Foundation
import Pipelines

/// Runs a command body; an error (other than an exit code) is printed as the one line
/// `error: <description>` on stderr and ends the command with status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let failure as StageFailure {
        FileHandle.standardError.write("error: \(failure.error)\n".data(using: .utf8)!)
        throw ExitCode(1)
    } catch {
        FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
        throw ExitCode(1)
    }
}
