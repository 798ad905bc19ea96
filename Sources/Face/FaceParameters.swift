// Every number the face stage uses, in one value the pipeline keys its outputs on.

/// Parameters of detection, tracking and cropping (SPEC §1, stages `face` and `crop`).
/// The pipeline keys outputs on (parameters, `FaceParameters.version`): bump the version when
/// the code changes what the same parameters produce.
public struct FaceParameters: Codable, Equatable, Sendable {
    public static let version = 1

    // Detection (Haar frontal-face cascade on a downscaled grey image).
    /// Frames are downscaled (never upscaled) so their longest side is at most this many pixels
    /// before detection; boxes are mapped back to source pixels.
    public var detectionLongSide = 480
    /// detectMultiScale's scale step between pyramid levels (> 1).
    public var scaleFactor = 1.1
    /// detectMultiScale's minNeighbors: overlapping hits needed to accept a face.
    public var minNeighbors = 5
    /// Smallest face searched for, in pixels of the downscaled detection image.
    public var minFaceSize = 32

    // Tracking.
    /// A detection continues the track when its IoU with the track's last box is at least this.
    public var minIoU = 0.3
    /// While a face is tracked, the next frame is searched only in a square this many times
    /// the last box's side, centred on it (the whole frame is searched when no face is tracked).
    public var searchRegionScale = 2.0
    /// ... and only for faces between side / this and side * this.
    public var searchSizeRatio = 1.5
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
    /// Side of the square crop above the chin margin, as a multiple of the face box side.
    public var cropScale = 1.0
    /// Extra crop below the chin, as a fraction of the face box side (widens the square too).
    public var chinMargin = 0.15
    /// Side of the output crop in pixels.
    public var cropSize = 128

    public init() {}

    /// Throws when a value is out of its range.
    public func validate() throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw FaceParameterError(what) }
        }
        try require(detectionLongSide >= 24, "detectionLongSide must be >= 24")
        try require(scaleFactor > 1, "scaleFactor must be > 1")
        try require(minNeighbors >= 0, "minNeighbors must be >= 0")
        try require(minFaceSize >= 1, "minFaceSize must be >= 1")
        try require(minIoU > 0 && minIoU <= 1, "minIoU must be in (0, 1]")
        try require(searchRegionScale >= 1, "searchRegionScale must be >= 1")
        try require(searchSizeRatio > 1, "searchSizeRatio must be > 1")
        try require(cutThreshold > 0, "cutThreshold must be > 0")
        try require(smoothingWindow >= 1 && smoothingWindow % 2 == 1, "smoothingWindow must be odd and >= 1")
        try require(maxGap >= 0, "maxGap must be >= 0")
        try require(minSegmentLength >= 1, "minSegmentLength must be >= 1")
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
