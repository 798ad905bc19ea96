import COpenCVShim
import Common
import Face
import Foundation

/// How one speaker's copy of an identity looks: face size, colour and background.
public struct FaceStyle: Codable, Equatable, Sendable {
    /// Face size in the frame relative to the identity's crop (≈ 0.92 … 1.08).
    public var scale: Double
    /// Colour gain per channel (R, G, B), ≈ 0.9 … 1.1.
    public var gain: [Double]
    /// Colour (R, G, B, 0…255) blended over everything outside the head.
    public var background: [Double]
    /// How much of `background` is blended in (0 = the photo's own background).
    public var backgroundStrength: Double

    public init(scale: Double, gain: [Double], background: [Double], backgroundStrength: Double) {
        self.scale = scale
        self.gain = gain
        self.background = background
        self.backgroundStrength = backgroundStrength
    }

    public static func random(using g: inout SeededGenerator) -> FaceStyle {
        FaceStyle(scale: g.uniform(0.92, 1.08),
                  gain: (0..<3).map { _ in g.uniform(0.9, 1.1) },
                  background: (0..<3).map { _ in g.uniform(20, 235) },
                  backgroundStrength: g.uniform(0.3, 0.6))
    }
}

/// Head pose and eyelids of one frame: a shift (frame pixels), a roll (radians), a zoom, and
/// the blink closure (0 open … 1 closed).
public struct HeadPose: Codable, Equatable, Sendable {
    public var dx: Double
    public var dy: Double
    public var angle: Double
    public var scale: Double
    public var blink: Double

    public static let still = HeadPose(dx: 0, dy: 0, angle: 0, scale: 1, blink: 0)
}

/// Slight head motion (two slow sinusoids per axis) and blinks (every 1.5–4 s, 0.2 s long)
/// for one clip.
public struct HeadMotion: Sendable {
    private var phases: [Double] = []
    private var blinks: [Double] = []

    public init(duration: Double, using g: inout SeededGenerator) {
        phases = (0..<8).map { _ in g.uniform(0, 2 * Double.pi) }
        var t = g.uniform(0.3, 2.0)
        while t < duration {
            blinks.append(t)
            t += g.uniform(1.5, 4.0)
        }
    }

    public func pose(at t: Double) -> HeadPose {
        func wave(_ i: Int, _ f: Double) -> Double {
            0.6 * sin(2 * .pi * f * t + phases[i]) + 0.4 * sin(2 * .pi * 2.7 * f * t + phases[i + 4])
        }
        var blink = 0.0
        for start in blinks where t >= start && t < start + 0.2 {
            blink = sin(.pi * (t - start) / 0.2)
        }
        return HeadPose(dx: 3 * wave(0, 0.23), dy: 2 * wave(1, 0.19), angle: 0.03 * wave(2, 0.13),
                        scale: 1 + 0.015 * wave(3, 0.17), blink: blink)
    }
}

/// One rendered frame and where its mouth is (frame pixels), for measurements.
public struct RenderedFrame: Sendable {
    public var image: RGBImage
    /// Mouth centre x, y and the half-width of the closed mouth, in frame pixels.
    public var mouth: [Double]
}

/// Renders an identity's photo with a given mouth shape and head pose.
///
/// Each frame is one backward warp (cv::remap) of the photo: output pixel → photo point by the
/// head pose (rotation, zoom, shift), then displaced by the mouth and eyelid fields below.
/// The mouth field (all lengths in photo pixels, s = face box size, a = 0.18 s, X, Y relative
/// to the mouth centre):
/// - lip spread: X scales by 1 + 0.12·width near the mouth (Gaussian envelope);
/// - opening O = 0.17 s·jaw splits into an upper-lip lift 0.3·O and a jaw drop 0.7·O, shaped
///   across the mouth by lens(X) = (1 − (X/hw)²)^(1 − rounding/2) (rounder when rounded,
///   closed at the corners; hw = a·(1 + 0.12·width)·(1 − 0.25·rounding));
/// - the jaw drop carries the chin with it (broad Gaussian across X, fading below the chin);
/// - between the lips (the gap the opening leaves) the oral cavity is painted dark.
public final class FaceRenderer {
    public let photo: FacePhoto
    public let style: FaceStyle
    public let frameSize: Int

    // Reused per-frame buffers, [frameSize, frameSize] each.
    private var mapX: [Float]
    private var mapY: [Float]
    private var background: [Float]
    private var cavity: [Float]
    private var warped: [UInt8]

    static let cavityColour: [Float] = [38, 14, 16]

    public init(photo: FacePhoto, style: FaceStyle, frameSize: Int = 256) {
        self.photo = photo
        self.style = style
        self.frameSize = frameSize
        let n = frameSize * frameSize
        mapX = [Float](repeating: 0, count: n)
        mapY = [Float](repeating: 0, count: n)
        background = [Float](repeating: 0, count: n)
        cavity = [Float](repeating: 0, count: n)
        warped = [UInt8](repeating: 0, count: n * 3)
    }

