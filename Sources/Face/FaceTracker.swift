// Streaming face tracking (SPEC §1 `face` + `crop`): largest face, IoU tracking, shot cuts,
// gap interpolation, 5-frame smoothing of boxes and landmarks, square crops placed by the
// landmarks (or the box, for detectors without landmarks) smoothed over 31 frames within a
// bounded shift of the 5-frame face.
import Common
import Foundation

/// One frame of a kept face segment.
public struct TrackedFrame: Sendable {
    /// Index of the frame in the pushed sequence (0-based).
    public let index: Int
    /// Segment number: 0, 1, 2, ... over the kept segments, in the order they are emitted.
    public internal(set) var segment: Int
    /// Shot number: 0 until the first shot cut, then 1, 2, ... (a track never spans a cut).
    public let shot: Int
    /// The smoothed face box, source pixels.
    public let box: FaceBox
    /// The smoothed five landmarks (`FaceDetection.landmarks` order), source pixels; nil when the
    /// detector gives none (Haar).
    public let landmarks: [SIMD2<Double>]?
    /// The square cut out for `crop` (source pixels; may reach past the frame edges).
    public let cropBox: FaceBox
    /// The region `crop` was resampled from: `cropBox` itself, or with `cropRotation` that
    /// square turned by the face's angle about the face's centre. Paste-back (`cals dub`) uses it
    /// to put a crop back where it came from.
    public let cropRegion: ImageRotation
    /// `cropSize x cropSize` RGB, resampled from `cropRegion` (area-resampled when unturned).
    public let crop: RGBImage
}

/// Turns a stream of frames into face tracks and crops, holding only a few frames at a time.
///
/// Push decoded frames in order with `push`; each call returns the frames that became final
/// (possibly none, possibly several). Call `finish` once after the last frame. The frames of one
/// segment come out together and in index order; segments come out in the order their tracks
/// started. A frame is held until the boxes two frames ahead are known (smoothing), while a gap
/// might still be interpolated, and while its segment is still shorter than
/// `minSegmentLength`; the crop's longer window (`cropSmoothingWindow`) holds a frame until the
/// frames half that window ahead are known, and a track's first frames until it is as long as
/// the window. So with one track at most about
/// `max(minSegmentLength, cropSmoothingWindow, cropSmoothingWindow/2 + maxGap) + 1` frames are buffered. With several,
/// a track's final crops also wait while an older track is still open. A buffered frame is kept
/// whole only until its `smoothingWindow` face is known (`smoothingWindow / 2` frames later, or
/// at the end of a gap); then only the part of it its crop can reach is kept (`cropReach`).
///
/// Rules: each track follows one face. A track continues on each later frame with the
/// detection of highest IoU (≥ `minIoU`) against its last seen box, the detector being asked
/// first for the face at that box (`face(near:in:)`, a cheaper step: MTCNN runs O-Net alone on
/// it) and, when that finds none scoring at least `keyFrameScore`, to search near the box and at
/// similar sizes (`searchRegionScale`, `searchSizeRatio`); a detection one track took is not
/// given to another. A track whose search finds no face, or only
/// one scoring below `keyFrameScore`, makes the frame a key frame: the whole frame is searched
/// and its best face there (as above) continues the track, else the low-scoring one. With
/// `largest`, when the track's face is not found but another one no smaller than its last box
/// shrunk by `searchSizeRatio` is, the face has moved: the track ends there and the face starts
/// the next one at once. Frames where the face is not found form a
/// gap: gaps of at most `maxGap` frames are filled by linear interpolation, a longer gap ends
/// the track at its last detection. A shot cut (grey-histogram change above `cutThreshold`)
/// ends every track before the cut frame. Tracks shorter than `minSegmentLength` frames are
/// dropped; each kept track is one segment. Frames outside kept segments are not emitted.
///
/// New tracks (`speaker`): with `largest`, the largest face found by a whole-frame detection
/// while no track is open (or on a key frame that ended the track) starts one, so there is at
/// most one track at a time. With `all`, a whole-frame detection also runs every
/// `keyFrameInterval` frames and on a shot cut; its faces are matched to the open tracks (by
/// IoU, as above) and every other face starts a track.
/// `active` tracks faces as `all` does (the face stage then keeps one track per shot,
/// `ActiveSpeakerSelection`).
///
/// Hints (`hints`: frame index → box, a dataset's own box of the face to follow) replace the
/// whole-frame detection that starts a track with `largest`: on a frame with a hint the detector
/// searches near it, and the faces whose centre lies in the hint are the candidates; when it finds
/// none there, the whole frame is searched as without a hint. With `all` and `active` every face
/// is followed and hints are not used.
///
/// Any `FaceDetecting` detector will do; `parameters.detector` is not read here (it names the
/// detector the face stage builds).
public final class FaceTrackProcessor {
    public let parameters: FaceParameters
    private let detector: any FaceDetecting
    /// Frame index → box in source pixels (see above).
    private let hints: [Int: Box]
    private var nextIndex = 0
    private var nextSegment = 0
    private var previousHistogram: [Double]? = nil
    /// Shot cuts seen so far: the shot of the frames pushed now.
    private var shot = 0
    /// Tracks in the order they started: open ones, and closed kept ones whose frames wait for an
    /// older track. Only the first one's final frames are emitted (so segments do not mix).
    private var tracks: [Track] = []

