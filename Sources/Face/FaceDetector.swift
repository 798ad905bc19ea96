// The Haar frontal-face detector: cascade lookup, downscaled grey detection, boxes in source pixels.
import COpenCVShim
import Common
import Foundation

/// A box in source pixels with fractional coordinates (what tracking interpolates and averages).
struct Box: Equatable {
    var x, y, width, height: Double

    var area: Double { width * height }

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

    var rounded: FaceBox {
        FaceBox(x: Int32(clamping: Int(x.rounded())), y: Int32(clamping: Int(y.rounded())),
                width: Int32(clamping: Int(width.rounded())), height: Int32(clamping: Int(height.rounded())))
    }
}

/// OpenCV's Haar frontal-face cascade (`haarcascade_frontalface_default.xml` from opencv-data).
/// Not thread-safe: give each thread its own detector.
public final class FaceDetector {
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
    private let cascade: OpaquePointer

    /// Loads the cascade from the first of `searchDirectories` that holds it; throws an
    /// InputError naming every path tried when none does.
    public convenience init(searchDirectories: [String] = FaceDetector.searchDirectories) throws {
        let candidates = searchDirectories.map {
            URL(fileURLWithPath: $0).appendingPathComponent(FaceDetector.cascadeFileName).path
        }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw InputError(candidates.joined(separator: ", "),
                             "Haar cascade not found (install opencv-data or set CALS_HAAR_DIR)")
        }
        try self.init(cascadePath: path)
    }

    /// Loads the cascade at `cascadePath`.
    public init(cascadePath: String) throws {
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
        self.cascade = handle!
    }

    deinit { cvshim_cascade_free(cascade) }

    /// The detection image size for a `width x height` frame: longest side at most
    /// `parameters.detectionLongSide`, aspect kept, never upscaled.
    static func detectionSize(width: Int, height: Int, parameters: FaceParameters) -> (width: Int, height: Int) {
        let scale = min(1, Double(parameters.detectionLongSide) / Double(max(width, height)))
        return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    /// The frame downscaled to its detection size, in grey.
    static func detectionImage(_ frame: RGBImage, parameters: FaceParameters) throws -> GreyImage {
        let size = detectionSize(width: frame.width, height: frame.height, parameters: parameters)
        return try frame.grey(width: size.width, height: size.height)
    }

    /// Faces on `frame`, in source pixels, largest first.
    public func detect(in frame: RGBImage, parameters: FaceParameters = FaceParameters()) throws -> [FaceBox] {
        let grey = try FaceDetector.detectionImage(frame, parameters: parameters)
        return try detect(grey: grey, sourceWidth: frame.width, sourceHeight: frame.height,
                          parameters: parameters).map(\.rounded)
    }

    /// Faces on a detection image of a `sourceWidth x sourceHeight` frame, in source pixels,
    /// largest first. Only faces whose side lies in `sizes` (detection pixels; nil: from
    /// `parameters.minFaceSize` up) inside `region` (detection pixels, within the image; nil:
    /// the whole image) are searched.
    func detect(grey: GreyImage, sourceWidth: Int, sourceHeight: Int, parameters: FaceParameters,
                region: Region? = nil, sizes: ClosedRange<Int>? = nil) throws -> [Box] {
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
