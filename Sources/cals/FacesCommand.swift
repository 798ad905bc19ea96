import ArgumentParser
import Dubbing
import Foundation
import Pipelines
import Training

/// `cals faces VIDEO [--manifest M] [--contact-sheet FILE.png] [--sync CKPT]`
struct FacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faces",
        abstract: "List the face tracks of a video (the indices `cals dub --face` takes).",
        discussion: """
            Every face is tracked on its own, as the face stage does with `speaker: all`; each track of at \
            least `min_segment_length` frames is printed with its index, first frame, frame range and box \
            (source pixels, on its first frame). With --sync, each track is also scored against the video's \
            own audio as `speaker: active` scores it, and the speaking face of each shot is marked.
            """)

    @Argument(help: "The video (any format FFmpeg reads).") var video: String
    @Option(help: "Take the face stage parameters from this manifest (default: built-in).") var manifest: String?
    @Option(help: "Also write the first-frame crop of every track, labelled, side by side into this PNG.")
    var contactSheet: String?
    @Option(help: "Score each track's mouth against the video's audio with this sync encoder checkpoint (`cals train sync`).")
    var sync: String?

    func run() throws {
        let stages = try manifest.map { try Manifest.load($0).stages } ?? PipelineStages()
        let tracks = try FaceTrackSummary.tracks(of: video, parameters: stages[FaceStage.self].parameters, syncCheckpoint: sync)
        for track in tracks { print(track.line) }
        if tracks.isEmpty { print("no face tracks") }
        if let contactSheet, !tracks.isEmpty { try PNG.write(try FaceTrackSummary.contactSheet(tracks), to: contactSheet) }
    }
}
