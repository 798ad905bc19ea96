import Common
import Face

extension RGBImage {
    /// Puts the lower half of `face` (a square face crop, e.g. a generated 128×128 one) back into
    /// this frame: the inverse of the crop transform (`FaceTrackProcessor`'s `cropBox`, cut with
    /// `croppedSquare`). `face` is resized to the square's side and mixed into the frame over the
    /// square's lower half as w·face + (1 − w)·frame, with a feathered mask w = wx·wy that ramps
    /// from 0 to 1 over `feather`·side pixels inwards from the square's middle row, its bottom
    /// and its sides, so no seam shows. Pixels outside the square's lower half, and the parts of
    /// the square past the frame edges, are left as they are.
    ///   face [S, S, 3] → self [height, width, 3] (changed only inside square's lower half)
    public mutating func blendLowerHalf(of face: RGBImage, into square: FaceBox, feather: Double = 0.12) throws {
        precondition(face.width == face.height, "face crop \(face.width)x\(face.height) is not square")
        let side = Int(square.width), left = Int(square.x), top = Int(square.y), middle = side / 2
        let x0 = max(0, left), x1 = min(width, left + side)
        let y0 = max(0, top + middle), y1 = min(height, top + side)
        guard side >= 2, x0 < x1, y0 < y1 else { return }
        let resized = try face.resized(width: side, height: side)   // [side, side, 3]
        // Ramp weight of a pixel `d` pixels inside the nearest feathered edge.
        let ramp = max(1, feather * Double(side))
        func weight(_ d: Int) -> Float { Float(min(1, (Double(d) + 0.5) / ramp)) }
        let columnWeights = (0..<side).map { c in weight(min(c, side - 1 - c)) }
        let frameWidth = width
        pixels.withUnsafeMutableBufferPointer { frame in
            resized.pixels.withUnsafeBufferPointer { source in
                columnWeights.withUnsafeBufferPointer { wx in
                    let F = frame.baseAddress!, S = source.baseAddress!
                    for y in y0..<y1 {
                        let r = y - top                                  // row in the square
                        let wy = weight(min(r - middle, side - 1 - r))
                        for x in x0..<x1 {
                            let c = x - left                             // column in the square
                            let w = wy * wx[c]
                            let d = F + (y * frameWidth + x) * 3, s = S + (r * side + c) * 3
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
}
