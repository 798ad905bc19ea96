import Common
import Face

extension RGBImage {
    /// Puts the lower half of `face` (a square face crop, e.g. a generated 128×128 one) back into
    /// this frame through the inverse of the crop transform: `crop` is the region the tracker's
    /// crop was resampled from (`TrackedFrame.cropRegion`: the `cropBox` square, turned about its
    /// centre with `crop_rotation`). `face` is resized to the region's side, and each frame pixel
    /// the region's lower half covers is mixed as w·face + (1 − w)·frame, the face sampled at the
    /// pixel's point q on the region (`ImageRotation.canvasPoint`, bilinear) and w = wx·wy a
    /// feathered mask in the region's own rows and columns that ramps from 0 to 1 over
    /// `feather`·side pixels inwards from its middle row, its bottom and its sides, so no seam
    /// shows and a turned face gets a turned mask. Unturned (angle 0) the region is the square's
    /// pixels themselves and each is mixed with the resized face's pixel at the same place.
    /// Pixels outside the region's lower half, and the parts of it past the frame edges, are left
    /// as they are.
    ///   face [S, S, 3] → self [height, width, 3] (changed only inside the region's lower half)
    public mutating func blendLowerHalf(of face: RGBImage, into crop: ImageRotation, feather: Double = 0.12) throws {
        precondition(face.width == face.height, "face crop \(face.width)x\(face.height) is not square")
        precondition(crop.width == crop.height, "crop region \(crop.width)x\(crop.height) is not square")
        let side = crop.width, middle = Double(side / 2), edge = Double(side)
        guard side >= 2 else { return }
        let bounds = crop.imageBounds(rows: middle, edge)
        let x0 = max(0, bounds.x0), x1 = min(width, bounds.x1), y0 = max(0, bounds.y0), y1 = min(height, bounds.y1)
        guard x0 < x1, y0 < y1 else { return }
        let resized = try face.resized(width: side, height: side)                      // [side, side, 3]
        let patch = try crop.image(of: resized, x0: x0, y0: y0, x1: x1, y1: y1)        // [y1 − y0, x1 − x0, 3]
        // Ramp weight of a point `d` pixels inside the nearest feathered edge (0 outside).
        let ramp = max(1, feather * edge)
        func weight(_ d: Double) -> Float { d <= 0 ? 0 : Float(min(1, d / ramp)) }
        let (frameWidth, patchWidth) = (width, x1 - x0)
        pixels.withUnsafeMutableBufferPointer { frame in
            patch.pixels.withUnsafeBufferPointer { source in
                let F = frame.baseAddress!, S = source.baseAddress!
                for y in y0..<y1 {
                    for x in x0..<x1 {
                        let q = crop.canvasPoint(SIMD2(Double(x) + 0.5, Double(y) + 0.5))   // point on the region
                        let w = weight(min(q.y - middle, edge - q.y)) * weight(min(q.x, edge - q.x))
                        guard w > 0 else { continue }
                        let d = F + (y * frameWidth + x) * 3, s = S + ((y - y0) * patchWidth + (x - x0)) * 3
                        for ch in 0..<3 {
                            let old = Float(d[ch])
                            d[ch] = UInt8((old + w * (Float(s[ch]) - old)).rounded())
                        }
                    }
                }
            }
        }
    }
}