    /// One face followed over frames: a segment once it is long enough to keep.
    private struct Track {
        /// Frame index of the first detection.
        let first: Int
        let shot: Int
        /// Frame index of the last detection.
        var lastSeen: Int
        /// seen[k] belongs to frame seenBase + k, for frames seenBase...lastSeen (gaps
        /// interpolated); those older than the smoothing window of the next frame to emit are
        /// dropped.
        var seen: [Observation]
        var seenBase: Int
        /// Frames not final yet, in order (including a trailing gap after lastSeen).
        var frames: [HeldFrame]
        /// Final frames not emitted yet (their segment is set when they are).
        var done: [TrackedFrame] = []
        /// Long enough to keep.
        var kept = false
        var isOpen = true
        /// Assigned when its first frame is emitted.
        var segment: Int? = nil

        init(index: Int, shot: Int, face: FaceDetection, image: RGBImage) {
            first = index
            self.shot = shot
            lastSeen = index
            seen = [Observation(face)]
            seenBase = index
            frames = [HeldFrame(index: index, image: image)]
        }

        var lastBox: Box { seen[seen.count - 1].box }

        /// The `h` observations either side of frame `index`, the window shifted to lie inside
        /// the track (frames first...lastSeen).
        func window(around index: Int, _ h: Int) -> ArraySlice<Observation> {
            let low = max(first, min(index - h, lastSeen - 2 * h))
            let high = min(lastSeen, low + 2 * h)
            return seen[(low - seenBase)...(high - seenBase)]
        }

        /// Frame `index`'s face smoothed over `2·half + 1` frames: the centred mean box (its window
        /// shrunk symmetrically at the track's ends) and the mean landmarks of `window(around:)`
        /// (landmarks are noisier than boxes, and place the crop: averaged over the full window
        /// also at the ends).
        func smoothed(_ index: Int, half: Int) -> Observation {
            let h = min(half, index - first, lastSeen - index)
            let box = Observation.mean(seen[(index - h - seenBase)...(index + h - seenBase)]).box
            return Observation(box: box, landmarks: Observation.mean(window(around: index, half)).landmarks)
        }
    }

    /// A frame a track holds until its crop is made: the whole frame, then, once its smoothed
    /// face is known, only the part of it the crop can reach (`cropReach`), so a track holds
    /// small regions, not whole frames, while its crop window fills.
    private struct HeldFrame {
        let index: Int
        /// The frame, or its part from `origin` on.
        var image: RGBImage
        /// The frame pixel at `image`'s top-left corner.
        var origin = (x: 0, y: 0)
        /// The whole frame's width and height.
        let frameSize: (width: Int, height: Int)
        var isWhole = true

