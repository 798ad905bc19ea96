import Common
import Face
import Models
import Tensor

extension L2FTrainer {
    /// grid-<step>.png: the fixed held-out window (its first T frames, reference = its middle
    /// frame), real frames on the top row, generated ones below, in eval mode.
    func writeGrid() throws {
        let t = config.frames, side = config.generator.imageSize, frameBytes = side * side * 3
        let rows = try gridClip.rows(0..<t)
        let middle = gridClip.rowCount / 2
        let reference = Array(repeatElement(try gridClip.rows(middle..<(middle + 1)).frames, count: t).joined())
        context.training = false
        defer { context.training = true }
        let fake = try withoutGrad { () throws -> [UInt8] in
            let batch = makeBatch(frames: [rows.frames], references: [reference],
                                  audio: [try gridClip.audio(for: 0..<t, context: config.audioContext)])
            return quantisedFrames(models.generator(batch.identity, lip: batch.lip, context))
        }
        var image = RGBImage(width: t * side, height: 2 * side)
        for (row, source) in [rows.frames, fake].enumerated() {
            for f in 0..<t { for y in 0..<side {
                let src = f * frameBytes + y * side * 3, dst = ((row * side + y) * t * side + f * side) * 3
                image.pixels.replaceSubrange(dst..<(dst + side * 3), with: source[src..<(src + side * 3)])
            } }
        }
        try PNG.write(image, to: folder.file(String(format: "grid-%06d.png", step)))
    }
}
