import ArgumentParser
import Foundation
import Tensor

/// `cals bench …`: engine speed on the CALS models (see bench/engine.sh for the comparison with
/// PyTorch). Times are medians over the timed steps, after warm-up.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: engine steps, media floor, mel, shards (bench/*.sh compare them with Python).",
        subcommands: [A2LStep.self, ConvBlockStep.self, GemmPeak.self, SyncStep.self, A2LFeed.self,
                      L2FBenchStep.self, FloorBench.self, MelBenchCommand.self, ShardBenchCommand.self,
                      LandmarkBenchCommand.self, DataParallelStep.self])

    struct Options: ParsableArguments {
        @Option(help: "Batch size.") var batch = 16
        @Option(help: "Threads for the engine's loops and GEMM splits.") var threads = 2
        @Option(help: "OpenBLAS's own threads (1: the engine splits GEMMs itself).") var blasThreads = 1
        @Option(help: "Timed steps (the median is reported).") var steps = 10
        @Option(help: "Untimed warm-up steps.") var warmup = 2
        @Flag(help: "Print one JSON object.") var json = false
    }

    /// Times `step` and prints the median (and extra fields) as text or JSON (unless not
    /// `printing`: the other ranks of an MPI run). `step` may return the milliseconds of its
    /// phases (e.g. "forward_ms"); their medians are printed too.
    static func report(_ options: Options, extra: [String: Double] = [:], printing: Bool = true, _ step: () -> [String: Double]) {
        let times = Engine.withSettings(EngineSettings(threads: options.threads, blasThreads: options.blasThreads)) {
            time(options, step)
        }
        var fields = extra
        for (key, values) in times { fields[key] = values.sorted()[values.count / 2] }
        fields["peak_rss_mb"] = peakResidentMegabytes()
        if let flops = extra["gflop_per_step"] { fields["gflops"] = flops / (fields["ms_per_step"]! / 1000) }
        if let samples = extra["samples_per_step"] { fields["samples_per_s"] = samples / (fields["ms_per_step"]! / 1000) }
        guard printing else { return }
        if options.json {
            let body = fields.keys.sorted().map { "\"\($0)\": \(String(format: "%.3f", fields[$0]!))" }
            print("{" + body.joined(separator: ", ") + "}")
        } else {
            for key in fields.keys.sorted() { print("\(key): \(String(format: "%.3f", fields[key]!))") }
        }
    }

    /// Runs the warm-up steps, then the timed ones; returns each measurement's values.
    static func time(_ options: Options, _ step: () -> [String: Double]) -> [String: [Double]] {
        for _ in 0..<options.warmup { _ = step() }
        var times: [String: [Double]] = [:]
        for _ in 0..<max(options.steps, 1) {
            let (start, cpuStart) = (milliseconds(), cpuMilliseconds())
            let phases = step()
            times["ms_per_step", default: []].append(milliseconds() - start)
            times["cpu_ms_per_step", default: []].append(cpuMilliseconds() - cpuStart)
            for (key, ms) in phases { times[key, default: []].append(ms) }
        }
        return times
    }

    static func milliseconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

    /// User + system CPU time of the process (all threads): less sensitive than wall time to
    /// other jobs on a shared machine, though it counts OpenBLAS's spinning threads too.
    /// Process CPU time of all threads (CLOCK_PROCESS_CPUTIME_ID: exact, where getrusage counts
    /// in scheduler ticks, too coarse for a 3 ms measurement).
    static func cpuMilliseconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
    }

    /// Runs the phases in order and returns each one's milliseconds, keyed "<name>_ms".
    static func timePhases(_ phases: [(String, () -> Void)]) -> [String: Double] {
        var result: [String: Double] = [:]
        for (name, body) in phases {
            let start = milliseconds()
            body()
            result[name + "_ms"] = milliseconds() - start
        }
        return result
    }

    /// VmHWM from /proc/self/status (peak resident set), in MB.
    static func peakResidentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
