import ArgumentParser
import Foundation
import Tensor
import Training

/// `cals bench a2l-feed --data DIR`: windows per second the shard reader delivers (batches of
/// audio units + lip units with their masks) against windows per second one A2L training step
/// consumes, on the same data and sizes. The reader must be the faster one.
struct A2LFeed: EngineCommand {
    static let configuration = CommandConfiguration(commandName: "a2l-feed",
                                                    abstract: "Reader vs trainer rate of A2L pretraining (windows/s).")
    @OptionGroup var options: BenchCommand.Options
    @Option(help: "Processed dataset folder with lip units.") var data: String
    @Option(help: "Frames (units) T per window.") var frames = 31
    @Option(help: "Sync checkpoint whose lip units to read (when the data has several).") var syncCheckpoint: String?
    @OptionGroup var size: A2LSizeOptions

    var engineSettings: EngineSettings { EngineSettings(threads: options.threads) }

    func run() throws {
        var config = A2LTrainingConfig()
        config.batch = options.batch
        config.frames = frames
        config.model = size.modelConfig(config.model)
        config.evalWindows = 1
        let scratch = NSTemporaryDirectory() + "cals-a2l-feed-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let trainer = try A2LTrainer(config: config, data: try openA2LData(data, syncCheckpoint: syncCheckpoint),
                                     out: scratch)
        func median(_ body: () throws -> Void) throws -> Double {
            for _ in 0..<options.warmup { try body() }
            var times: [Double] = []
            for _ in 0..<max(options.steps, 1) {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return times.sorted()[times.count / 2]
        }
        let read = try median { _ = try trainer.nextBatch() }
        let step = try median { _ = try trainer.trainStep() }
        let reader = Double(config.batch) / read, consumer = Double(config.batch) / (step - read)
        let fields = ["reader_windows_per_s": reader, "trainer_windows_per_s": consumer, "reader_over_trainer": reader / consumer]
        if options.json {
            print("{" + fields.keys.sorted().map { "\"\($0)\": \(String(format: "%.3f", fields[$0]!))" }.joined(separator: ", ") + "}")
        } else {
            print("A2L (\(config.sizeDescription)), batch \(config.batch) × \(config.frames) frames:")
            for key in fields.keys.sorted() { print("\(key): \(String(format: "%.3f", fields[key]!))") }
        }
    }
}
