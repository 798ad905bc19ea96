// The speaking face among several (`speaker: active`): per shot, the face track whose mouth
// moves most in sync with the audio.

/// How one face track of a shot scored (`ActiveSpeakerSelection`).
public struct TrackScore: Codable, Equatable, Sendable {
    /// The track's shot (`TrackedFrame.shot`) and its segment number from the tracker, which
    /// numbers every face's track (as `cals faces` lists them).
    public var shot: Int
    public var track: Int
    /// First and last frame of the track.
    public var first: Int
    public var last: Int
    /// Sync confidence of the track's mouth against the audio in sync (higher: more surely the
    /// speaker; the sync encoder's `SyncScore.track`), and the audio offset where the mouth fits
    /// best (a speaking face's is near 0); nil when the track is too short, or too silent, to score.
    public var confidence: Double?
    public var offset: Int?
    /// The segment the track became, or nil when another track of its shot was kept.
    public var segment: Int?

    public init(shot: Int, track: Int, first: Int, last: Int, confidence: Double?, offset: Int?, segment: Int?) {
        (self.shot, self.track, self.first, self.last) = (shot, track, first, last)
        (self.confidence, self.offset, self.segment) = (confidence, offset, segment)
    }

    /// `shot 2 face 5: frames 103-154, confidence 0.4123 (best offset +0), kept as segment 1`
    public var line: String {
        "shot \(shot) face \(track): frames \(first)-\(last), \(scoreText), " + (segment.map { "kept as segment \($0)" } ?? "not kept")
    }

    /// `confidence 0.4123 (best offset +0)`, or `not scored (too short or silent)`.
    public var scoreText: String {
        confidence.map { String(format: "confidence %.4f (best offset %+d)", $0, offset ?? 0) } ?? "not scored (too short or silent)"
    }
}

/// Of the frames a `FaceTrackProcessor` that tracks every face emits, keeps one track per shot:
/// the one `score` rates most in sync. A track `score` cannot rate (nil: too short, silent) loses to
/// any scored one; among unscored tracks the longest is kept (the first of equals). Kept tracks
/// are renumbered 0, 1, ... as segments, in the order they come. A shot's frames are held until
/// it ends: when a frame of a later shot comes, or at `finish` (so memory grows with the shot's
/// frames times its faces).
public final class ActiveSpeakerSelection {
    /// The sync confidence and best audio offset of one track's frames (in index order), or nil
    /// when it cannot be rated (too short, or no speech in its audio).
    public typealias Score = ([TrackedFrame]) throws -> (confidence: Double, offset: Int)?

    private let score: Score
    /// The frames of the current shot, as the tracker emitted them (each track's together).
    private var held: [TrackedFrame] = []
    private var nextSegment = 0
    /// Every track scored so far, in shot and track order.
    public private(set) var scores: [TrackScore] = []

    public init(score: @escaping Score) { self.score = score }

    /// Adds frames the tracker emitted; returns the frames of the kept tracks of the shots that ended.
    public func push(_ tracked: [TrackedFrame]) throws -> [TrackedFrame] {
        var out: [TrackedFrame] = []
        for frame in tracked {
            if let first = held.first, frame.shot != first.shot { out += try selectFromShot() }
            held.append(frame)
        }
        return out
    }

    /// Ends the stream: returns the frames of the last shot's kept track.
    public func finish() throws -> [TrackedFrame] { try selectFromShot() }

    /// Scores every track of the held shot, keeps the best one's frames and empties the shot.
    private func selectFromShot() throws -> [TrackedFrame] {
        guard let shot = held.first?.shot else { return [] }
        let tracks = Dictionary(grouping: held, by: \.segment).sorted { $0.key < $1.key }
        held = []
        // (track's place in `tracks`, confidence, frames): ordered by confidence, then length.
        var best: (place: Int, confidence: Double, length: Int)? = nil
        for (place, (track, frames)) in tracks.enumerated() {
            let result = try score(frames)
            scores.append(TrackScore(shot: shot, track: track, first: frames[0].index, last: frames[frames.count - 1].index,
                                     confidence: result?.confidence, offset: result?.offset, segment: nil))
            let candidate = (place: place, confidence: result?.confidence ?? -.infinity, length: frames.count)
            if let b = best, (candidate.confidence, candidate.length) <= (b.confidence, b.length) { continue }
            best = candidate
        }
        guard let best else { return [] }
        let segment = nextSegment
        nextSegment += 1
        scores[scores.count - tracks.count + best.place].segment = segment
        var kept = tracks[best.place].value
        for i in kept.indices { kept[i].segment = segment }
        return kept
    }
}
