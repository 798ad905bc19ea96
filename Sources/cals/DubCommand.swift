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
            the lip units of the new speech, and the lower half of the face is blended back into the frame \
            where its crop came from (turned back when the face stage of --manifest has crop_rotation). \
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
    @Option(help: ArgumentHelp("The face to dub: largest, active, or a track index as `cals faces VIDEO` lists them.",
                               discussion: "active: per shot, the face whose mouth moves most in sync with the video's own audio, scored by the sync encoder of --sync."))
    var face = "largest"
    @Option(help: "Sync encoder checkpoint (`cals train sync`) that scores the faces with --face active (default: the manifest's face stage sync_checkpoint).")
    var sync: String?
    @Option(help: "Frames per generator call.") var batch = 16
    @Option(help: "Threads (OpenBLAS and the engine's loops).") var threads = 2

    func validate() throws {
        guard batch > 0, threads > 0 else { throw ValidationError("--batch and --threads must be positive") }
        guard ["largest", "active"].contains(face) || (Int(face) ?? -1) >= 0 else {
            throw ValidationError("--face must be largest, active or a track index")
        }
        guard sync == nil || face == "active" else { throw ValidationError("--sync scores faces only with --face active") }
    }

    var engineSettings: EngineSettings { EngineSettings(threads: threads) }

    func run() throws {
        let stages = try manifest.map { try Manifest.load($0).stages } ?? PipelineStages()
        let parameters = stages[FaceStage.self].parameters
        let dubber = try Dubber(checkpoint: checkpointFile(l2f), faceParameters: parameters)
        dubber.batchSize = batch
        if face == "active" {
            guard let checkpoint = sync ?? (parameters.syncCheckpoint.isEmpty ? nil : parameters.syncCheckpoint) else {
                throw ValidationError("--face active needs --sync CHECKPOINT (a sync encoder, `cals train sync`), or a manifest whose face stage has sync_checkpoint")
            }
            dubber.face = .active(syncCheckpoint: checkpoint)
        } else {
            dubber.face = Int(face).map { .track($0) } ?? .largest
        }
        let summary = try dubber.dub(video: video, speech: audio, out: out, sideBySide: sideBySide) { label, total in
            Common.Progress(label: label, total: total, unit: "frames", output: .standardOutput)
        }
        for track in dubber.trackScores { print("active speaker: \(track.line)") }
        print(summary.line)
        print(summary.times.line)
    }
}
