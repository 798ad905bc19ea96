// Every number the face stage uses, in one value the pipeline keys its outputs on.

/// Parameters of detection, tracking and cropping (SPEC §1, stages `face` and `crop`).
/// The pipeline keys outputs on (parameters, `FaceParameters.version`): bump the version when
/// the code changes what the same parameters produce.
///
/// As JSON (the stage key) the detector's own parameters sit beside the others, and the
/// detector's name is left out when it is `haar` (and read as `haar` when absent): the JSON of
/// Haar parameters is what it was before detectors were named. `speaker` and `keyFrameInterval`
/// are left out when the speaker is `largest` (the JSON of before several faces were tracked),
/// `syncCheckpoint`, `syncCheckpointHash` and `activeScoreVersion` unless it is `active`.
/// The code default (a manifest that names no detector) is `cnn`.
public struct FaceParameters: Codable, Equatable, Sendable {
    public static let version = 5

    // Detection.
    /// The detector and its own parameters (`detector: cnn` in the manifest, the default, or `haar`).
    public var detector = FaceDetectorChoice(MTCNNFaceDetector.self)
    /// Each frame gets a grey copy whose longest side is at most this many pixels (downscaled,
    /// never upscaled): shot cuts are found on it, and grey detectors (Haar) detect on it.
    public var detectionLongSide = 480

    // Tracking.
    /// Which faces become segments: `largest` (one track at a time, started on the largest face
    /// found while none is tracked), `all` (every face tracked on its own, each track of at
    /// least `minSegmentLength` frames its own segment) or `active` (every face tracked on its
    /// own; per shot, the track whose mouth moves most in sync with the audio is kept, scored
    /// by the sync encoder of `syncCheckpoint`).
    public var speaker = FaceParameters.largestSpeaker
    public static let largestSpeaker = "largest", allSpeakers = "all", activeSpeaker = "active"
    public static let speakers = [largestSpeaker, allSpeakers, activeSpeaker]
    /// With `speaker: active`: the sync encoder checkpoint (`cals train sync`) that scores the
    /// tracks, relative to the working directory ...
    public var syncCheckpoint = ""
    /// ... and its content hash (`fileChecksum`), set when the manifest is read: the stage's
    /// output is keyed on it, so another checkpoint at the same path re-runs the stage.
    public var syncCheckpointHash = ""
    /// Version of the score `speaker: active` ranks tracks by (`SyncScore.track`), in the stage
    /// key with `active` only: bump it when that score changes, so only those outputs re-run.
    public static let activeScoreVersion = 2
    /// With `speaker: all`, the whole frame is searched for new faces every this many frames
    /// (and on shot cuts, when a track is lost, and while no face is tracked).
    public var keyFrameInterval = 10
    /// A detection continues the track when its IoU with the track's last box is at least this.
    public var minIoU = 0.3
    /// While a face is tracked, the next frame is searched only in a square this many times
    /// the last box's side, centred on it (the whole frame is searched when no face is tracked).
    public var searchRegionScale = 2.0
    /// ... and only for faces between side / this and side * this.
    public var searchSizeRatio = 1.5
    /// A tracked face found there with a detector score below this (or not found) makes the frame
    /// a key frame: the whole frame is searched (`FaceTrackProcessor`). MTCNN scores a clear face
    /// above 0.99; Haar scores every face 1, so only a miss does it.
    public var keyFrameScore = 0.9
    /// A shot cut is declared when the grey histograms (64 bins, each normalised to sum 1) of
    /// consecutive frames differ by more than this in total variation (½·Σ|p − q|, in [0, 1]).
    /// Within a shot of the test scenes (moving noise, ramps, shapes) the distance stays
    /// below 0.02; a switch between two of them measures 0.24 to 0.65.
    public var cutThreshold = 0.3
    /// Boxes are smoothed by a centred moving average over this many frames (odd), shrunk
    /// symmetrically at the ends of a segment.
    public var smoothingWindow = 5
    /// Gaps of at most this many frames without the face are interpolated; longer ones split.
    public var maxGap = 3
    /// Segments shorter than this many frames are dropped (default: one 5-frame sync window).
    public var minSegmentLength = 5

