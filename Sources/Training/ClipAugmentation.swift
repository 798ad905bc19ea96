import Foundation
import Tensor

/// Per-clip augmentation of training faces, so a model cannot key on the few training faces'
/// exact colours, sizes, tilts and sharpness: one draw per clip of a horizontal flip, a rotation,
/// a zoom and a shift (one bilinear warp), a grey conversion, a per-channel gain/bias and a
/// Gaussian blur, applied alike to every frame given (lip motion across frames is untouched).
/// The sync trainer augments its visual windows (the audio stream is not augmented: a mel
/// frequency stretch ±12% and level ±0.4 per clip was tried, no held-out gain); the L2F trainer
/// augments each window's reference and target frames together.
///
/// Rotation, zoom, grey and blur came later: in the configs of older checkpoints they read as off
/// (`CheckpointKind.augmentationFields`), so such a run resumes as it was trained.
public struct ClipAugmentation: Codable, Equatable, Sendable {
    /// Largest shift in pixels, in x and y alike (edges repeat).
    public var maxShift = 6
    /// Gains are drawn from 1 ± jitter and biases from ± jitter / 2, per RGB channel.
    public var colourJitter: Float = 0.25
    public var flip = true
    /// Largest rotation in degrees, either way, about the crop's mouth area (x centre, y = ⌊h/3⌋).
    public var maxRotation: Float = 15
    /// Zoom drawn from 1 ± zoom.
    public var zoom: Float = 0.15
    /// Chance of converting the clip to grey (luma in all three channels).
    public var greyChance: Float = 0.2
    /// Chance of a Gaussian blur, its σ drawn from 0.3…maxBlur pixels.
    public var blurChance: Float = 0.4
    public var maxBlur: Float = 1.5
    public init() {}

    /// No augmentation at all (each part can then be switched on alone).
    public static var none: ClipAugmentation {
        var a = ClipAugmentation()
        (a.maxShift, a.colourJitter, a.flip) = (0, 0, false)
        (a.maxRotation, a.zoom, a.greyChance, a.blurChance) = (0, 0, 0, 0)
        return a
    }

    /// One clip's random draw: everything `apply` does to its frames.
    public struct Draw {
        let shift: (Int, Int), mirror: Bool
        let gain: [Float], bias: [Float]   // per RGB channel
        let angle: Float, scale: Float, grey: Bool
        let sigma: Float?
    }

    /// Draws one clip's augmentation from `rng` (a fixed sequence of draws, whatever the frames).
    public func draw(_ rng: inout RandomGenerator) -> Draw {
        func symmetric(_ limit: Float) -> Float { limit * (2 * rng.uniform() - 1) }
        let dx = rng.int(below: 2 * maxShift + 1) - maxShift, dy = rng.int(below: 2 * maxShift + 1) - maxShift
        let mirror = flip && rng.int(below: 2) == 1
        var gain: [Float] = [], bias: [Float] = []
        for _ in 0..<3 {
            gain.append(1 + symmetric(colourJitter))
            bias.append(symmetric(colourJitter / 2))
        }
        let angle = symmetric(maxRotation) * .pi / 180, scale = 1 + symmetric(zoom)
        let grey = rng.uniform() < greyChance
        let sigma: Float? = rng.uniform() < blurChance ? 0.3 + rng.uniform() * max(0, maxBlur - 0.3) : nil
        return Draw(shift: (dx, dy), mirror: mirror, gain: gain, bias: bias, angle: angle, scale: scale, grey: grey, sigma: sigma)
    }

    /// Augments frames [W, 3k, H, W'] (RGB 0…1, frame j in channels 3j…3j+2; the sync windows are
    /// [W, 15, 64, 128]) in place, all with one draw from `rng`.
    public func apply(to windows: Tensor, rng: inout RandomGenerator) {
        Self.apply(draw(&rng), to: windows)
    }

