// Test frames made in memory: the astronaut photo from scikit-image pasted onto moving
// backgrounds (noise, gradients, random rectangles) at known positions.
import Common
import Face
import XCTest

/// A deterministic random source (SplitMix64), so every run makes the same frames.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Background {
    case noise, gradient, shapes
}

/// One frame to render: a background kind animated by `time`, and the paste position of the
/// face patch's top-left corner (nil: no face).
struct SceneFrame {
    var background: Background
    var time: Int
    var face: (x: Int, y: Int)?
}

enum Scenes {
    static let astronautPath = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
    static let width = 640, height = 360

    /// The face patch cut from astronaut.png: 224×224 from (112, 16). OpenCV-Python's Haar
    /// detector puts the face at (177, 66, 95, 95) in the photo, so the face centre sits at
    /// (112.5, 97.5) in the patch and the face side is about 95 px.
    static let patchOrigin = (x: 112, y: 16), patchSide = 224
    static let faceCentreInPatch = (x: 112.5, y: 97.5), faceSide = 95.0

    static func astronaut() throws -> RGBImage {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: astronautPath),
                          "needs python3-skimage (\(astronautPath))")
        return try RGBImage(contentsOfFile: astronautPath)
    }

    /// The expected face centre in a frame whose patch is at `face`.
    static func faceCentre(_ face: (x: Int, y: Int)) -> (x: Double, y: Double) {
        (Double(face.x) + faceCentreInPatch.x, Double(face.y) + faceCentreInPatch.y)
    }

    static func render(_ scene: SceneFrame, astronaut: RGBImage) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        image.pixels.withUnsafeMutableBufferPointer { out in
            drawBackground(scene.background, time: scene.time, into: out)
            if let face = scene.face {
                astronaut.pixels.withUnsafeBufferPointer { src in
                    for row in 0..<patchSide {
                        let s = ((patchOrigin.y + row) * astronaut.width + patchOrigin.x) * 3
                        let d = ((face.y + row) * width + face.x) * 3
                        for k in 0..<(patchSide * 3) { out[d + k] = src[s + k] }
                    }
                }
            }
        }
        return image
    }

    /// out: [height, width, 3]
    private static func drawBackground(_ kind: Background, time: Int, into out: UnsafeMutableBufferPointer<UInt8>) {
        var rng = SplitMix64(state: UInt64(time) &* 7919 &+ 17)
        switch kind {
        case .noise:
            for i in 0..<out.count { out[i] = UInt8(truncatingIfNeeded: rng.next()) }
        case .gradient:
            // A diagonal colour ramp drifting 6 px per frame.
            for y in 0..<height {
                for x in 0..<width {
                    let i = (y * width + x) * 3
                    out[i] = UInt8((x + 6 * time) % 256)
                    out[i + 1] = UInt8((y * 2 + x / 3) % 256)
                    out[i + 2] = UInt8(255 - (x + y + 3 * time) % 256)
                }
            }
        case .shapes:
            // A grey field with 12 coloured rectangles, each sliding along its own direction.
            for i in 0..<out.count { out[i] = 90 }
            var layout = SplitMix64(state: 12345)
            for _ in 0..<12 {
                let w = Int(layout.next() % 120) + 20, h = Int(layout.next() % 90) + 20
                let x0 = Int(layout.next() % UInt64(width)), y0 = Int(layout.next() % UInt64(height))
                let vx = Int(layout.next() % 9) - 4, vy = Int(layout.next() % 7) - 3
                let colour = [UInt8](repeating: 0, count: 3).map { _ in UInt8(truncatingIfNeeded: layout.next()) }
                let left = (x0 + vx * time) %% width, top = (y0 + vy * time) %% height
                for y in top..<min(height, top + h) {
                    for x in left..<min(width, left + w) {
                        let i = (y * width + x) * 3
                        out[i] = colour[0]; out[i + 1] = colour[1]; out[i + 2] = colour[2]
                    }
                }
            }
        }
    }

    /// Pushes every scene frame through a processor; returns the emitted frames and the largest
    /// number of frames the processor held back at any time.
    static func track(_ scenes: [SceneFrame], parameters: FaceParameters = FaceParameters())
        throws -> (frames: [TrackedFrame], maxHeld: Int) {
        let astronaut = try astronaut()
        let processor = try FaceTrackProcessor(detector: try HaarFaceDetector(), parameters: parameters)
        var out: [TrackedFrame] = []
        var maxHeld = 0
        for (pushed, scene) in scenes.enumerated() {
            out += try processor.push(render(scene, astronaut: astronaut))
            let settled = out.last.map { $0.index + 1 } ?? 0
            maxHeld = max(maxHeld, pushed + 1 - settled)
        }
        out += try processor.finish()
        return (out, maxHeld)
    }
}

infix operator %%: MultiplicationPrecedence
/// Modulo with a non-negative result.
func %% (a: Int, n: Int) -> Int { ((a % n) + n) % n }