    // Crop.
    /// The crop is placed by the track's face averaged over this many frames (odd; shifted
    /// inside the track at its ends; `FaceTrackProcessor.cropFace`): on a still face it averages
    /// the detector's noise away ...
    public var cropSmoothingWindow = 31
    /// ... but its centre stays within this fraction of the face side of the face smoothed over
    /// `smoothingWindow` frames, which bounds its lag when the head moves ...
    public var cropMaxShift = 0.02
    /// ... and its side within this fraction of that face's side (the landmark fit's scale is
    /// several times noisier than its centre, so the bound is wider).
    public var cropMaxZoom = 0.08
    /// Side of the square crop above the chin margin, as a multiple of the face box side.
    public var cropScale = 1.0
    /// Extra crop below the chin, as a fraction of the face box side (widens the square too).
    public var chinMargin = 0.15
    /// Side of the output crop in pixels.
    public var cropSize = 128
    /// Turn each crop upright: the landmark fit that places it (`FaceTrackProcessor.landmarkFit`)
    /// then includes rotation, and the crop is cut turned by the fitted angle averaged over the
    /// crop's window. Off by default (the paper's crops are axis-aligned); left out of the JSON
    /// when off, so the stage keys of before stay.
    public var cropRotation = false

    public init() {}

    /// Every face is tracked on its own (`all` and `active`), not only the largest.
    public var tracksEveryFace: Bool { speaker != FaceParameters.largestSpeaker }

    private enum CodingKeys: String, CodingKey {
        case detector, detectionLongSide, speaker, keyFrameInterval, syncCheckpoint, syncCheckpointHash, activeScoreVersion, minIoU, searchRegionScale,
             searchSizeRatio, keyFrameScore, cutThreshold, smoothingWindow, maxGap, minSegmentLength, cropSmoothingWindow,
             cropMaxShift, cropMaxZoom, cropScale, chinMargin, cropSize, cropRotation
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decodeIfPresent(String.self, forKey: .detector) ?? HaarFaceDetector.name
        guard let type = FaceDetectors.all.first(where: { $0.name == name }) else {
            throw DecodingError.dataCorruptedError(forKey: .detector, in: c, debugDescription: "unknown face detector '\(name)'")
        }
        detector = try FaceDetectorChoice(type, from: decoder)
        detectionLongSide = try c.decode(Int.self, forKey: .detectionLongSide)
        speaker = try c.decodeIfPresent(String.self, forKey: .speaker) ?? FaceParameters.largestSpeaker
        keyFrameInterval = try c.decodeIfPresent(Int.self, forKey: .keyFrameInterval) ?? keyFrameInterval
        syncCheckpoint = try c.decodeIfPresent(String.self, forKey: .syncCheckpoint) ?? syncCheckpoint
        syncCheckpointHash = try c.decodeIfPresent(String.self, forKey: .syncCheckpointHash) ?? syncCheckpointHash
        minIoU = try c.decode(Double.self, forKey: .minIoU)
        searchRegionScale = try c.decode(Double.self, forKey: .searchRegionScale)
        searchSizeRatio = try c.decode(Double.self, forKey: .searchSizeRatio)
        keyFrameScore = try c.decodeIfPresent(Double.self, forKey: .keyFrameScore) ?? keyFrameScore
        cutThreshold = try c.decode(Double.self, forKey: .cutThreshold)
        smoothingWindow = try c.decode(Int.self, forKey: .smoothingWindow)
        maxGap = try c.decode(Int.self, forKey: .maxGap)
        minSegmentLength = try c.decode(Int.self, forKey: .minSegmentLength)
        cropSmoothingWindow = try c.decodeIfPresent(Int.self, forKey: .cropSmoothingWindow) ?? cropSmoothingWindow
        cropMaxShift = try c.decodeIfPresent(Double.self, forKey: .cropMaxShift) ?? cropMaxShift
        cropMaxZoom = try c.decodeIfPresent(Double.self, forKey: .cropMaxZoom) ?? cropMaxZoom
        cropScale = try c.decode(Double.self, forKey: .cropScale)
        chinMargin = try c.decode(Double.self, forKey: .chinMargin)
        cropSize = try c.decode(Int.self, forKey: .cropSize)
        cropRotation = try c.decodeIfPresent(Bool.self, forKey: .cropRotation) ?? cropRotation
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if detector.name != HaarFaceDetector.name { try c.encode(detector.name, forKey: .detector) }
        try detector.parameters.encode(to: encoder)   // flat, beside the keys below
        try c.encode(detectionLongSide, forKey: .detectionLongSide)
        // Left out with `largest`, which does not read keyFrameInterval: its keys stay as they were.
        if speaker != FaceParameters.largestSpeaker {
            try c.encode(speaker, forKey: .speaker)
            try c.encode(keyFrameInterval, forKey: .keyFrameInterval)
        }
        if speaker == FaceParameters.activeSpeaker {
            try c.encode(syncCheckpoint, forKey: .syncCheckpoint)
            try c.encode(syncCheckpointHash, forKey: .syncCheckpointHash)
            try c.encode(FaceParameters.activeScoreVersion, forKey: .activeScoreVersion)
        }
        try c.encode(minIoU, forKey: .minIoU)
        try c.encode(searchRegionScale, forKey: .searchRegionScale)
        try c.encode(searchSizeRatio, forKey: .searchSizeRatio)
        try c.encode(keyFrameScore, forKey: .keyFrameScore)
        try c.encode(cutThreshold, forKey: .cutThreshold)
        try c.encode(smoothingWindow, forKey: .smoothingWindow)
        try c.encode(maxGap, forKey: .maxGap)
        try c.encode(minSegmentLength, forKey: .minSegmentLength)
        try c.encode(cropSmoothingWindow, forKey: .cropSmoothingWindow)
        try c.encode(cropMaxShift, forKey: .cropMaxShift)
        try c.encode(cropMaxZoom, forKey: .cropMaxZoom)
        try c.encode(cropScale, forKey: .cropScale)
        try c.encode(chinMargin, forKey: .chinMargin)
        try c.encode(cropSize, forKey: .cropSize)
        if cropRotation { try c.encode(cropRotation, forKey: .cropRotation) }
    }

