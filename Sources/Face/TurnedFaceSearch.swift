// The CNN detector's fallback for faces turned far in the image plane. MTCNN finds faces up to
// about ±30° from upright (facenet-pytorch misses the same turned faces); a whole-frame search
// that finds nothing searches again on copies of the frame turned by ±45°, where such a face
// stands about upright, and keeps a face there only when O-Net's five points sit as on an
// upright face. It runs only where the plain search found nothing, so every frame with a face
// found upright gets exactly facenet-pytorch's result (the golden test).
import Common
import Foundation

extension MTCNNFaceDetector {
    /// The turns of the fallback's canvases, in radians: a face whose eye line runs at that angle
    /// in the image is upright on the canvas.
    static let turnedSearchAngles = [-Double.pi / 4, Double.pi / 4]

    /// The O-Net score a face on a turned canvas needs (the upright search's is
    /// `outputThreshold`): on frames without faces the canvases give many more boxes that pass
    /// `isUpright` than the upright search gives, scoring up to about 0.97.
    static let turnedSearchScore = 0.99

    /// The faces on `frame` found on copies of its image turned by `turnedSearchAngles`, in source
    /// pixels. The copies are made at the analysis size (`frame.analysisLongSide`, where
    /// `minFaceSize` counts), not at the source's, which would cost the square of the ratio more
    /// for faces as small as the upright search finds. Each box is the canvas box turned back
    /// about its centre (same width and height, scaled to source pixels), the landmarks turned
    /// back with it. A face scoring below `turnedSearchScore` or whose points are not those of an
    /// upright face on its canvas (`isUpright`) is dropped, and so is one whose centre lies
    /// outside the image or in the box of a better-scoring face from the other canvas.
    func turnedFaces(in frame: FaceFrame) throws -> [FaceDetection] {
        let small = frame.grey.width == frame.image.width && frame.grey.height == frame.image.height
            ? frame.image : try frame.image.resized(width: frame.grey.width, height: frame.grey.height)
        let scale = SIMD2(Double(frame.image.width) / Double(small.width), Double(frame.image.height) / Double(small.height))
        let centre = SIMD2(Double(small.width), Double(small.height)) / 2
        var found: [FaceDetection] = []
        for angle in MTCNNFaceDetector.turnedSearchAngles {
            let rotation = ImageRotation.holding(centre: centre, width: Double(small.width), height: Double(small.height), angle: angle)
            // Black outside the image (a mirrored border would show mirrored faces).
            let canvas = try rotation.canvas(of: small, outside: 0)
            for face in faces(in: canvas, minFace: Double(parameters.minFaceSize))
            where face.score >= MTCNNFaceDetector.turnedSearchScore && MTCNNFaceDetector.isUpright(face) {
                let middle = rotation.imagePoint(face.box.centre)
                guard middle.x >= 0, middle.y >= 0, middle.x < Double(small.width), middle.y < Double(small.height) else { continue }
                let size = SIMD2(face.box.width, face.box.height) * scale, corner = middle * scale - size / 2
                found.append(FaceDetection(box: Box(x: corner.x, y: corner.y, width: size.x, height: size.y), score: face.score,
                                           landmarks: face.landmarks?.map { rotation.imagePoint($0) * scale }))
            }
        }
        var kept: [FaceDetection] = []
        for face in found.sorted(by: { $0.score > $1.score }) where !kept.contains(where: { $0.box.contains(face.box.centre) }) {
            kept.append(face)
        }
        return kept.sorted { $0.box.area > $1.box.area }
    }

    /// Whether `face`'s five points (left eye, right eye, nose, left and right mouth corner) are
    /// those of a face within ±30° of upright: the eyes left to right with the eye line at most
    /// 30° from level, and, measured square to the eye line from the eyes' middle, the nose below
    /// the eyes and above the mouth's middle, which lies at least half the eyes' distance down.
    /// O-Net on something that is no face scores high now and then; its points then seldom keep
    /// this order.
    static func isUpright(_ face: FaceDetection) -> Bool {
        guard let p = face.landmarks, p.count == 5 else { return false }
        let eyes = p[1] - p[0], eyeDistance = (eyes * eyes).sum().squareRoot()
        guard eyeDistance > 0, eyes.x > 0, abs(atan2(eyes.y, eyes.x)) <= Double.pi / 6 else { return false }
        let down = SIMD2(-eyes.y, eyes.x) / eyeDistance, middle = (p[0] + p[1]) / 2
        let nose = ((p[2] - middle) * down).sum(), mouth = (((p[3] + p[4]) / 2 - middle) * down).sum()
        return nose > 0 && nose < mouth && mouth >= eyeDistance / 2
    }
}
