import ArgumentParser
import Face
import Foundation
import Pipelines

/// `cals bench floor VIDEO [--track]`: the floor under `cals extract` — decoding alone, or
/// decoding + face tracking (detection) alone, with the manifest defaults. bench/extract.py
/// compares `cals extract` against it. Prints `frames seconds`.
struct FloorBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor", abstract: "Time decoding (and face tracking) of one video, nothing else.")

    @Argument(help: "A video file.") var video: String
    @Flag(help: "Also run the face tracker on every frame.") var track = false
    @Option(help: "The tracker's detector (\(FaceDetectors.names.joined(separator: ", ")); default: the face stage's).")
    var detector: String?

    func run() throws {
        let stages = PipelineStages()
        var face = stages[FaceStage.self].parameters
        if let detector {
            guard let choice = FaceDetectorChoice(named: detector) else { throw ValidationError("unknown detector '\(detector)'") }
            face.detector = choice
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let decoder = try stages[DecodeStage.self].openVideo(video, timeLimit: 3600)
        let tracker = track ? try FaceTrackProcessor(detector: face.detector.makeDetector(), parameters: face) : nil
        var frames = 0
        while let frame = try decoder.nextFrame() {
            frames += 1
            _ = try tracker?.push(frame)
        }
        _ = try tracker?.finish()
        print(String(format: "%d %.4f", frames, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    }
}
