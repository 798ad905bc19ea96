import Foundation

/// Backward bilinear warp by a per-pixel flow in pixels, with border clamping: what
/// F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True) computes
/// for grid = the pixel grid moved by the flow, normalised to −1…1.
///   image [N, C, H, W], flow [N, 2, H, W] (channel 0: x / columns, 1: y / rows) → [N, C, H, W]
///   sx = clamp(x + flow_x, 0, W − 1), sy = clamp(y + flow_y, 0, H − 1),
///   x0 = ⌊sx⌋, x1 = min(x0 + 1, W − 1), wx = sx − x0 (y likewise)
///   out[n, c, y, x] = (1 − wy)·((1 − wx)·I[y0, x0] + wx·I[y0, x1]) + wy·((1 − wx)·I[y1, x0] + wx·I[y1, x1])
///   backward: dI at the four corners += g times their weights;
///             dflow_x = Σ_c g·((1 − wy)·(I[y0, x1] − I[y0, x0]) + wy·(I[y1, x1] − I[y1, x0])), 0 where clamped
///             (dflow_y likewise with the roles of x and y swapped)
public func warpBilinear(_ image: Tensor, flow: Tensor) -> Tensor {
    precondition(image.rank == 4 && flow.shape == [image.shape[0], 2, image.shape[2], image.shape[3]],
                 "warpBilinear of \(image.shape) by flow \(flow.shape)")
    let (n, c, h, w) = (image.shape[0], image.shape[1], image.shape[2], image.shape[3]), plane = h * w

    /// The sample point of pixel p of image i: its four corner offsets in the plane, the weights
    /// and whether each coordinate is inside (not clamped, so the flow gets a gradient).
    struct Sample { var i00, i01, i10, i11: Int; var wx, wy: Float; var freeX, freeY: Bool }
    func sample(_ i: Int, _ p: Int, _ F: UnsafePointer<Float>) -> Sample {
        let (y, x) = (p / w, p % w)
        let fx = Float(x) + F[(i * 2) * plane + p], fy = Float(y) + F[(i * 2 + 1) * plane + p]
        let sx = min(max(fx, 0), Float(w - 1)), sy = min(max(fy, 0), Float(h - 1))
        let x0 = Int(sx), y0 = Int(sy), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
        return Sample(i00: y0 * w + x0, i01: y0 * w + x1, i10: y1 * w + x0, i11: y1 * w + x1,
                      wx: sx - Float(x0), wy: sy - Float(y0),
                      freeX: fx > 0 && fx < Float(w - 1), freeY: fy > 0 && fy < Float(h - 1))
    }

    let out = Tensor(shape: image.shape)
    let I = image.data, F = flow.data, Y = out.data
    parallelItems(n) { i in
        for p in 0..<plane {
            let s = sample(i, p, F)
            for ch in 0..<c {
                let src = I + (i * c + ch) * plane
                Y[(i * c + ch) * plane + p] = (1 - s.wy) * ((1 - s.wx) * src[s.i00] + s.wx * src[s.i01])
                                              + s.wy * ((1 - s.wx) * src[s.i10] + s.wx * src[s.i11])
            }
        }
    }

    out.record([image, flow]) { out in
        let G = out.grad!.pointer
        let DI = image.requiresGrad ? image.gradPointer() : nil, DF = flow.requiresGrad ? flow.gradPointer() : nil
        parallelItems(n) { i in   // each image's planes and flow belong to one item: no shared writes
            for p in 0..<plane {
                let s = sample(i, p, F)
                var dx: Float = 0, dy: Float = 0
                for ch in 0..<c {
                    let g = G[(i * c + ch) * plane + p], src = I + (i * c + ch) * plane
                    if let DI {
                        let d = DI + (i * c + ch) * plane
                        d[s.i00] += g * (1 - s.wy) * (1 - s.wx); d[s.i01] += g * (1 - s.wy) * s.wx
                        d[s.i10] += g * s.wy * (1 - s.wx);       d[s.i11] += g * s.wy * s.wx
                    }
                    dx += g * ((1 - s.wy) * (src[s.i01] - src[s.i00]) + s.wy * (src[s.i11] - src[s.i10]))
                    dy += g * ((1 - s.wx) * (src[s.i10] - src[s.i00]) + s.wx * (src[s.i11] - src[s.i01]))
                }
                if let DF {
                    if s.freeX { DF[(i * 2) * plane + p] += dx }
                    if s.freeY { DF[(i * 2 + 1) * plane + p] += dy }
                }
            }
        }
    }
    return out
}
