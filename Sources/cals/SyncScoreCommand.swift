import ArgumentParser
import Common
import Dataset
import Foundation
import Models
import Pipelines
import Tensor

/// `cals sync-score VIDEO | --item ID --data DIR --checkpoint CKPT`: the audio–video offset and
/// LSE-D / LSE-C style scores from our sync encoder.
struct SyncScoreCommand: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-score",
        abstract: "Best audio-video offset within ±15 frames, LSE-D and LSE-C style scores from our sync encoder.",
        discussion: """
            Offset k means the audio matching video frame t is at t + k (the audio is k frames late). \
            The distances come from the cals sync encoder, not SyncNet: they are not comparable with \
            published LSE-D / LSE-C values.
            """)

    @Argument(help: "A video file (decoded, face-tracked and cropped as by `cals preprocess`).") var video: String?
    @Option(help: "A processed item id instead of a video (needs --data).") var item: String?
    @Option(help: "Processed dataset folder holding --item.") var data: String?
    @Option(help: "Sync encoder checkpoint (from `cals train sync`).") var checkpoint: String
    @Option(help: "Largest offset tried, in frames.") var maxOffset = 15
    @Option(help: "Delay the audio by this many frames before scoring (negative: advance); for checking the scorer.")
    var shiftAudio = 0
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard (video == nil) != (item == nil) else { throw ValidationError("give either a VIDEO or --item ID") }
        guard item == nil || data != nil else { throw ValidationError("--item needs --data DIR") }
        guard maxOffset > 0 else { throw ValidationError("--max-offset must be positive") }
    }

    var engineSettings: EngineSettings { EngineSettings(threads: threads) }

    func run() throws {
        let model = try SyncEncoder.load(checkpoint: checkpoint)
        let (source, frames, mel) = try clipRows()
        let shifted = shiftUnits(mel, by: shiftAudio)
        let scores = try OffsetSimilarities(model: model, frames: frames, mel: shifted, maxOffset: maxOffset, source: source)
        let s = scores.score
        if json {
            print(String(format: "{\"source\": \"%@\", \"offset\": %d, \"lse_d\": %.4f, \"lse_c\": %.4f, \"windows\": %d, \"encoder\": \"cals sync encoder\"}",
                         source, s.offset, s.distance, s.confidence, scores.centres.count))
        } else {
            print("\(source): \(scores.centres.count) windows")
            print(String(format: "offset: %+d frames (%+.0f ms; positive = audio late)", s.offset, Double(s.offset) * 40))
            print(String(format: "LSE-D (our encoder): %.4f", s.distance))
            print(String(format: "LSE-C (our encoder): %.4f", s.confidence))
            print("note: scores from the cals sync encoder (\(checkpoint)), not SyncNet; not comparable with published LSE values")
        }
    }

    /// Frames [T, 128, 128, 3] and units [T, 80, 4] of the item, or of the longest face segment of the video.
    func clipRows() throws -> (String, [UInt8], [Float]) {
        if let item, let data {
            let clip = try ProcessedDataset(outFolder: data).clip(id: item)
            let rows = try clip.rows(0..<clip.rowCount)
            return (item, rows.frames, rows.mel)
        }
        let path = video!
        let output = try ItemPipeline(stages: PipelineStages()).process(path, timeLimit: 3600)
        guard output.cropSize == 128, let longest = output.segmentRanges.max(by: { $0.rowCount < $1.rowCount }) else {
            throw InputError(path, "no face segment with 128×128 crops")
        }
        let rows = longest.firstRow..<(longest.firstRow + longest.rowCount)
        let unit = 80 * 4
        return (path, try rows.flatMap { try output.crops.crop($0).pixels }, Array(output.mel[(rows.lowerBound * unit)..<(rows.upperBound * unit)]))
    }

    /// Units delayed by k rows (k < 0: advanced); rows shifted in from outside repeat the edge unit.
    func shiftUnits(_ mel: [Float], by k: Int) -> [Float] {
        guard k != 0 else { return mel }
        let unit = 80 * 4, t = mel.count / unit
        var out = [Float](repeating: 0, count: mel.count)
        for row in 0..<t {
            let from = min(max(row - k, 0), t - 1)
            out[(row * unit)..<((row + 1) * unit)] = mel[(from * unit)..<((from + 1) * unit)]
        }
        return out
    }
}
