// The Haar frontal-face detector (`detector: haar`): cascade lookup, detection on the frame's grey
// analysis copy, boxes in source pixels.
import COpenCVShim
import Common
import Foundation

/// OpenCV's Haar frontal-face cascade (`haarcascade_frontalface_default.xml` from opencv-data).
/// Not thread-safe: give each thread its own detector.
public final class HaarFaceDetector: FaceDetecting {
    public static let name = "haar"

    /// detectMultiScale's settings.
    public struct Parameters: FaceDetectorParameters {
        /// Scale step between pyramid levels (> 1).
        public var scaleFactor = 1.1
        /// Overlapping hits needed to accept a face.
        public var minNeighbors = 5
        /// Smallest face searched for, in pixels of the frame's grey analysis copy.
        public var minFaceSize = 32

        public init() {}

        public func validate() throws {
            guard scaleFactor > 1 else { throw FaceParameterError("scaleFactor must be > 1") }
            guard minNeighbors >= 0 else { throw FaceParameterError("minNeighbors must be >= 0") }
            guard minFaceSize >= 1 else { throw FaceParameterError("minFaceSize must be >= 1") }
        }
    }

    public static let cascadeFileName = "haarcascade_frontalface_default.xml"

    /// Where the cascade is looked for, in order: `$CALS_HAAR_DIR`, then Debian's opencv-data
    /// folders.
    public static var searchDirectories: [String] {
        var dirs = ["/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades"]
        if let dir = ProcessInfo.processInfo.environment["CALS_HAAR_DIR"], !dir.isEmpty {
            dirs.insert(dir, at: 0)
        }
        return dirs
    }

    /// The cascade file in use.
    public let cascadePath: String
    public let parameters: Parameters
    private let cascade: OpaquePointer

    /// Loads the cascade from the first of `searchDirectories` that holds it.
    public convenience init(parameters: Parameters = Parameters()) throws {
        try self.init(parameters: parameters, searchDirectories: HaarFaceDetector.searchDirectories)
    }

    /// Loads the cascade from the first of `searchDirectories` that holds it; throws an
    /// InputError naming every path tried when none does, a FaceParameterError for parameters
    /// out of range.
    public convenience init(parameters: Parameters = Parameters(), searchDirectories: [String]) throws {
        let candidates = searchDirectories.map {
            URL(fileURLWithPath: $0).appendingPathComponent(HaarFaceDetector.cascadeFileName).path
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw InputError(candidates.joined(separator: ", "),
                             "Haar cascade not found (install opencv-data or set CALS_HAAR_DIR)")
        }
        try self.init(cascadePath: path, parameters: parameters)
    }

    /// Loads the cascade at `cascadePath`.
    public init(cascadePath: String, parameters: Parameters = Parameters()) throws {
        try parameters.validate()
        guard FileManager.default.fileExists(atPath: cascadePath) else {
            throw InputError(cascadePath, "Haar cascade not found")
        }
        var handle: OpaquePointer? = nil
        do {
            try OpenCVError.check { cvshim_cascade_load(cascadePath, &handle, $0, $1) }
        } catch let error as OpenCVError {
            throw InputError(cascadePath, error.message)
        }
        self.cascadePath = cascadePath
        self.parameters = parameters
        self.cascade = handle!
    }

    deinit { cvshim_cascade_free(cascade) }

    /// Faces on `frame` in source pixels, largest first, every score 1. With `search`, only
    /// near its box and at its sizes (see `searchWindow`).
    public func detect(in frame: FaceFrame, near search: FaceSearch?) throws -> [FaceDetection] {
        let window = search.map { searchWindow($0, grey: frame.grey, image: frame.image) }
        return try detect(grey: frame.grey, sourceWidth: frame.image.width, sourceHeight: frame.image.height,
                          region: window?.region, sizes: window?.sizes)
            .map { FaceDetection(box: $0, score: 1) }
    }

    /// Where to look in the grey analysis copy: a square of `search.regionScale` box sides
    /// centred on `search.box` (clipped to the image), for faces between side /
    /// `search.sizeRatio` and side * `search.sizeRatio` (but not below `minFaceSize`).
    private func searchWindow(_ search: FaceSearch, grey: GreyImage, image: RGBImage) -> (region: Region, sizes: ClosedRange<Int>) {
        let box = search.box
        let sx = Double(grey.width) / Double(image.width), sy = Double(grey.height) / Double(image.height)
        let side = (box.width * sx + box.height * sy) / 2
        let half = side * search.regionScale / 2
        let centreX = (box.x + box.width / 2) * sx, centreY = (box.y + box.height / 2) * sy
        let x0 = max(0, Int((centreX - half).rounded(.down))), y0 = max(0, Int((centreY - half).rounded(.down)))
        let x1 = min(grey.width, Int((centreX + half).rounded(.up))), y1 = min(grey.height, Int((centreY + half).rounded(.up)))
        let low = max(parameters.minFaceSize, Int(side / search.sizeRatio))
        let high = max(low, Int((side * search.sizeRatio).rounded(.up)))
        return (Region(x: x0, y: y0, width: max(1, x1 - x0), height: max(1, y1 - y0)), low...high)
    }

    /// Faces on a detection image of a `sourceWidth x sourceHeight` frame, in source pixels,
    /// largest first. Only faces whose side lies in `sizes` (detection pixels; nil: from
    /// `parameters.minFaceSize` up) inside `region` (detection pixels, within the image; nil:
    /// the whole image) are searched.
    private func detect(grey: GreyImage, sourceWidth: Int, sourceHeight: Int,
                        region: Region?, sizes: ClosedRange<Int>?) throws -> [Box] {
        let r = region ?? Region(x: 0, y: 0, width: grey.width, height: grey.height)
        let minSize = sizes?.lowerBound ?? parameters.minFaceSize, maxSize = sizes?.upperBound ?? 0
        var rects = [cvshim_rect](repeating: cvshim_rect(), count: 16)
        while true {
            let found = try grey.pixels.withUnsafeBufferPointer { image in
                try rects.withUnsafeMutableBufferPointer { out in
                    try OpenCVError.check {
                        cvshim_cascade_detect(cascade, image.baseAddress! + r.y * grey.width + r.x,
                                              Int32(r.width), Int32(r.height), Int32(grey.width),
                                              parameters.scaleFactor, Int32(parameters.minNeighbors),
                                              Int32(minSize), Int32(maxSize),
                                              out.baseAddress, Int32(out.count), $0, $1)
                    }
                }
            }
            if found > rects.count {
                rects = [cvshim_rect](repeating: cvshim_rect(), count: found)
                continue
            }
            let sx = Double(sourceWidth) / Double(grey.width), sy = Double(sourceHeight) / Double(grey.height)
            return rects[..<found]
                .map { Box(x: Double(r.x + Int($0.x)) * sx, y: Double(r.y + Int($0.y)) * sy,
                           width: Double($0.width) * sx, height: Double($0.height) * sy) }
                .sorted { $0.area > $1.area }
        }
    }
}

/// A rectangle of whole pixels.
struct Region: Equatable {
    var x, y, width, height: Int
}