        init(index: Int, image: RGBImage) {
            self.index = index
            self.image = image
            frameSize = (image.width, image.height)
        }

        /// The pixels of the frame that `croppedSquare` reads for the square [x0, x1) × [y0, y1)
        /// (frame pixels): its part inside the frame, or the nearest edge pixels when it lies
        /// outside.
        func readRegion(x0: Int, y0: Int, x1: Int, y1: Int) -> Region {
            let cx0 = min(max(x0, 0), frameSize.width - 1), cy0 = min(max(y0, 0), frameSize.height - 1)
            let cx1 = min(max(x1, cx0 + 1), frameSize.width), cy1 = min(max(y1, cy0 + 1), frameSize.height)
            return Region(x: cx0, y: cy0, width: cx1 - cx0, height: cy1 - cy0)
        }

        /// Keeps only `region` (frame pixels, inside the frame) of the whole frame.
        mutating func cut(to region: Region) {
            var part = RGBImage(width: region.width, height: region.height)
            let rowBytes = region.width * 3, frameWidth = frameSize.width
            image.pixels.withUnsafeBufferPointer { src in
                part.pixels.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<region.height {
                        let from = src.baseAddress! + ((region.y + y) * frameWidth + region.x) * 3
                        (dst.baseAddress! + y * rowBytes).update(from: from, count: rowBytes)
                    }
                }
            }
            image = part
            origin = (region.x, region.y)
            isWhole = false
        }