    /// Augments frames [W, 3k, H, W'] in place as `draw` says.
    public static func apply(_ draw: Draw, to windows: Tensor) {
        let (h, w) = (windows.shape[2], windows.shape[3]), plane = h * w, frames = windows.count / (3 * plane)
        let (mirror, gain, bias, grey) = (draw.mirror, draw.gain, draw.bias, draw.grey)
        let warp = BilinearMap(height: h, width: w, angle: draw.angle, scale: draw.scale, mirror: mirror, shift: draw.shift)
        let kernel = draw.sigma.map(gaussianKernel)
        windows.withUnsafeMutableBufferPointer { windowsBuffer in
            let X = windowsBuffer.baseAddress!
            parallelItems(frames) { f in
                let rgb = X + 3 * f * plane
                var source = [Float](UnsafeBufferPointer(start: rgb, count: 3 * plane))
                source.withUnsafeMutableBufferPointer { s in
                    for c in 0..<3 { warp.apply(from: s.baseAddress! + c * plane, to: rgb + c * plane) }
                    if grey {
                        for i in 0..<plane {
                            let y = 0.299 * rgb[i] + 0.587 * rgb[plane + i] + 0.114 * rgb[2 * plane + i]
                            (rgb[i], rgb[plane + i], rgb[2 * plane + i]) = (y, y, y)
                        }
                    }
                    for c in 0..<3 {
                        let out = rgb + c * plane, (g, b) = (gain[c], bias[c])
                        for i in 0..<plane { out[i] = min(max(g * out[i] + b, 0), 1) }
                        if let kernel { blur(out, height: h, width: w, kernel: kernel, scratch: s.baseAddress!) }
                    }
                }
            }
        }
    }
}

/// Output pixel → bilinear sample of the source: source = centre + R(angle)·(±u, v) / scale + shift,
/// (u, v) the output pixel relative to the centre ((w − 1)/2, ⌊h/3⌋); coordinates clamped to the
/// plane (edges repeat). With angle 0 and scale 1 every sample falls on a pixel and is exact.
private struct BilinearMap {
    var index: [Int32] = []      // top-left source pixel
    var step: [Int32] = []       // 1 if there is a right neighbour, else 0
    var rowStep: [Int32] = []    // w if there is a neighbour below, else 0
    var fx: [Float] = [], fy: [Float] = []

    init(height h: Int, width w: Int, angle: Float, scale: Float, mirror: Bool, shift: (Int, Int)) {
        let (cx, cy) = (Float(w - 1) / 2, Float(h / 3)), (c, s) = (cos(angle) / scale, sin(angle) / scale)
        for y in 0..<h {
            for x in 0..<w {
                let u = (mirror ? -1 : 1) * (Float(x) - cx), v = Float(y) - cy
                let sx = min(max(cx + c * u - s * v + Float(shift.0), 0), Float(w - 1))
                let sy = min(max(cy + s * u + c * v + Float(shift.1), 0), Float(h - 1))
                let (x0, y0) = (Int(sx), Int(sy))
                index.append(Int32(y0 * w + x0))
                step.append(x0 + 1 < w ? 1 : 0)
                rowStep.append(y0 + 1 < h ? Int32(w) : 0)
                fx.append(sx - Float(x0))
                fy.append(sy - Float(y0))
            }
        }
    }

    func apply(from source: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>) {
        for i in 0..<index.count {
            let p = source + Int(index[i]), (r, d) = (Int(step[i]), Int(rowStep[i]))
            let top = p[0] + fx[i] * (p[r] - p[0]), bottom = p[d] + fx[i] * (p[d + r] - p[d])
            out[i] = top + fy[i] * (bottom - top)
        }
    }
}

/// Normalised Gaussian taps for σ, radius ⌈2σ⌉.
private func gaussianKernel(_ sigma: Float) -> [Float] {
    let radius = Int((2 * sigma).rounded(.up))
    let taps = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
    let sum = taps.reduce(0, +)
    return taps.map { $0 / sum }
}

/// Separable blur of one [h, w] plane in place with edges repeated; `scratch` holds h·w floats.
private func blur(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, kernel: [Float],
                  scratch: UnsafeMutablePointer<Float>) {
    let r = kernel.count / 2
    for y in 0..<h {
        for x in 0..<w {
            var sum: Float = 0
            for k in 0..<kernel.count { sum += kernel[k] * plane[y * w + min(max(x + k - r, 0), w - 1)] }
            scratch[y * w + x] = sum
        }
    }
    for y in 0..<h {
        for x in 0..<w {
            var sum: Float = 0
            for k in 0..<kernel.count { sum += kernel[k] * scratch[min(max(y + k - r, 0), h - 1) * w + x] }
            plane[y * w + x] = sum
        }
    }
}
