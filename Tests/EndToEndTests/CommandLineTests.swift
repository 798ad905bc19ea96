import XCTest
import TestSupport

/// The command line's two kinds of failure, through the real binary: misuse (a bad flag value,
/// a failed `validate()`) prints the error and the command's usage and exits 64 before any
/// work; an error of the run prints one line `error: …` and exits 1.
final class CommandLineTests: XCTestCase {
    let scratch = ScratchDir("e2e-cli")

    func testMisuseExits64WithTheUsage() throws {
        let data = scratch.path("no-data"), out = scratch.path("run")
        let misuses: [(arguments: [String], says: String, usage: String)] = [
            (["train", "sync", "--data", data, "--out", out, "--batch", "0"], "--batch", "cals train sync"),
            (["train", "sync", "--data", data, "--out", out, "--exclude-near", "6"], "--exclude-near", "cals train sync"),
            (["train", "sync", "--data", data, "--out", out, "--resume", "--fresh"], "--resume and --fresh", "cals train sync"),
            (["train", "sync", "--data", data, "--out", out, "--held-out", "a,,b"], "--held-out", "cals train sync"),
            (["train", "a2l", "--data", data, "--out", out, "--dim", "100", "--heads", "8"], "divisible", "cals train a2l"),
            (["train", "l2f", "--data", data, "--out", out, "--sync", out, "--widths", "16,32,x,128,128"], "--widths", "cals train l2f"),
            (["train", "l2f", "--data", data, "--out", out, "--sync", out, "--widths", "16,32"], "5 positive numbers", "cals train l2f"),
            (["eval", "a2l", "--checkpoint", out, "--data", data, "--split", "holdout"], "--split", "cals eval a2l"),
            (["experiment", "context", "--checkpoint", out, "--data", data, "--gap", "0"], "--gap", "cals experiment context"),
            (["dub", data, "--audio", data, "--l2f", out, "--out", out, "--batch", "0"], "--batch", "cals dub"),
            (["bench", "shards", "append", out], "append", "cals bench shards"),
        ]
        for misuse in misuses {
            let result = try TestSupport.run(TestEnv.calsBinary, misuse.arguments)
            let command = misuse.arguments.joined(separator: " ")
            XCTAssertEqual(result.status, 64, "\(command): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(misuse.says), "\(command): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("Usage: \(misuse.usage)"), "\(command): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(command) must fail before any work")
        }
    }

    func testRunErrorIsOneLineAndExits1() throws {
        let missing = scratch.path("missing")
        let result = try TestSupport.run(TestEnv.calsBinary, ["status", "--out", missing])
        XCTAssertEqual(result.status, 1, result.stderr)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, result.stderr)
        XCTAssertTrue(result.stderr.contains(missing), result.stderr)
        XCTAssertFalse(result.stderr.contains("Usage:"), result.stderr)
    }

    /// `--help` on a command (and `cals help COMMAND`) prints that command's help and exits 0.
    func testHelpPrintsTheOverviewAndExits0() throws {
        for arguments in [["preprocess", "--help"], ["train", "sync", "--help"], ["help", "dub"]] {
            let result = try TestSupport.run(TestEnv.calsBinary, arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            XCTAssertTrue((result.stdout + result.stderr).contains("OVERVIEW:"), "\(arguments): \(result.stdout)\(result.stderr)")
            XCTAssertFalse(result.stderr.contains("error:"), "\(arguments): \(result.stderr)")
        }
    }
}
