import ArgumentParser
import Foundation
import Models
import NN
import Tensor

/// `cals bench …`: engine speed on the CALS models (see bench/engine.sh for the comparison with
/// PyTorch). Times are medians over the timed steps, after warm-up.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: engine steps, media floor, mel, shards (bench/*.sh compare them with Python).",
        subcommands: [A2LStep.self, ConvBlockStep.self, GemmPeak.self, SyncStep.self, A2LFeed.self,
                      L2FBenchStep.self, FloorBench.self, MelBenchCommand.self, ShardBenchCommand.self,
                      LandmarkBenchCommand.self])

    struct Options: ParsableArguments {
        @Option(help: "Batch size.") var batch = 16
        @Option(help: "Threads for the engine's loops and GEMM splits.") var threads = 2
        @Option(help: "OpenBLAS's own threads (1: the engine splits GEMMs itself).") var blasThreads = 1
        @Option(help: "Timed steps (the median is reported).") var steps = 10
        @Option(help: "Untimed warm-up steps.") var warmup = 2
        @Flag(help: "Print one JSON object.") var json = false
    }

    /// Times `step` and prints the median (and extra fields) as text or JSON. `step` may return
    /// the milliseconds of its phases (e.g. "forward_ms"); their medians are printed too.
    static func report(_ options: Options, extra: [String: Double] = [:], _ step: () -> [String: Double]) {
        Engine.setThreads(options.threads, blasThreads: options.blasThreads)
        for _ in 0..<options.warmup { _ = step() }
        var times: [String: [Double]] = [:]
        for _ in 0..<max(options.steps, 1) {
            let (start, cpuStart) = (milliseconds(), cpuMilliseconds())
            let phases = step()
            times["ms_per_step", default: []].append(milliseconds() - start)
            times["cpu_ms_per_step", default: []].append(cpuMilliseconds() - cpuStart)
            for (key, ms) in phases { times[key, default: []].append(ms) }
        }
        var fields = extra
        for (key, values) in times { fields[key] = values.sorted()[values.count / 2] }
        fields["peak_rss_mb"] = peakResidentMegabytes()
        if let flops = extra["gflop_per_step"] { fields["gflops"] = flops / (fields["ms_per_step"]! / 1000) }
        if options.json {
            let body = fields.keys.sorted().map { "\"\($0)\": \(String(format: "%.3f", fields[$0]!))" }
            print("{" + body.joined(separator: ", ") + "}")
        } else {
            for key in fields.keys.sorted() { print("\(key): \(String(format: "%.3f", fields[key]!))") }
        }
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

/// One Adam step of A2L: forward, masked MSE, backward, update.
struct A2LStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "a2l-step",
                                                    abstract: "Milliseconds per A2L training step.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Frames (units) per sequence.") var frames = 50
    @Option(help: "Encoder layers.") var layers = 6

    func run() {
        var rng = RandomGenerator(seed: 1)
        var config = A2L.Config()
        config.layers = layers
        let model = A2L(config, rng: &rng)
        let adam = Adam(model.parameters, learningRate: 1e-4)
        let ctx = Context(training: true, seed: 2)
        let (b, t) = (options.batch, frames)
        let units = Tensor(randomNormal: [b, t, config.inputDim], rng: &rng)
        let target = Tensor(randomNormal: [b, t, config.outputDim], rng: &rng)
        let mask = Tensor(shape: [b, t], values: (0..<(b * t)).map { ($0 / 5) % 2 == 0 ? 1 : 0 })
        BenchCommand.report(options, extra: ["gflop_per_step": a2lGigaflop(config, batch: b, frames: t)]) {
            adam.zeroGrad()
            var loss: Tensor?
            return BenchCommand.timePhases([
                ("forward", { loss = model.loss(model(units, ctx), target, mask: mask) }),
                ("backward", { loss!.backward() }),
                ("update", { adam.update() }),
            ])
        }
    }
}

/// Matrix-multiply work of one A2L training step (forward ×3 for forward + backward), in GFLOP.
func a2lGigaflop(_ c: A2L.Config, batch: Int, frames: Int) -> Double {
    let tokens = Double(batch * frames), d = Double(c.dim)
    let perLayer = 2 * tokens * (d * 3 * d + d * d + 2 * d * Double(c.feedForward)) + 4 * tokens * Double(frames) * d
    let io = 2 * tokens * d * Double(c.inputDim + c.outputDim)
    return 3 * (Double(c.layers) * perLayer + io) / 1e9
}

/// Forward + backward of the L2F conv block (loss = mean of the output).
struct ConvBlockStep: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conv-block",
                                                    abstract: "Milliseconds per conv block forward + backward.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Input height and width.") var size = 128

    func run() {
        var rng = RandomGenerator(seed: 1)
        let block = ConvBlock(rng: &rng)
        let ctx = Context(training: true, seed: 2)
        let x = Tensor(randomNormal: [options.batch, 6, size, size], rng: &rng)
        BenchCommand.report(options) {
            block.zeroGrad()
            var loss: Tensor?
            return BenchCommand.timePhases([
                ("forward", { loss = block(x, ctx).mean() }),
                ("backward", { loss!.backward() }),
            ])
        }
    }
}

/// Raw cblas_sgemm throughput on square matrices: the machine's ceiling for the numbers above.
struct GemmPeak: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "cblas_sgemm GFLOP/s.")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Matrix size n (n×n times n×n).") var size = 1024

    func run() {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor(randomNormal: [size, size], rng: &rng), b = Tensor(randomNormal: [size, size], rng: &rng)
        let n = Double(size)
        BenchCommand.report(options, extra: ["gflop_per_step": 2 * n * n * n / 1e9]) {
            _ = withoutGrad { matmul(a, b) }
            return [:]
        }
    }
}
