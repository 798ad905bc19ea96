import Corpus
import Foundation
import TestSupport
import XCTest

/// Byte-flip fuzzing of `cals extract`: seeded, reproducible mutants of an MP4, a Matroska and an
/// AVI file, each run as its own process. Every run must end with exit 0, or a non-zero exit
/// and exactly one `error: <file>: <reason>` line: never a signal (trap, abort, segfault) nor a
/// hang (killed after 60 s). Runs for CALS_FUZZ_SECONDS (default 100) from seed CALS_FUZZ_SEED
/// (default 1); mutant i uses seed CALS_FUZZ_SEED + i, and a failure names it.
final class MediaFuzzTests: XCTestCase {
    func testMutantsEndInSuccessOrOneErrorLine() throws {
        let environment = ProcessInfo.processInfo.environment
        let budget = Double(environment["CALS_FUZZ_SECONDS"] ?? "") ?? 100
        let firstSeed = UInt64(environment["CALS_FUZZ_SEED"] ?? "") ?? 1
        let scratch = ScratchDir("media-fuzz")
        let mp4 = scratch.path("seed.mp4"), mkv = scratch.path("seed.mkv"), avi = scratch.path("seed.avi")
        try TestMedia.faceClip(mp4, seconds: 1.5)
        try ffmpeg(["-i", mp4, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-c:a", "libvorbis", mkv])
        try ffmpeg(["-i", mp4, "-c:v", "mpeg4", "-c:a", "ac3", avi])
        let seeds = try [mp4, mkv, avi].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        let start = Date()
        var runs = 0, outcomes: [String: Int] = [:]
        while Date().timeIntervalSince(start) < budget {
            let seed = firstSeed + UInt64(runs)
            let original = [mp4, mkv, avi][runs % 3]
            let mutant = scratch.path("mutant-\(seed)." + URL(fileURLWithPath: original).pathExtension)
            try MediaFuzzTests.mutate(seeds[runs % 3], seed: seed).write(to: URL(fileURLWithPath: mutant))
            let out = mutant + ".h5"
            // timeout(1) exits 124 when it had to kill the run, 128+N when the run died of signal N.
            let result = try TestSupport.run("timeout", ["-s", "KILL", "60", TestEnv.calsBinary, "extract", mutant,
                                                         "--out", out, "--time-limit", "30"])
            let lines = result.stderr.split(separator: "\n")
            let what = "mutant \(seed) of \(URL(fileURLWithPath: original).lastPathComponent) (CALS_FUZZ_SEED=\(seed))"
            XCTAssertNotEqual(result.status, 124, "\(what): hung")
            XCTAssertLessThan(result.status, 124, "\(what): exit \(result.status): \(result.stderr.suffix(2000))")
            if result.status != 0 {
                XCTAssertEqual(lines.count, 1, "\(what): \(result.stderr.suffix(2000))")
                XCTAssertTrue(lines.first?.hasPrefix("error: \(mutant): ") ?? false, "\(what): \(result.stderr.suffix(2000))")
            }
            outcomes[result.status == 0 ? "processed" : "error: " + (lines.first.map { String($0.dropFirst("error: \(mutant): ".count)).prefix(30) } ?? ""), default: 0] += 1
            try? FileManager.default.removeItem(atPath: mutant)
            try? FileManager.default.removeItem(atPath: out)
            runs += 1
        }
        XCTAssertGreaterThanOrEqual(runs, 3, "one mutant of each file at least")
        print("media fuzz: \(runs) mutants in \(Int(Date().timeIntervalSince(start))) s: "
              + outcomes.sorted { $0.value > $1.value }.map { "\($0.value)× \($0.key)" }.joined(separator: ", "))
    }

    /// `data` with 1-16 random bytes replaced, and in every fourth mutant also a run of up to 256
    /// random bytes (the container's headers are fair game too).
    static func mutate(_ data: Data, seed: UInt64) -> Data {
        var random = SeededGenerator(seed: seed)
        var bytes = [UInt8](data)
        for _ in 0..<Int.random(in: 1...16, using: &random) {
            bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        }
        if seed % 4 == 0 {
            let start = Int.random(in: 0..<bytes.count, using: &random)
            for i in start..<min(bytes.count, start + Int.random(in: 1...256, using: &random)) {
                bytes[i] = UInt8.random(in: 0...255, using: &random)
            }
        }
        return Data(bytes)
    }
}
