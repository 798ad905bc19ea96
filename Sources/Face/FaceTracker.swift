// Streaming face tracking (SPEC §1 `face` + `crop`): largest face, IoU tracking, shot cuts,
// gap interpolation, 5-frame smoothing, square crops.
import Common

/// One frame of a kept face segment.
public struct TrackedFrame: Sendable {
    /// Index of the frame in the pushed sequence (0-based).
    public let index: Int
    /// Segment number: 0, 1, 2, ... over the kept segments, in order.
    public let segment: Int
    /// The smoothed face box, source pixels.
    public let box: FaceBox
    /// The square cut out for `crop` (source pixels; may reach past the frame edges).
    public let cropBox: FaceBox
    /// `cropSize x cropSize` RGB, area-resampled from `cropBox`.
    public let crop: RGBImage
}

/// Turns a stream of frames into face tracks and crops, holding only a few frames at a time.
///
/// Push decoded frames in order with `push`; each call returns the frames that became final
/// (possibly none, possibly several, always in index order). Call `finish` once after the last
/// frame. A frame is held until the boxes two frames ahead are known (smoothing), while a gap
/// might still be interpolated, and while its segment is still shorter than
/// `minSegmentLength`, so at most about `max(minSegmentLength, smoothingWindow/2 + maxGap) + 1`
/// frames are buffered.
///
/// Rules: a segment starts on the largest face of a whole-frame detection; each later frame
/// continues it with the detection of highest IoU (≥ `minIoU`) against the last seen box,
/// the detector being asked to search near that box and at similar sizes (`searchRegionScale`,
/// `searchSizeRatio`). Any `FaceDetecting` detector will do; `parameters.detector` is not
/// read here (it names the detector the face stage builds). Frames where it is not
/// found form a gap: gaps of at most `maxGap` frames are filled by linear interpolation, a
/// longer gap ends the segment at its last detection. A shot cut (grey-histogram change above
/// `cutThreshold`) ends the segment before the cut frame. Segments shorter than
/// `minSegmentLength` frames are dropped. Frames outside kept segments are not emitted.
public final class FaceTrackProcessor {
    public let parameters: FaceParameters
    private let detector: any FaceDetecting
    private var nextIndex = 0
    private var nextSegment = 0
    private var previousHistogram: [Double]? = nil
    private var track: Track? = nil

    /// A segment being built.
    private struct Track {
        /// Frame index of the first detection.
        let first: Int
        /// Frame index of the last detection.
        var lastSeen: Int
        /// boxes[k] belongs to frame boxBase + k, for frames boxBase...lastSeen (gaps
        /// interpolated); boxes older than the smoothing window of the next frame to emit are
        /// dropped.
        var boxes: [Box]
        var boxBase: Int
        /// Frames not emitted yet, in order (including a trailing gap after lastSeen).
        var frames: [(index: Int, image: RGBImage)]
        /// Assigned once the segment is long enough to keep.
        var segment: Int? = nil

        init(index: Int, box: Box, image: RGBImage) {
            first = index
            lastSeen = index
            boxes = [box]
            boxBase = index
            frames = [(index, image)]
        }

        var lastBox: Box { boxes[boxes.count - 1] }
    }

    public init(detector: any FaceDetecting, parameters: FaceParameters = FaceParameters()) throws {
        try parameters.validate()
        self.detector = detector
        self.parameters = parameters
    }

    /// Adds the next frame; returns the frames that became final.
    public func push(_ frame: RGBImage) throws -> [TrackedFrame] {
        let index = nextIndex
        nextIndex += 1
        let analysed = try FaceFrame(frame, analysisLongSide: parameters.detectionLongSide)
        let histogram = FaceTrackProcessor.histogram(analysed.grey)
        defer { previousHistogram = histogram }
        var out: [TrackedFrame] = []
        if let previous = previousHistogram,
           FaceTrackProcessor.histogramDistance(previous, histogram) > parameters.cutThreshold {
            out += try closeTrack()
        }
        if var current = track {
            let search = FaceSearch(box: current.lastBox, regionScale: parameters.searchRegionScale,
                                    sizeRatio: parameters.searchSizeRatio)
            let faces = try detector.detect(in: analysed, near: search)
            let match = faces.map { ($0.box, $0.box.iou(current.lastBox)) }
                .filter { $0.1 >= parameters.minIoU }
                .max { $0.1 < $1.1 }?.0
            if let match {
                // Fill the gap lastSeen+1 ..< index, then add the detection.
                let gap = index - current.lastSeen
                let before = current.lastBox
                for k in 1..<gap { current.boxes.append(before.lerp(match, Double(k) / Double(gap))) }
                current.boxes.append(match)
                current.lastSeen = index
                current.frames.append((index, frame))
                track = current
            } else if index - current.lastSeen > parameters.maxGap {
                out += try closeTrack()
            } else {
                current.frames.append((index, frame))
                track = current
            }
        }
        if track == nil {
            let faces = try detector.detect(in: analysed, near: nil)
            // The first of the largest, should several tie.
            if let largest = faces.max(by: { $0.box.area < $1.box.area }) {
                track = Track(index: index, box: largest.box, image: frame)
            }
        }
        out += try emitReady(closing: false)
        return out
    }

