import ArgumentParser
import Foundation
import Pipelines

/// `cals extract VIDEO --out ITEM.h5 [--manifest M]`
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "One video → face crops + mel audio units in one HDF5 file.",
        discussion: """
            Runs the same decode → face → crop → mel → align path as `cals preprocess` and writes \
            frames uint8 [N,128,128,3], mel float32 [N,80,4], boxes int32 [N,4], segment int32 [N].
            """)

    @Argument(help: "The video file.")
    var video: String

    @Option(help: "The output HDF5 file.")
    var out: String

    @Option(help: "Take stage parameters from this manifest (default: the built-in defaults).")
    var manifest: String?

    @Option(help: "Give up on the video after this many seconds.")
    var timeLimit: Double = 900

    func run() throws {
        let stages = try manifest.map { try Manifest.load($0).stages } ?? PipelineStages()
        let folder = (URL(fileURLWithPath: out).deletingLastPathComponent().path)
        let output = try ItemPipeline(stages: stages, spoolFolder: folder).process(video, timeLimit: timeLimit)
        try output.writeExtractFile(to: out, source: video, stages: stages)
    }
}
