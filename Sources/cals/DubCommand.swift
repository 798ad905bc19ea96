import ArgumentParser
import Common
import Dubbing
import Foundation
import Pipelines
import Tensor

/// `cals dub VIDEO --audio SPEECH --l2f RUN --out OUT.mp4 [--side-by-side] [--manifest M] [--batch B] [--threads N]`
struct DubCommand: EngineCommand {
    static let configuration = CommandConfiguration(
        commandName: "dub",
        abstract: "Put new speech on a face video with a trained L2F run.",
        discussion: """
            The output has the new speech's length (at 25 fps); a shorter video plays back and forth. Each \
            frame's face is tracked and cropped as in preprocessing, the L2F generator paints its mouth from \
            the lip units of the new speech, and the lower half of the face is blended back into the frame. \
            Frames without a face pass through unchanged. OUT is H.264 with the new speech as AAC, written \
            under a temporary name and renamed when complete.
            """)

    @Argument(help: "The face video (any format, frame rate or rotation FFmpeg reads).") var video: String
    @Option(help: "The new speech: any audio or video file with an audio stream.") var audio: String
    @Option(help: "L2F run folder or checkpoint (`cals train l2f --out`).") var l2f: String
    @Option(help: "The output video (.mp4).") var out: String
    @Option(help: "Take the face stage parameters from this manifest (those the run's data was made with; default: built-in).")
    var manifest: String?
    @Flag(help: "Write three labelled panels side by side instead: the video as it is, the copy-the-reference baseline, the dubbed video.")
    var sideBySide = false
    @Option(help: "The face to dub: largest, or a track index as `cals faces VIDEO` lists them.") var face = "largest"
    @Option(help: "Frames per generator call.") var batch = 16
    @Option(help: "Threads (OpenBLAS and the engine's loops).") var threads = 2

    func validate() throws {
        guard batch > 0, threads > 0 else { throw ValidationError("--batch and --threads must be positive") }
        guard face == "largest" || (Int(face) ?? -1) >= 0 else { throw ValidationError("--face must be largest or a track index") }
    }

    var engineSettings: EngineSettings { EngineSettings(threads: threads) }

    func run() throws {
        let stages = try manifest.map { try Manifest.load($0).stages } ?? PipelineStages()
        let dubber = try Dubber(checkpoint: checkpointFile(l2f), faceParameters: stages[FaceStage.self].parameters)
        dubber.batchSize = batch
        dubber.face = Int(face).map { .track($0) } ?? .largest
        let summary = try dubber.dub(video: video, speech: audio, out: out, sideBySide: sideBySide) { label, total in
            Common.Progress(label: label, total: total, unit: "frames", output: .standardOutput)
        }
        print(summary.line)
        print(summary.times.line)
    }
}