    /// Ends the stream: returns the remaining frames of the last segment.
    public func finish() throws -> [TrackedFrame] {
        try closeTrack()
    }

    /// Emits what is left of the current track (if kept) and forgets it.
    private func closeTrack() throws -> [TrackedFrame] {
        defer { track = nil }
        return try emitReady(closing: true)
    }

    /// Emits the frames of the current track whose smoothed box is final. When `closing`, the
    /// track ends at lastSeen: every frame up to it is final and a trailing gap is dropped.
    private func emitReady(closing: Bool) throws -> [TrackedFrame] {
        guard var current = track else { return [] }
        defer { if !closing { track = current } }
        if current.segment == nil {
            guard current.lastSeen - current.first + 1 >= parameters.minSegmentLength else { return [] }
            current.segment = nextSegment
            nextSegment += 1
        }
        let half = parameters.smoothingWindow / 2
        let lastFinal = closing ? current.lastSeen : current.lastSeen - half
        var out: [TrackedFrame] = []
        while let (index, image) = current.frames.first, index <= lastFinal {
            current.frames.removeFirst()
            // Centred mean over index-h ... index+h, h shrunk symmetrically at segment ends.
            let h = min(half, index - current.first, current.lastSeen - index)
            var sum = Box(x: 0, y: 0, width: 0, height: 0)
            for k in (index - h)...(index + h) {
                let b = current.boxes[k - current.boxBase]
                sum.x += b.x; sum.y += b.y; sum.width += b.width; sum.height += b.height
            }
            let n = Double(2 * h + 1)
            let box = Box(x: sum.x / n, y: sum.y / n, width: sum.width / n, height: sum.height / n)
            let square = cropSquare(box)
            let crop = try image.croppedSquare(x: Int(square.x), y: Int(square.y), side: Int(square.width),
                                               size: parameters.cropSize)
            out.append(TrackedFrame(index: index, segment: current.segment!, box: box.rounded,
                                    cropBox: square, crop: crop))
        }
        // Keep the boxes the next frame's smoothing window can still reach.
        let keepFrom = (current.frames.first?.index ?? current.lastSeen + 1) - half
        let drop = min(max(0, keepFrom - current.boxBase), current.boxes.count - 1)
        current.boxes.removeFirst(drop)
        current.boxBase += drop
        return out
    }

    /// The square crop region for a face box: `cropScale` times the face side, centred on the
    /// face, plus `chinMargin` times the face side added below (and split left and right so the
    /// region stays square).
    func cropSquare(_ box: Box) -> FaceBox {
        let side = (box.width + box.height) / 2
        let centreX = box.x + box.width / 2, centreY = box.y + box.height / 2
        let total = side * (parameters.cropScale + parameters.chinMargin)
        return Box(x: centreX - total / 2, y: centreY - side * parameters.cropScale / 2,
                   width: total, height: total).rounded
    }

    /// 64-bin grey histogram, normalised to sum 1.
    static func histogram(_ grey: GreyImage) -> [Double] {
        var counts = [Int](repeating: 0, count: 64)
        counts.withUnsafeMutableBufferPointer { c in
            grey.pixels.withUnsafeBufferPointer { p in
                for v in p { c[Int(v) >> 2] += 1 }
            }
        }
        let n = Double(grey.pixels.count)
        return counts.map { Double($0) / n }
    }

    /// Total variation distance ½·Σ|p − q| between two normalised histograms, in [0, 1].
    static func histogramDistance(_ p: [Double], _ q: [Double]) -> Double {
        zip(p, q).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
    }
}