    public func render(_ shape: MouthShape, pose: HeadPose) throws -> RenderedFrame {
        let fx = Double(photo.face.x), fy = Double(photo.face.y), s = Double(photo.face.width)
        let S = Double(frameSize)
        let cx = fx + s / 2, cy = fy + s / 2                                      // face centre
        let mx = fx + photo.identity.mouthX * s, my = fy + photo.identity.mouthY * s
        let k = photo.identity.cropFactor * s / (S * style.scale * pose.scale)   // photo px per frame px
        let cosA = cos(pose.angle), sinA = sin(pose.angle)
        let u0 = S / 2 + pose.dx, v0 = S / 2 + pose.dy
        let W = Double(photo.image.width), H = Double(photo.image.height)

        // Mouth field constants (photo pixels).
        let a = 0.18 * s
        let opening = 0.17 * s * max(0, min(1, shape.jaw))
        let lift = 0.3 * opening, drop = 0.7 * opening
        let spread = 1 + 0.12 * shape.width
        let halfWidth = a * spread * (1 - 0.25 * shape.rounding)
        let lensPower = 1 - 0.5 * shape.rounding
        let chin = 0.3 * s
        // Eyelids.
        let eyes = [(fx + 0.3 * s, fy + 0.4 * s), (fx + 0.7 * s, fy + 0.4 * s)]
        let lidDrop = pose.blink * 0.07 * s
        let strength = Float(style.backgroundStrength)

        mapX.withUnsafeMutableBufferPointer { mapX in
        mapY.withUnsafeMutableBufferPointer { mapY in
        background.withUnsafeMutableBufferPointer { bg in
        cavity.withUnsafeMutableBufferPointer { cav in
            for v in 0..<frameSize {
                for u in 0..<frameSize {
                    let i = v * frameSize + u
                    let ru = Double(u) - u0, rv = Double(v) - v0
                    var px = cx + k * (cosA * ru - sinA * rv)
                    var py = cy + k * (sinA * ru + cosA * rv)

                    // Background: outside a soft ellipse around the head; fully outside the photo.
                    let ex = (px - cx) / (0.75 * s), ey = (py - cy + 0.05 * s) / (0.95 * s)
                    let d = (ex * ex + ey * ey).squareRoot()
                    var alpha = strength * Float(smoothstep(1.0, 1.3, d))
                    let outside = max(-px, px - (W - 1), -py, py - (H - 1))
                    if outside > 0 { alpha = max(alpha, Float(min(1, outside / 2))) }
                    bg[i] = alpha

                    // Eyelids: pull the lid skin above each eye down over it.
                    if lidDrop > 0 {
                        for (ex, ey) in eyes {
                            let X = px - ex, Y = py - ey
                            if abs(X) < 0.25 * s && abs(Y) < 0.2 * s {
                                py -= lidDrop * exp(-(X * X) / (0.0144 * s * s) - (Y * Y) / (0.0049 * s * s))
                            }
                        }
                    }

                    // Mouth.
                    cav[i] = 0
                    var X = px - mx, Y = py - my
                    if abs(X) < 2.5 * a && Y > -0.25 * s && Y < 0.6 * s {
                        let e = exp(-(X * X) / (2.56 * a * a) - (Y * Y) / (a * a))
                        X /= 1 + (spread - 1) * e
                        let q = 1 - (X * X) / (halfWidth * halfWidth)
                        let lens = q > 0 ? pow(q, lensPower) : 0
                        let top = -lift * lens, bottom = drop * lens
                        if Y > top && Y < bottom {
                            // Between the lips: sample the lip line, paint the cavity over it.
                            cav[i] = Float(max(0, min(1, min(Y - top, bottom - Y) / k + 0.5)))
                            Y = 0
                        } else if Y >= bottom {
                            // Lower lip, chin: solve Y = Ys + drop·g(Ys) by fixed-point iteration.
                            let broad = exp(-(X * X) / (4.84 * a * a))
                            var ys = Y - bottom
                            for _ in 0..<6 {
                                let near = exp(-ys / (0.15 * s))
                                let fade = ys < chin ? 1 : exp(-(ys - chin) * (ys - chin) / (0.04 * s * s))
                                ys = max(0, Y - drop * (lens * near + broad * (1 - near) * fade))
                            }
                            Y = ys
                        } else if lift > 0 {
                            // Upper lip: solve Y = Ys − lift·lens·exp(Ys / 0.08 s), Ys < 0.
                            var ys = Y - top
                            for _ in 0..<6 { ys = min(0, Y + lift * lens * exp(ys / (0.08 * s))) }
                            Y = ys
                        }
                        px = mx + X
                        py = my + Y
                    }
                    mapX[i] = Float(px)
                    mapY[i] = Float(py)
                }
            }
        }}}}

        _ = try photo.image.pixels.withUnsafeBufferPointer { src in
            try OpenCVError.check {
                cvshim_remap_rgb(src.baseAddress, Int32(photo.image.width), Int32(photo.image.height),
                                 mapX, mapY, &warped, Int32(frameSize), Int32(frameSize), $0, $1)
            }
        }

        var out = [UInt8](repeating: 0, count: frameSize * frameSize * 3)
        let gain = style.gain.map(Float.init), tint = style.background.map(Float.init)
        let dark = FaceRenderer.cavityColour
        warped.withUnsafeBufferPointer { src in
        background.withUnsafeBufferPointer { bg in
        cavity.withUnsafeBufferPointer { cav in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<(frameSize * frameSize) {
                let b = bg[i], c = cav[i]
                for ch in 0..<3 {
                    var x = min(255, Float(src[3 * i + ch]) * gain[ch])
                    x += b * (tint[ch] - x)
                    x += c * (dark[ch] - x)
                    dst[3 * i + ch] = UInt8(max(0, min(255, x.rounded())))
                }
            }
        }}}}

        // Mouth centre in the frame: the inverse of the head pose mapping.
        let rx = (mx - cx) / k, ry = (my - cy) / k
        let mouth = [u0 + cosA * rx + sinA * ry, v0 - sinA * rx + cosA * ry, a / k]
        return RenderedFrame(image: RGBImage(width: frameSize, height: frameSize, pixels: out), mouth: mouth)
    }
}

/// 0 below `lo`, 1 above `hi`, a smooth cubic between.
private func smoothstep(_ lo: Double, _ hi: Double, _ x: Double) -> Double {
    let t = max(0, min(1, (x - lo) / (hi - lo)))
    return t * t * (3 - 2 * t)
}
