import Common
import Face
import Media

/// One face track of a video, as `cals faces` lists it and `cals dub --face INDEX` picks it: a
/// segment of the face tracker run with `speaker: all` (tracks are numbered in the order they
/// start; a track ends at a shot cut or when its face is lost for more than `maxGap` frames).
public struct FaceTrackSummary: Sendable {
    /// The segment number.
    public var index: Int
    /// First and last frame on the 25 fps timeline.
    public var frames: ClosedRange<Int>
    /// The smoothed face box on the first frame, source pixels.
    public var box: FaceBox
    /// The face crop on the first frame.
    public var crop: RGBImage
    /// How the track scored as the active speaker of its shot (when a sync encoder was given).
    public var score: TrackScore? = nil

    /// `face 1: first frame 0, frames 0-49 (50), box x 212 y 40 w 96 h 96`, and with a score
    /// `, shot 0, sync confidence 0.4123 (best offset +0) (the active speaker)`
    public var line: String {
        "face \(index): first frame \(frames.lowerBound), frames \(frames.lowerBound)-\(frames.upperBound) (\(frames.count)), "
            + "box x \(box.x) y \(box.y) w \(box.width) h \(box.height)"
            + (score.map { s in
                ", shot \(s.shot), " + (s.confidence != nil ? "sync " : "") + s.scoreText + (s.segment != nil ? " (the active speaker)" : "")
            } ?? "")
    }

    /// Every face track of `video`, tracked with `parameters` but `speaker: all`; with
    /// `syncCheckpoint`, each scored against the video's own audio as `speaker: active` scores
    /// it (`score`).
    public static func tracks(of video: String, parameters: FaceParameters, syncCheckpoint: String? = nil) throws -> [FaceTrackSummary] {
        let tracker = try FaceTrackProcessor(detector: try parameters.detector.makeDetector(),
                                             parameters: parameters.trackingAllFaces)
        let selection = try syncCheckpoint.map { try Dubber.activeSpeakerSelection(video: video, checkpoint: $0) }
        let decoder = try VideoDecoder(path: video)
        var out: [FaceTrackSummary] = []
        // A segment's frames come out together and in order, segments in number order.
        func keep(_ tracked: [TrackedFrame]) throws {
            _ = try selection?.push(tracked)
            for face in tracked {
                if face.segment < out.count {
                    out[face.segment].frames = out[face.segment].frames.lowerBound...face.index
                } else {
                    out.append(FaceTrackSummary(index: face.segment, frames: face.index...face.index, box: face.box, crop: face.crop))
                }
            }
        }
        while let frame = try decoder.nextFrame() { try keep(try tracker.push(frame)) }
        try keep(try tracker.finish())
        if let selection {
            _ = try selection.finish()
            for score in selection.scores where score.track < out.count { out[score.track].score = score }
        }
        return out
    }

    /// The first-frame crops of `tracks` side by side, each labelled with its index.
    public static func contactSheet(_ tracks: [FaceTrackSummary]) throws -> RGBImage {
        try .sideBySide(tracks.map(\.crop), labels: tracks.map { "face \($0.index)" })
    }
}

extension FaceParameters {
    /// These parameters with `speaker: all`.
    public var trackingAllFaces: FaceParameters {
        var all = self
        all.speaker = FaceParameters.allSpeakers
        return all
    }
}
