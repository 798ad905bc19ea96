import AudioFeatures
import Common
import ArgumentParser
import Foundation

/// `cals bench mel SAMPLES.f32`: times the log-mel of raw 16 kHz float32 samples (used by
/// bench/mel.py, which times librosa on the same file).
struct MelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mel", abstract: "Time the log-mel spectrogram on raw float32 samples.")

    @Argument(help: "Raw little-endian float32 samples at 16 kHz.")
    var samples: String

    @Option(help: "Timed repetitions (the best is reported).")
    var repeats = 5

    @Option(help: "Threads splitting the frames.")
    var threads = 1

    func run() throws {
        guard let data = FileManager.default.contents(atPath: samples) else {
            throw InputError(samples, "cannot read the samples")
        }
        let audio = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let mel = MelSpectrogram()
        var best = Double.infinity, bestCPU = Double.infinity
        var frames = 0
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = BenchCommand.cpuMilliseconds()
            frames = mel.logMel(audio, threadCount: threads).count / MelSpectrogram.melBinCount
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            bestCPU = min(bestCPU, (BenchCommand.cpuMilliseconds() - cpuStart) / 1e3)
        }
        // Best wall seconds, frames, best CPU seconds (all threads).
        print(String(format: "%.6f %d %.6f", best, frames, bestCPU))
    }
}
