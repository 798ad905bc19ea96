import Common
import Face

extension RGBImage {
    /// `panels` (all the same size) left to right in one image, each with its label drawn in
    /// white on a black strip along its top edge, so a viewer of the video sees which is which.
    ///   panels: K × [H, W, 3] → [H, K·W, 3]
    public static func sideBySide(_ panels: [RGBImage], labels: [String]) throws -> RGBImage {
        precondition(!panels.isEmpty && panels.count == labels.count, "\(panels.count) panels for \(labels.count) labels")
        let (w, h) = (panels[0].width, panels[0].height)
        precondition(panels.allSatisfy { $0.width == w && $0.height == h }, "side-by-side panels differ in size")
        var out = RGBImage(width: panels.count * w, height: h)
        for (k, panel) in panels.enumerated() {
            for y in 0..<h {
                let dst = (y * out.width + k * w) * 3
                out.pixels.replaceSubrange(dst..<(dst + w * 3), with: panel.pixels[(y * w * 3)..<((y + 1) * w * 3)])
            }
        }
        // Text about 1/16 of the frame height (at least 11 px), on a strip 1.6 times as tall.
        let scale = max(0.5, Double(h) / 16 / 22)
        let textHeight = try RGBImage.textSize("Ag", scale: scale).height
        let strip = min(h, Int(Double(textHeight) * 1.8) + 2)
        for (k, label) in labels.enumerated() {
            for y in 0..<strip {
                let row = (y * out.width + k * w) * 3
                out.pixels.replaceSubrange(row..<(row + w * 3), with: repeatElement(0, count: w * 3))
            }
            try out.drawText(label, x: k * w + textHeight / 2, y: strip - (strip - textHeight) / 2, scale: scale,
                             colour: (255, 255, 255))
        }
        return out
    }
}
