// A canvas sampled from an image through a rotation about a point: the CNN detector's rotation
// fallback detects on such a canvas, and the crop's rotation option cuts its upright crop
// from one; `cals dub` samples an edited canvas back onto the image (the inverse).
import COpenCVShim
import Common
import Foundation

/// Canvas point q (continuous pixel coordinates, (0, 0) the canvas's top-left corner) ↦ image
/// point `centre` + R(`angle`)·(q − canvas centre), R the rotation by `angle` radians (clockwise
/// on screen, y pointing down). So the canvas's x axis runs along the image direction
/// (cos angle, sin angle): a face whose eye line has that direction is upright on the canvas.
/// With angle 0 and a whole or half-pixel centre the canvas is a rectangle of image pixels
/// (`init(box:)`), copied pixel for pixel both ways.
public struct ImageRotation: Equatable, Sendable {
    /// The image point at the canvas's centre.
    public let centre: SIMD2<Double>
    public let angle: Double
    public let width, height: Int
    /// cos and sin of `angle`, computed once: points are mapped per pixel.
    let cosAngle, sinAngle: Double

    public init(centre: SIMD2<Double>, angle: Double, width: Int, height: Int) {
        (self.centre, self.angle, self.width, self.height) = (centre, angle, width, height)
        (cosAngle, sinAngle) = (cos(angle), sin(angle))
    }

    /// The canvas that is `box` itself, unturned.
    public init(box: FaceBox) {
        self.init(centre: SIMD2(Double(box.x) + Double(box.width) / 2, Double(box.y) + Double(box.height) / 2),
                  angle: 0, width: Int(box.width), height: Int(box.height))
    }

    /// The canvas of `width` × `height` holding the whole `width` × `height` region about
    /// `centre` once turned by `angle` (so no part of the region is cut off).
    static func holding(centre: SIMD2<Double>, width: Double, height: Double, angle: Double) -> ImageRotation {
        let c = abs(cos(angle)), s = abs(sin(angle))
        return ImageRotation(centre: centre, angle: angle, width: max(1, Int((width * c + height * s).rounded(.up))),
                             height: max(1, Int((width * s + height * c).rounded(.up))))
    }

    var canvasCentre: SIMD2<Double> { SIMD2(Double(width), Double(height)) / 2 }

    /// The image point under canvas point `q` (forward).
    public func imagePoint(_ q: SIMD2<Double>) -> SIMD2<Double> {
        let d = q - canvasCentre
        return centre + SIMD2(cosAngle * d.x - sinAngle * d.y, sinAngle * d.x + cosAngle * d.y)
    }

    /// The canvas point over image point `p` (inverse): canvas centre + R(−angle)·(p − centre).
    public func canvasPoint(_ p: SIMD2<Double>) -> SIMD2<Double> {
        let d = p - centre
        return canvasCentre + SIMD2(cosAngle * d.x + sinAngle * d.y, -sinAngle * d.x + cosAngle * d.y)
    }

    /// The canvas sampled from `image` (forward; bilinear; outside the image its border
    /// mirrored, as `cvshim_remap_rgb` does, or with `outside` the canvas pixels whose centre
    /// falls outside the image set to that grey level).
    ///   image [H, W, 3] → canvas [height, width, 3]
    public func canvas(of image: RGBImage, outside: UInt8? = nil) throws -> RGBImage {
        try Self.sample(image, width: width, height: height, at: centre, turnedBy: (cosAngle, sinAngle), around: canvasCentre,
                        outside: outside)
    }

    /// Image pixels [x0, x1) × [y0, y1) sampled from `canvas` (a `width` × `height` canvas of
    /// this rotation, e.g. an edited one; inverse; bilinear; past the canvas its border mirrored).
    ///   canvas [height, width, 3] → [y1 − y0, x1 − x0, 3]
    public func image(of canvas: RGBImage, x0: Int, y0: Int, x1: Int, y1: Int) throws -> RGBImage {
        precondition(canvas.width == width && canvas.height == height, "canvas \(canvas.width)x\(canvas.height) is not \(width)x\(height)")
        return try Self.sample(canvas, width: x1 - x0, height: y1 - y0, at: canvasCentre, turnedBy: (cosAngle, -sinAngle),
                               around: centre - SIMD2(Double(x0), Double(y0)))
    }

    /// The whole image pixels [x0, x1) × [y0, y1) that canvas rows [row0, row1) (continuous,
    /// 0 ≤ row0 < row1 ≤ height) cover: the box around their four turned corners.
    public func imageBounds(rows row0: Double, _ row1: Double) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let corners = [SIMD2(0, row0), SIMD2(Double(width), row0), SIMD2(0, row1), SIMD2(Double(width), row1)].map(imagePoint)
        let low = corners.reduce(SIMD2(repeating: Double.infinity)) { pointwiseMin($0, $1) }
        let high = corners.reduce(SIMD2(repeating: -Double.infinity)) { pointwiseMax($0, $1) }
        // Frame coordinates are far inside ±1e9; the clamp keeps Int() from trapping on odd values.
        func pixel(_ v: Double, _ rule: FloatingPointRoundingRule) -> Int { v.isFinite ? Int(min(max(v, -1e9), 1e9).rounded(rule)) : 0 }
        return (pixel(low.x, .down), pixel(low.y, .down), pixel(high.x, .up), pixel(high.y, .up))
    }

    /// The `width` × `height` image whose pixel (x, y) is `source` at a + R(θ)·((x, y) + ½ − b) − ½
    /// (pixel centres at half-integers), `turnedBy` (cos θ, sin θ): both directions of the
    /// rotation are this map.
    static func sample(_ source: RGBImage, width: Int, height: Int, at a: SIMD2<Double>, turnedBy rotation: (cos: Double, sin: Double),
                       around b: SIMD2<Double>, outside: UInt8? = nil) throws -> RGBImage {
        let count = width * height
        var mapX = [Float](repeating: 0, count: count), mapY = [Float](repeating: 0, count: count)
        let (cosA, sinA) = rotation
        mapX.withUnsafeMutableBufferPointer { mx in mapY.withUnsafeMutableBufferPointer { my in
            for y in 0..<height {
                let dy = Double(y) + 0.5 - b.y
                for x in 0..<width {
                    let dx = Double(x) + 0.5 - b.x
                    mx[y * width + x] = Float(a.x + cosA * dx - sinA * dy - 0.5)
                    my[y * width + x] = Float(a.y + sinA * dx + cosA * dy - 0.5)
                }
            }
        } }
        var out = [UInt8](repeating: 0, count: count * 3)
        _ = try source.pixels.withUnsafeBufferPointer { src in
            try OpenCVError.check {
                cvshim_remap_rgb(src.baseAddress, Int32(source.width), Int32(source.height), mapX, mapY, &out,
                                 Int32(width), Int32(height), $0, $1)
            }
        }
        if let outside {
            let w = Float(source.width) - 0.5, h = Float(source.height) - 0.5
            mapX.withUnsafeBufferPointer { mx in mapY.withUnsafeBufferPointer { my in out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count where mx[i] < -0.5 || my[i] < -0.5 || mx[i] > w || my[i] > h {
                    o[3 * i] = outside
                    o[3 * i + 1] = outside
                    o[3 * i + 2] = outside
                }
            } } }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
