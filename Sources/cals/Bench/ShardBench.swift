import Common
import Shards
import ArgumentParser
import Foundation

/// `cals bench shards write DIR` / `cals bench shards read SHARD`: shard write and random-window
/// read throughput (used by bench/shards.py, which reads the same windows with h5py).
struct ShardBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards", abstract: "Time shard writing and random window reading.")

    enum Mode: String, CaseIterable, ExpressibleByArgument {
        case write, read
    }

    @Argument(help: "write (a synthetic shard into FOLDER) or read (random windows of SHARD).")
    var mode: Mode

    @Argument(help: "Output folder (write) or shard file (read).")
    var path: String

    @Option(help: "Rows to write.")
    var rows = 2000

    @Option(help: "Random windows to read.")
    var windows = 200

    @Option(help: "Rows per window.")
    var length = 50

    @Option(help: "zlib level of the frame chunks.")
    var deflate = ShardFormat.defaultDeflateLevel

    func run() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        switch mode {
        case .write:
            let out = URL(fileURLWithPath: path).appendingPathComponent("bench-\(rows)-z\(deflate).h5").path
            try? FileManager.default.removeItem(atPath: out)
            let writer = try ShardWriter(path: out, parameters: "{}", creator: "cals bench", deflateLevel: deflate)
            // Smooth gradients plus a little noise: compresses roughly like face crops.
            var noise: UInt32 = 2_463_534_242  // xorshift32 state
            let perItem = 250
            for item in 0..<((rows + perItem - 1) / perItem) {
                let count = min(perItem, rows - item * perItem)
                writer.beginItem(ShardItem(id: "item\(item)", source: "bench", fingerprint: "-", speaker: "-", split: "train"))
                for r in 0..<count {
                    var pixels = [UInt8](repeating: 0, count: ShardFormat.frameBytes)
                    for i in 0..<pixels.count {
                        noise ^= noise << 13; noise ^= noise >> 17; noise ^= noise << 5
                        let x = i / 3 % 128, y = i / 384
                        pixels[i] = UInt8(truncatingIfNeeded: x + y + r + Int(noise & 7))
                    }
                    try writer.append(frame: RGBImage(width: 128, height: 128, pixels: pixels), frameIndex: r)
                }
                try writer.append(melUnits: [Float](repeating: -1, count: count * ShardFormat.melUnitSize))
                try writer.endItem()
            }
            let summary = try writer.finish()
            print(String(format: "%@ %d %.4f %d", summary.path, summary.rows, seconds(), summary.bytes))
        case .read:
            let reader = try ShardReader(path: path)
            var generator = SystemRandomNumberGenerator()
            var total = 0
            for _ in 0..<windows {
                guard let item = reader.items.randomElement(using: &generator), item.rowCount >= length else {
                    throw InputError(path, "needs items of at least \(length) rows")
                }
                let offset = Int.random(in: 0...(item.rowCount - length), using: &generator)
                total += try reader.window(item, offset: offset, length: length).length
            }
            print(String(format: "%d %.4f", total, seconds()))
        }
    }
}
