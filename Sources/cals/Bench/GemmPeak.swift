import ArgumentParser
import Foundation
import Tensor

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
