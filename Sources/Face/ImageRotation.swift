// A canvas sampled from an image through a rotation about a point: the CNN detector's rotation
// fallback detects on such a canvas, and the crop's rotation option cuts its upright crop
// from one.
import COpenCVShim
import Common
import Foundation

/// Canvas point q (continuous pixel coordinates, (0, 0) the canvas's top-left corner) ↦ image
/// point `centre` + R(`angle`)·(q − canvas centre), R the rotation by `angle` radians (clockwise
/// on screen, y pointing down). So the canvas's x axis runs along the image direction
/// (cos angle, sin angle): a face whose eye line has that direction is upright on the canvas.
struct ImageRotation {
    /// The image point at the canvas's centre.
    let centre: SIMD2<Double>
    let angle: Double
    let width, height: Int

    /// The canvas of `width` × `height` holding the whole `width` × `height` region about
    /// `centre` once turned by `angle` (so no part of the region is cut off).
    static func holding(centre: SIMD2<Double>, width: Double, height: Double, angle: Double) -> ImageRotation {
        let c = abs(cos(angle)), s = abs(sin(angle))
        return ImageRotation(centre: centre, angle: angle, width: max(1, Int((width * c + height * s).rounded(.up))),
                             height: max(1, Int((width * s + height * c).rounded(.up))))
    }

    /// The image point under canvas point `q`.
    func imagePoint(_ q: SIMD2<Double>) -> SIMD2<Double> {
        let d = q - SIMD2(Double(width), Double(height)) / 2
        return centre + SIMD2(cos(angle) * d.x - sin(angle) * d.y, sin(angle) * d.x + cos(angle) * d.y)
    }

    /// The canvas sampled from `image` (bilinear; outside the image its border mirrored, as
    /// `cvshim_remap_rgb` does, or with `outside` the canvas pixels whose centre falls outside
    /// the image set to that grey level).
    func canvas(of image: RGBImage, outside: UInt8? = nil) throws -> RGBImage {
        let count = width * height
        var mapX = [Float](repeating: 0, count: count), mapY = [Float](repeating: 0, count: count)
        let (cosA, sinA) = (cos(angle), sin(angle))
        let half = SIMD2(Double(width), Double(height)) / 2
        mapX.withUnsafeMutableBufferPointer { mx in mapY.withUnsafeMutableBufferPointer { my in
            for y in 0..<height {
                // Pixel centres: canvas pixel (x, y) is the point (x + 0.5, y + 0.5); image pixel i is at i + 0.5.
                let dy = Double(y) + 0.5 - half.y
                for x in 0..<width {
                    let dx = Double(x) + 0.5 - half.x
                    mx[y * width + x] = Float(centre.x + cosA * dx - sinA * dy - 0.5)
                    my[y * width + x] = Float(centre.y + sinA * dx + cosA * dy - 0.5)
                }
            }
        } }
        var out = [UInt8](repeating: 0, count: count * 3)
        _ = try image.pixels.withUnsafeBufferPointer { src in
            try OpenCVError.check {
                cvshim_remap_rgb(src.baseAddress, Int32(image.width), Int32(image.height), mapX, mapY, &out,
                                 Int32(width), Int32(height), $0, $1)
            }
        }
        if let outside {
            let w = Float(image.width) - 0.5, h = Float(image.height) - 0.5
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
