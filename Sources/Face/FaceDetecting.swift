// The seam between tracking and detection: what a face detector is given, what it returns, and
// the named choice of detector (with its own parameters) that the manifest's face stage holds.
import Common

/// A box in source pixels with fractional coordinates (what detectors report and tracking
/// interpolates and averages).
public struct Box: Equatable, Sendable {
    public var x, y, width, height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var area: Double { width * height }

    /// Whether `point` lies inside the box or on its edge.
    public func contains(_ point: SIMD2<Double>) -> Bool {
        point.x >= x && point.x <= x + width && point.y >= y && point.y <= y + height
    }

    /// The centre of the box.
    public var centre: SIMD2<Double> { SIMD2(x + width / 2, y + height / 2) }

    /// Intersection over union; 0 for disjoint boxes.
    func iou(_ other: Box) -> Double {
        let w = min(x + width, other.x + other.width) - max(x, other.x)
        let h = min(y + height, other.y + other.height) - max(y, other.y)
        guard w > 0, h > 0 else { return 0 }
        let inter = w * h
        return inter / (area + other.area - inter)
    }

    /// self + t·(other − self), coordinate by coordinate.
    func lerp(_ other: Box, _ t: Double) -> Box {
        Box(x: x + t * (other.x - x), y: y + t * (other.y - y),
            width: width + t * (other.width - width), height: height + t * (other.height - height))
    }

    /// Each coordinate rounded to whole pixels (what shards store).
    public var rounded: FaceBox {
        FaceBox(x: Int32(clamping: Int(x.rounded())), y: Int32(clamping: Int(y.rounded())),
                width: Int32(clamping: Int(width.rounded())), height: Int32(clamping: Int(height.rounded())))
    }
}

/// One face a detector found, in source pixels.
public struct FaceDetection: Equatable, Sendable {
    public var box: Box
    /// The detector's confidence in [0, 1] (Haar has none: always 1).
    public var score: Double
    /// Five points, in order: left eye, right eye, nose tip, left mouth corner, right mouth
    /// corner (left and right as seen in the image); nil for detectors without landmarks.
    public var landmarks: [SIMD2<Double>]?

    public init(box: Box, score: Double, landmarks: [SIMD2<Double>]? = nil) {
        self.box = box
        self.score = score
        self.landmarks = landmarks
    }
}

/// Where the tracker expects the face it follows: near `box`, inside a square of `regionScale`
/// box sides centred on it, with a side between side / `sizeRatio` and side · `sizeRatio`.
/// A detector may search only there (Haar does: about 6× less work than the whole frame) or
/// anywhere; the tracker keeps the detection that overlaps `box` best.
public struct FaceSearch: Equatable, Sendable {
    public var box: Box
    public var regionScale: Double
    public var sizeRatio: Double
}

/// A frame as a detector receives it: the source image, and its grey copy with the longest side
/// at most `analysisLongSide` (aspect kept, never upscaled). The tracker needs the grey copy for
/// shot cuts anyway; a detector working on grey (Haar) uses it instead of converting again.
public struct FaceFrame: Sendable {
    public let image: RGBImage
    let grey: GreyImage
    /// The `analysisLongSide` it was made with.
    public let analysisLongSide: Int

    public init(_ image: RGBImage, analysisLongSide: Int) throws {
        let scale = min(1, Double(analysisLongSide) / Double(max(image.width, image.height)))
        self.image = image
        self.analysisLongSide = analysisLongSide
        grey = try image.grey(width: max(1, Int((Double(image.width) * scale).rounded())),
                              height: max(1, Int((Double(image.height) * scale).rounded())))
    }
}

/// A face detector the face stage can use: registered under `name` in `FaceDetectors`, built
/// from its own `Parameters` (read from the manifest's face stage beside the tracking ones).
public protocol FaceDetecting: SendableMetatype {
    associatedtype Parameters: FaceDetectorParameters
    /// The manifest's name for it (`detector: haar`).
    static var name: String { get }
    init(parameters: Parameters) throws
    /// The faces on `frame` in source pixels, in any order; with `search`, at least those there.
    func detect(in frame: FaceFrame, near search: FaceSearch?) throws -> [FaceDetection]
    /// The face at about `box` (where the tracker saw it on the frame before), found with less
    /// work than `detect(in:near:)` by a detector that can; nil when it finds none there or has
    /// no such step (the tracker then searches).
    func face(near box: Box, in frame: FaceFrame) throws -> FaceDetection?
}

/// A detector's own settings: every field has a default (so the manifest may leave it out) and
/// is a flat number, flag or string (so it sits beside the face stage's other keys).
public protocol FaceDetectorParameters: Codable, Equatable, Sendable {
    init()
    /// Throws a `FaceParameterError` when a value is out of its range.
    func validate() throws
}

extension FaceDetecting {
    /// No cheaper step than the search.
    public func face(near box: Box, in frame: FaceFrame) throws -> FaceDetection? { nil }

    /// The faces anywhere on `image`, analysed at the face stage's default size.
    public func detect(in image: RGBImage) throws -> [FaceDetection] {
        try detect(in: FaceFrame(image, analysisLongSide: FaceParameters().detectionLongSide), near: nil)
    }
}

/// The face stage's detector: a registered name and that detector's own parameters.
public struct FaceDetectorChoice: Equatable, Sendable {
    public let name: String
    public let parameters: any FaceDetectorParameters
    private let make: @Sendable () throws -> any FaceDetecting

    public init<D: FaceDetecting>(_ detector: D.Type, parameters: D.Parameters = D.Parameters()) {
        name = D.name
        self.parameters = parameters
        make = { try D(parameters: parameters) }
    }

    /// The detector registered as `name` with its default parameters; nil when none is.
    public init?(named name: String) {
        guard let detector = FaceDetectors.all.first(where: { $0.name == name }) else { return nil }
        self = FaceDetectorChoice.defaults(of: detector)
    }

    private static func defaults<D: FaceDetecting>(of detector: D.Type) -> FaceDetectorChoice {
        FaceDetectorChoice(detector)
    }

    /// The detector registered as `D`, its parameters decoded from `decoder`.
    init<D: FaceDetecting>(_ detector: D.Type, from decoder: Decoder) throws {
        self.init(detector, parameters: try D.Parameters(from: decoder))
    }

    /// A new detector (loading its model files).
    public func makeDetector() throws -> any FaceDetecting { try make() }

    public static func == (a: FaceDetectorChoice, b: FaceDetectorChoice) -> Bool {
        a.name == b.name && a.parameters.isEqual(b.parameters)
    }
}

extension FaceDetectorParameters {
    func isEqual(_ other: any FaceDetectorParameters) -> Bool { (other as? Self) == self }
}