    /// Throws when a value (the detector's included) is out of its range.
    public func validate() throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw FaceParameterError(what) }
        }
        try detector.parameters.validate()
        try require(detectionLongSide >= 24, "detectionLongSide must be >= 24")
        try require(FaceParameters.speakers.contains(speaker), "speaker must be one of \(FaceParameters.speakers.joined(separator: ", "))")
        try require(speaker != FaceParameters.activeSpeaker || !syncCheckpoint.isEmpty,
                    "speaker active needs sync_checkpoint: the sync encoder checkpoint (`cals train sync`) that scores the faces")
        try require(keyFrameInterval >= 1, "keyFrameInterval must be >= 1")
        try require(minIoU > 0 && minIoU <= 1, "minIoU must be in (0, 1]")
        try require(searchRegionScale >= 1, "searchRegionScale must be >= 1")
        try require(searchSizeRatio > 1, "searchSizeRatio must be > 1")
        try require(keyFrameScore >= 0 && keyFrameScore <= 1, "keyFrameScore must be in [0, 1]")
        try require(cutThreshold > 0, "cutThreshold must be > 0")
        try require(smoothingWindow >= 1 && smoothingWindow % 2 == 1, "smoothingWindow must be odd and >= 1")
        try require(maxGap >= 0, "maxGap must be >= 0")
        try require(minSegmentLength >= 1, "minSegmentLength must be >= 1")
        try require(cropSmoothingWindow >= 1 && cropSmoothingWindow % 2 == 1, "cropSmoothingWindow must be odd and >= 1")
        try require(cropMaxShift >= 0, "cropMaxShift must be >= 0")
        try require(cropMaxZoom >= 0, "cropMaxZoom must be >= 0")
        try require(cropScale > 0, "cropScale must be > 0")
        try require(chinMargin >= 0, "chinMargin must be >= 0")
        try require(cropSize >= 1, "cropSize must be >= 1")
    }
}

/// A face parameter out of range.
public struct FaceParameterError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An axis-aligned box in source pixels.
public struct FaceBox: Codable, Equatable, Hashable, Sendable {
    public var x: Int32
    public var y: Int32
    public var width: Int32
    public var height: Int32

    public init(x: Int32, y: Int32, width: Int32, height: Int32) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}