        /// `square` (frame pixels) resized to `size` × `size`: the same pixels `croppedSquare` makes
        /// of the whole frame, as the part kept holds every pixel that reads (`cropReach`).
        func croppedSquare(_ square: FaceBox, size: Int) throws -> RGBImage {
            let x = Int(square.x), y = Int(square.y), side = Int(square.width)
            let reads = readRegion(x0: x, y0: y, x1: x + side, y1: y + side)
            precondition(reads.x >= origin.x && reads.y >= origin.y && reads.x + reads.width <= origin.x + image.width
                         && reads.y + reads.height <= origin.y + image.height,
                         "frame \(index): crop square \(square) reaches past the part held, \(origin) + \(image.width)x\(image.height)")
            return try image.croppedSquare(x: x - origin.x, y: y - origin.y, side: side, size: size)
        }
    }

    public init(detector: any FaceDetecting, parameters: FaceParameters = FaceParameters(), hints: [Int: Box] = [:]) throws {
        try parameters.validate()
        self.detector = detector
        self.parameters = parameters
        self.hints = hints
    }

    /// Bytes of frame pixels the tracks hold now (whole frames and cut parts; a frame two
    /// tracks hold whole counts twice).
    var heldPixelBytes: Int { tracks.reduce(0) { $0 + $1.frames.reduce(0) { $0 + $1.image.pixels.count } } }

    /// Adds the next frame; returns the frames that became final.
    public func push(_ frame: RGBImage) throws -> [TrackedFrame] {
        try push(FaceFrame(frame, analysisLongSide: parameters.detectionLongSide))
    }

    /// Adds the next frame, analysed at `parameters.detectionLongSide` (so another thread can make
    /// the analysis copies ahead); returns the frames that became final.
    public func push(_ analysed: FaceFrame) throws -> [TrackedFrame] {
        precondition(analysed.analysisLongSide == parameters.detectionLongSide,
                     "frame analysed at \(analysed.analysisLongSide), the tracker's is \(parameters.detectionLongSide)")
        let frame = analysed.image
        let index = nextIndex
        nextIndex += 1
        let histogram = FaceTrackProcessor.histogram(analysed.grey)
        defer { previousHistogram = histogram }
        let all = parameters.tracksEveryFace
        var keyFrame = all && index % parameters.keyFrameInterval == 0
        if let previous = previousHistogram,
           FaceTrackProcessor.histogramDistance(previous, histogram) > parameters.cutThreshold {
            for t in tracks.indices where tracks[t].isOpen { try close(t) }
            shot += 1
            keyFrame = all
        }
        // Boxes the open tracks took on this frame.
        var claimed: [Box] = []
        if keyFrame {
            let faces = try detector.detect(in: analysed, near: nil)
            for t in tracks.indices where tracks[t].isOpen {
                try follow(t, claim(best(faces, near: tracks[t].lastBox, claimed: claimed), in: &claimed), index: index, frame: frame)
            }
            try start(faces, claimed: &claimed, index: index, frame: frame)
        } else {
            // Tracks whose search found no face, or one scoring below `keyFrameScore` (kept as
            // `weak`): they make this frame a key frame.
            var doubtful: [(track: Int, weak: FaceDetection?)] = []
            for t in tracks.indices where tracks[t].isOpen {
                // The detector's cheap step first (MTCNN: O-Net on the last box), then its search.
                let last = tracks[t].lastBox
                var match = try detector.face(near: last, in: analysed).flatMap { best([$0], near: last, claimed: claimed) }
                if (match?.score ?? 0) < parameters.keyFrameScore {
                    let search = FaceSearch(box: last, regionScale: parameters.searchRegionScale, sizeRatio: parameters.searchSizeRatio)
                    match = best(try detector.detect(in: analysed, near: search), near: last, claimed: claimed) ?? match
                }
                claim(match, in: &claimed)
                if let match, match.score >= parameters.keyFrameScore {
                    try follow(t, match, index: index, frame: frame)
                } else {
                    doubtful.append((t, match))
                }
            }
            if !doubtful.isEmpty || !tracks.contains(where: \.isOpen) {
                let faces = try newFaces(analysed, index: index)
                for (t, weak) in doubtful {
                    // The whole frame's face there (the search may miss one that moved or
                    // changed size more than it allows), else the weak one.
                    let match = claim(best(faces, near: tracks[t].lastBox, claimed: claimed), in: &claimed) ?? weak
                    if match == nil && !all && faces.contains(where: { moved(tracks[t], to: $0, claimed: claimed) }) {
                        try close(t)
                    } else {
                        try follow(t, match, index: index, frame: frame)
                    }
                }
                try start(faces, claimed: &claimed, index: index, frame: frame)
            }
        }
        for t in tracks.indices where tracks[t].isOpen {
            try finalise(t, closing: false)
            narrow(t)
        }
        return release()
    }

    /// The faces a new track may start on: those near frame `index`'s hint with their centre in
    /// it (not with `all`), else the whole frame's.
    private func newFaces(_ frame: FaceFrame, index: Int) throws -> [FaceDetection] {
        if !parameters.tracksEveryFace, let hint = hints[index] {
            let search = FaceSearch(box: hint, regionScale: parameters.searchRegionScale, sizeRatio: parameters.searchSizeRatio)
            let hinted = try detector.detect(in: frame, near: search).filter { hint.contains($0.box.centre) }
            if !hinted.isEmpty { return hinted }
        }
        return try detector.detect(in: frame, near: nil)
    }

    /// With `largest`: whether `face`, found elsewhere on a frame where `track`'s face is not
    /// found, is that face moved (so the track ends now and `face` may start the next one): a
    /// face no track took, at least as large as the track's last box shrunk by `searchSizeRatio`.
    /// A smaller face (someone in the background) leaves the track to its gap.
    private func moved(_ track: Track, to face: FaceDetection, claimed: [Box]) -> Bool {
        !claimed.contains { face.box.iou($0) >= parameters.minIoU }
            && face.box.area * parameters.searchSizeRatio * parameters.searchSizeRatio >= track.lastBox.area
    }

    /// Ends the stream: returns the remaining frames of every kept segment.
    public func finish() throws -> [TrackedFrame] {
        for t in tracks.indices where tracks[t].isOpen { try close(t) }
        return release()
    }

    /// The face of `faces` overlapping `box` best (IoU ≥ `minIoU`) that overlaps no claimed box
    /// as much.
    private func best(_ faces: [FaceDetection], near box: Box, claimed: [Box]) -> FaceDetection? {
        faces.filter { face in !claimed.contains { face.box.iou($0) >= parameters.minIoU } }
            .map { ($0, $0.box.iou(box)) }
            .filter { $0.1 >= parameters.minIoU }
            .max { $0.1 < $1.1 }?.0
    }

    /// Adds the box of `face` (a track took it) to `claimed`; returns `face`.
    @discardableResult
    private func claim(_ face: FaceDetection?, in claimed: inout [Box]) -> FaceDetection? {
        if let face { claimed.append(face.box) }
        return face
    }

    /// Continues track `t` on frame `index` with `match`, or with a gap when there is none (and
    /// closes it when the gap is too long).
    private func follow(_ t: Int, _ match: FaceDetection?, index: Int, frame: RGBImage) throws {
        if let match {
            // Fill the gap lastSeen+1 ..< index, then add the detection.
            let gap = index - tracks[t].lastSeen
            let before = tracks[t].seen[tracks[t].seen.count - 1], after = Observation(match)
            for k in 1..<gap { tracks[t].seen.append(before.lerp(after, Double(k) / Double(gap))) }
            tracks[t].seen.append(after)
            tracks[t].lastSeen = index
            tracks[t].frames.append(HeldFrame(index: index, image: frame))
        } else if index - tracks[t].lastSeen > parameters.maxGap {
            try close(t)
        } else {
            tracks[t].frames.append(HeldFrame(index: index, image: frame))
        }
    }

    /// Starts tracks on frame `index` from a whole-frame detection: on its largest face when no
    /// track is open (`largest`), or on every face no open track claimed (`all`).
    private func start(_ faces: [FaceDetection], claimed: inout [Box], index: Int, frame: RGBImage) throws {
        if parameters.tracksEveryFace {
            for face in faces where !claimed.contains(where: { face.box.iou($0) >= parameters.minIoU }) {
                claimed.append(face.box)
                tracks.append(Track(index: index, shot: shot, face: face, image: frame))
            }
        } else if !tracks.contains(where: \.isOpen),
                  // The first of the largest, should several tie.
                  let largest = faces.max(by: { $0.box.area < $1.box.area }) {
            tracks.append(Track(index: index, shot: shot, face: largest, image: frame))
        }
    }

    /// Ends track `t` at its last detection (a trailing gap is dropped).
    private func close(_ t: Int) throws {
        try finalise(t, closing: true)
        tracks[t].isOpen = false
        tracks[t].frames = []
        tracks[t].seen = []
    }

    /// The final frames of the first tracks (in the order they started), as far as the first
    /// open one allows; drops the tracks that are done.
    private func release() -> [TrackedFrame] {
        var out: [TrackedFrame] = []
        while !tracks.isEmpty {
            if tracks[0].kept {
                let segment = tracks[0].segment ?? nextSegment
                if tracks[0].segment == nil {
                    tracks[0].segment = segment
                    nextSegment += 1
                }
                for var frame in tracks[0].done {
                    frame.segment = segment
                    out.append(frame)
                }
                tracks[0].done = []
            }
            if tracks[0].isOpen { break }
            tracks.removeFirst()
        }
        return out
    }

    /// Moves the frames of track `t` whose smoothed box is final to its `done` frames. When
    /// `closing`, the track ends at lastSeen: every frame up to it is final. Otherwise a frame is
    /// final once every window reaching it is whole: the track seen `hold` frames past it, and
    /// (for the windows shifted inside the track at its start) `2·hold` frames past its first.
    private func finalise(_ t: Int, closing: Bool) throws {
        var current = tracks[t]
        defer { tracks[t] = current }
        if !current.kept {
            guard current.lastSeen - current.first + 1 >= parameters.minSegmentLength else { return }
            current.kept = true
        }
        let half = parameters.smoothingWindow / 2, cropHalf = parameters.cropSmoothingWindow / 2
        let hold = max(half, cropHalf)
        let lastFinal = closing ? current.lastSeen
            : current.lastSeen - current.first >= 2 * hold ? current.lastSeen - hold : current.first - 1
        while let held = current.frames.first, held.index <= lastFinal {
            current.frames.removeFirst()
            let index = held.index
            let smoothed = current.smoothed(index, half: half)
            let face = cropFace(smoothed: smoothed, window: current.window(around: index, cropHalf))
            let square = cropSquare(face.box)
            let region = cropRegion(square, face: face)
            // A turned crop reads past its square, so with `cropRotation` frames are held whole (`narrow`).
            let crop = parameters.cropRotation
                ? try region.canvas(of: held.image).resized(width: parameters.cropSize, height: parameters.cropSize)
                : try held.croppedSquare(square, size: parameters.cropSize)
            // The segment is set when the frame is emitted (`release`).
            current.done.append(TrackedFrame(index: index, segment: 0, shot: current.shot, box: smoothed.box.rounded,
                                             landmarks: smoothed.landmarks, cropBox: square, cropRegion: region, crop: crop))
        }
        // Keep the observations the next frame's smoothing windows can still reach.
        let keepFrom = (current.frames.first?.index ?? current.lastSeen + 1) - 2 * hold
        let drop = min(max(0, keepFrom - current.seenBase), current.seen.count - 1)
        current.seen.removeFirst(drop)
        current.seenBase += drop
    }

    /// Cuts the frames track `t` holds whole down to the part their crop can reach, once their
    /// smoothed face is final: the track seen `smoothingWindow / 2` frames past them, and twice
    /// that past its first frame (the window shifted inside the track at its start).
    private func narrow(_ t: Int) {
        // A turned crop (`cropRotation`) reads a rotated square: its frames stay whole.
        guard !parameters.cropRotation else { return }
        let half = parameters.smoothingWindow / 2
        let track = tracks[t]
        guard track.lastSeen - track.first >= 2 * half else { return }
        for k in track.frames.indices where track.frames[k].isWhole && track.frames[k].index <= track.lastSeen - half {
            let reach = cropReach(track.smoothed(track.frames[k].index, half: half))
            tracks[t].frames[k].cut(to: track.frames[k].readRegion(x0: reach.x0, y0: reach.y0, x1: reach.x1, y1: reach.y1))
        }
    }

    /// The frame pixels [x0, x1) × [y0, y1) that a frame's crop can cover once its `smoothed` face
    /// is known, whatever the longer window brings: `cropFace` keeps the crop's face within
    /// `cropMaxShift` and `cropMaxZoom` of it, so this is the union of `cropSquare`s of all such
    /// faces, with 2 pixels more each side for the rounding.
    func cropReach(_ smoothed: Observation) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let short = smoothed.face(turning: false)
        let shift = short.z * parameters.cropMaxShift, side = short.z * (1 + parameters.cropMaxZoom)
        let across = side * (parameters.cropScale + parameters.chinMargin) / 2 + 2
        let above = side * parameters.cropScale / 2 + 2, below = side * (parameters.cropScale / 2 + parameters.chinMargin) + 2
        // Frame coordinates are far inside ±1e9; the clamp keeps Int() from trapping on odd boxes.
        func pixel(_ v: Double) -> Int { v.isFinite ? Int(min(max(v, -1e9), 1e9).rounded(.down)) : 0 }
        return (pixel(short.x - shift - across), pixel(short.y - shift - above),
                pixel(short.x + shift + across) + 1, pixel(short.y + shift + below) + 1)
    }

    /// The face (centre and side, as a square; and its angle) that places a frame's crop: the mean face
    /// (`Observation.face`) over the `cropSmoothingWindow` frames of `window` (centred on the
    /// frame, shifted inside the track at its ends), but with its centre no farther than
    /// `cropMaxShift` face sides (per coordinate) and its side no farther than `cropMaxZoom`
    /// sides from the face of the `smoothed` frame (the `smoothingWindow` one's). On a still face
    /// the long mean averages the detector's noise away; when the head moves, the bounds keep the
    /// crop's lag behind the short window's face within them. The angle (0 unless `cropRotation`)
    /// is the long window's mean, unbounded.
    func cropFace(smoothed: Observation, window: ArraySlice<Observation>) -> (box: Box, angle: Double) {
        let turning = parameters.cropRotation
        let mean = window.reduce(SIMD4<Double>(0, 0, 0, 0)) { $0 + $1.face(turning: turning) } / Double(window.count)
        let short = smoothed.face(turning: turning)
        let bound = short.z * SIMD4(parameters.cropMaxShift, parameters.cropMaxShift, parameters.cropMaxZoom, 0)
        let face = short + (mean - short).clamped(lowerBound: -bound, upperBound: bound)
        return (Box(x: face.x - face.z / 2, y: face.y - face.z / 2, width: face.z, height: face.z), mean.w)
    }

    /// The region a frame's crop is resampled from: `square` (the `cropSquare` of `face`), or with
    /// `cropRotation` that square turned by the face's angle about the face's centre, so the face
    /// stands upright in it with the chin margin below its chin (the crop is then its canvas,
    /// bilinear at source scale, resized to `cropSize`; outside the frame the border mirrored).
    func cropRegion(_ square: FaceBox, face: (box: Box, angle: Double)) -> ImageRotation {
        guard parameters.cropRotation else { return ImageRotation(box: square) }
        let side = Double(square.width)
        let faceCentre = SIMD2(face.box.x + face.box.width / 2, face.box.y + face.box.height / 2)
        let offset = SIMD2(Double(square.x) + side / 2, Double(square.y) + side / 2) - faceCentre
        let (c, s) = (cos(face.angle), sin(face.angle))
        let centre = faceCentre + SIMD2(c * offset.x - s * offset.y, s * offset.x + c * offset.y)
        return ImageRotation(centre: centre, angle: face.angle, width: Int(square.width), height: Int(square.width))
    }

    /// The square crop region for a face box: `cropScale` times its side (the mean of width and
    /// height), centred on it, plus `chinMargin` times the side added below (and split left and
    /// right so the region stays square).
    func cropSquare(_ box: Box) -> FaceBox {
        let side = (box.width + box.height) / 2
        let centreX = box.x + box.width / 2, centreY = box.y + box.height / 2
        let total = side * (parameters.cropScale + parameters.chinMargin)
        // Side rounded first, then the corner: the centre stays within half a pixel of its own.
        let whole = total.rounded()
        return Box(x: centreX - whole / 2, y: centreY - side * parameters.cropScale / 2 + (total - whole) / 2,
                   width: whole, height: whole).rounded
    }

    /// The eyes and nose tip of a frontal face (`FaceDetection.landmarks` 0, 1 and 2), in units
    /// of the face side (the mean of MTCNN's box width and height) from the box centre: MTCNN's
    /// mean over the faces of the installed photos, made left-right symmetric. The mouth corners
    /// are left out of the fit: they move with speech (the crop must not follow the lips) and are
    /// MTCNN's least steady points.
    static let landmarkTemplate: [SIMD2<Double>] = [SIMD2(-0.186, -0.116), SIMD2(0.186, -0.116), SIMD2(0, 0.138)]

    /// The square face box of side s centred on t, where s·template + t fits the eyes and nose of
    /// `points` best (least squares; scale and shift, no rotation), and angle 0; with `turning`,
    /// where s·R(angle)·template + t does (a similarity: R the rotation by angle, which is then
    /// the eye line's direction (cos, sin)). Nil unless the points include them, spread like a
    /// face's (a positive scale).
    static func landmarkFit(_ points: [SIMD2<Double>], turning: Bool = false) -> (box: Box, angle: Double)? {
        guard points.count >= landmarkTemplate.count else { return nil }
        let rigid = points[0..<landmarkTemplate.count]
        let n = Double(landmarkTemplate.count)
        let meanT = landmarkTemplate.reduce(SIMD2<Double>(0, 0), +) / n
        let meanP = rigid.reduce(SIMD2<Double>(0, 0), +) / n
        // covariance: Σ dt·dp (the scale along the template), cross: Σ dt×dp (across it).
        var covariance = 0.0, cross = 0.0, variance = 0.0
        for (t, p) in zip(landmarkTemplate, rigid) {
            let dt = t - meanT, dp = p - meanP
            covariance += (dt * dp).sum()
            cross += dt.x * dp.y - dt.y * dp.x
            variance += (dt * dt).sum()
        }
        let angle = turning ? atan2(cross, covariance) : 0
        let scale = turning ? hypot(covariance, cross) / variance : covariance / variance
        guard scale > 0, scale.isFinite, covariance > 0 else { return nil }
        let (c, s) = (cos(angle), sin(angle))
        let centre = meanP - scale * SIMD2(c * meanT.x - s * meanT.y, s * meanT.x + c * meanT.y)
        return (Box(x: centre.x - scale / 2, y: centre.y - scale / 2, width: scale, height: scale), angle)
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

/// Where a track has the face on one frame: detected, or interpolated in a gap.
struct Observation {
    var box: Box
    /// Five points (`FaceDetection.landmarks`); nil when the detector gives none.
    var landmarks: [SIMD2<Double>]?

    init(box: Box, landmarks: [SIMD2<Double>]?) {
        self.box = box
        self.landmarks = landmarks
    }

    init(_ face: FaceDetection) { self.init(box: face.box, landmarks: face.landmarks) }

    /// (centre x, centre y, side, angle) of the face its landmarks place (`landmarkFit`, turning
    /// or not: the mouth then sits at the same place in every crop, whatever the box does), or of
    /// its box, angle 0, when it has none (side: the mean of width and height).
    func face(turning: Bool) -> SIMD4<Double> {
        let fit = landmarks.flatMap { FaceTrackProcessor.landmarkFit($0, turning: turning) } ?? (box, 0)
        return SIMD4(fit.box.x + fit.box.width / 2, fit.box.y + fit.box.height / 2, (fit.box.width + fit.box.height) / 2, fit.angle)
    }

    /// self + t·(other − self), box and landmarks (landmarks only when both have them).
    func lerp(_ other: Observation, _ t: Double) -> Observation {
        var points: [SIMD2<Double>]? = nil
        if let a = landmarks, let b = other.landmarks, a.count == b.count {
            points = zip(a, b).map { $0 + t * ($1 - $0) }
        }
        return Observation(box: box.lerp(other.box, t), landmarks: points)
    }

    /// The mean box of `window` (not empty), and its mean landmarks when every one has them.
    static func mean<C: Collection>(_ window: C) -> Observation where C.Element == Observation {
        let n = Double(window.count)
        var box = Box(x: 0, y: 0, width: 0, height: 0)
        for o in window { box.x += o.box.x; box.y += o.box.y; box.width += o.box.width; box.height += o.box.height }
        box = Box(x: box.x / n, y: box.y / n, width: box.width / n, height: box.height / n)
        var points: [SIMD2<Double>]? = window.first?.landmarks.map { $0.map { _ in SIMD2<Double>(0, 0) } }
        for o in window {
            guard let sum = points, let p = o.landmarks, p.count == sum.count else { points = nil; break }
            points = zip(sum, p).map { $0 + $1 }
        }
        return Observation(box: box, landmarks: points?.map { $0 / n })
    }
}
