import CFFmpeg
import Common
import Foundation

/// Streams the pictures of a video file as upright RGB frames with square pixels at a constant
/// 25 fps.
///
/// Output frame i is the source frame on screen at time i/25 s after the timeline's start (the
/// earlier start of the video and the decoded audio stream, usually the first frame;
/// `decodeAudio` counts from the same point, so frame i and audio samples 640·i ..< 640·(i+1) at
/// 16 kHz are simultaneous): the latest decoded frame whose presentation time is ≤ i/25, or the
/// first frame before it appears (frames are duplicated or dropped to reach 25 fps;
/// variable-frame-rate input works). Frames stop at the end of the last source frame, so a clip
/// of d seconds gives ⌈25·d⌉ frames. Before anything else sees them, pictures are deinterlaced
/// (bwdif) when the stream or its first frame says it is interlaced, widened or narrowed to
/// square pixels by their sample aspect ratio, and turned upright by the rotation metadata
/// (display matrix). Only two decoded frames and one RGB image are held at a time, whatever
/// the length or size of the input. Damaged packets are skipped and counted in `damage`.
///
/// With `frames`, only timeline frames `frames` are returned (an interval of a long video,
/// decoded directly): the decoder seeks to the key frame at or before frame `lowerBound` and
/// drops the frames before it, so the first frame returned is timeline frame `lowerBound`,
/// exactly as a decode from the start would give it; frames stop at `upperBound` or at the end
/// of the video, whichever comes first.
public final class VideoDecoder {
    public static let frameRate = 25

    public let path: String
    /// Picture size as displayed (square pixels, after rotation), before any `maxSide` downscale.
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Size of the frames `nextFrame` returns.
    public let width: Int
    public let height: Int
    /// Width of a stored pixel over its height (sample aspect ratio; 1 for square pixels):
    /// pictures are scaled horizontally by it.
    public let pixelAspectRatio: Double
    /// Whether pictures are deinterlaced.
    public let deinterlaces: Bool
    /// Average source frame rate (frames/s) as FFmpeg guesses it; 0 when unknown.
    public let sourceFrameRate: Double
    /// Duration in seconds from the container or stream; 0 when unknown.
    public let duration: Double
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied to make the picture upright.
    public let rotation: Int
    /// Whether the file also has an audio stream (read it with `decodeAudio(path:)`).
    public let hasAudio: Bool
    /// Timeline index of the frame the next `nextFrame()` call returns.
    public private(set) var frameIndex = 0
    /// Where frames stop (the interval's end), if before the end of the video.
    private let endFrame: Int?
    /// Whether the input was sought to the interval's start (the first picture is then not the
    /// stream's first, so it says nothing about when the video starts).
    private let sought: Bool
    /// Packets of the video stream read so far and how many failed; complete once `nextFrame`
    /// returned nil.
    public var damage: StreamDamage { decoder.damage }

    private let input: InputFile
    private let decoder: StreamDecoder
    private let deinterlacer: Deinterlacer?
    private let timeBase: AVRational
    private let scaler = Scaler()
    private var shown: Frame       // the source frame on screen at the current output time
    private var upcoming = Frame() // the next source frame, when `upcomingValid`
    // Presentation start and end of `shown` and `upcoming`, in stream time-base units from the origin.
    private var shownTime: Int64 = 0, shownEnd: Int64 = 0, upcomingTime: Int64 = 0, upcomingEnd: Int64 = 0
    private let timelineStart: Int64?  // in stream time-base units
    private var origin: Int64?         // output time 0 in stream time-base units
    private var upcomingValid = false
    private var image: RGBImage?   // `shown` converted, reused for duplicated output frames

    /// Opens `path` and decodes its first picture. `maxSide` downscales (area filter) so that
    /// the longer side is at most that many pixels; `timeLimit` bounds the wall-clock time spent
    /// on this file; `threads` is the decoder's thread count (0: FFmpeg chooses). Throws
    /// `InputError` for files that cannot be opened, have no video stream or no decodable picture;
    /// `frames` limits the output to those timeline frames (see above).
    public init(path: String, frames: Range<Int>? = nil, maxSide: Int? = nil,
                timeLimit: TimeInterval = defaultDecodeTimeLimit, threads: Int = 0) throws {
        self.path = path
        let startFrame = max(0, frames?.lowerBound ?? 0)
        frameIndex = startFrame
        endFrame = frames?.upperBound
        let input = try InputFile(path: path, timeLimit: timeLimit)
        guard let stream = input.videoStream else { throw InputError(path, "no video stream") }
        self.input = input
        hasAudio = input.audioStream != nil
        let decoder = try reportingInput(path) { try StreamDecoder(input: input, stream: stream, threads: threads) }
        self.decoder = decoder
        timeBase = stream.pointee.time_base  // checked by StreamDecoder
        timelineStart = input.timelineStart(in: timeBase)
        rotation = VideoDecoder.rotation(of: stream)
        let rate = av_guess_frame_rate(input.context, stream, nil)
        sourceFrameRate = isValid(rate) ? av_q2d(rate) : 0
        duration = VideoDecoder.duration(of: stream, in: input)

        // An interval: seek to the key frame at or before its first frame (a failed seek
        // leaves the input at its start, which is slower but gives the same frames).
        var sought = false
        if startFrame > 0, let start = timelineStart {
            let target = saturatingSum(start, av_rescale_q(Int64(startFrame), AVRational(num: 1, den: Int32(VideoDecoder.frameRate)), timeBase))
            sought = av_seek_frame(input.context, stream.pointee.index, target, AVSEEK_FLAG_BACKWARD) >= 0
        }
        self.sought = sought

        // The first picture: its size, pixel shape and interlacing set up the rest.
        let first = Frame()
        deinterlacer = try reportingInput(path) {
            guard try decoder.next(into: first) else { throw InputError(path, "no decodable video frames") }
            guard VideoDecoder.isInterlaced(stream, first) else { return nil }
            let deinterlacer = try Deinterlacer(timeBase: stream.pointee.time_base, like: first)
            try deinterlacer.push(first)
            guard try deinterlacer.next(into: first, from: decoder) else { throw InputError(path, "no decodable video frames") }
            return deinterlacer
        }
        deinterlaces = deinterlacer != nil
        shown = first
        let f = first.pointer.pointee
        pixelAspectRatio = VideoDecoder.pixelAspectRatio([f.sample_aspect_ratio, stream.pointee.sample_aspect_ratio,
                                                          stream.pointee.codecpar.pointee.sample_aspect_ratio])
        let squareWidth = max(1, clampedInt(Double(f.width) * pixelAspectRatio)), squareHeight = max(1, Int(f.height))
        let transposed = rotation == 90 || rotation == 270
        let (displayWidth, displayHeight) = transposed ? (squareHeight, squareWidth) : (squareWidth, squareHeight)
        (sourceWidth, sourceHeight) = (displayWidth, displayHeight)
        let scale = maxSide.map { min(1, Double($0) / Double(max(displayWidth, displayHeight))) } ?? 1
        width = max(1, Int((Double(displayWidth) * scale).rounded()))
        height = max(1, Int((Double(displayHeight) * scale).rounded()))

        try reportingInput(path) {
            (shownTime, shownEnd) = try timing(of: shown, after: nil)
            // A seek must land at or before the interval's start, or its first frames would be
            // stand-ins (containers without a usable index can land later).
            if sought && !showsBy(shownTime) {
                throw InputError(path, String(format: "seeking to %.2f s landed after it; remux the file (ffmpeg -c copy)",
                                              Double(frameIndex) / Double(VideoDecoder.frameRate)))
            }
            try decodeUpcoming()
        }
    }

    /// Seconds from the stream's stated duration, else the container's; 0 when unknown.
    private static func duration(of stream: UnsafeMutablePointer<AVStream>, in input: InputFile) -> Double {
        let containerSeconds = max(0, Double(input.context.pointee.duration) / Double(AV_TIME_BASE))
        return stream.pointee.duration > 0 ? seconds(stream.pointee.duration, stream.pointee.time_base) ?? 0 : containerSeconds
    }

    /// The duration of a video file's picture stream in seconds (0 when unknown), read from its
    /// header without decoding. Throws `InputError` for files that cannot be opened or have no
    /// video stream.
    public static func duration(ofFile path: String, timeLimit: TimeInterval = defaultDecodeTimeLimit) throws -> Double {
        let input = try InputFile(path: path, timeLimit: timeLimit)
        guard let stream = input.videoStream else { throw InputError(path, "no video stream") }
        return duration(of: stream, in: input)
    }

    /// About how many frames `nextFrame` will return (from the stated duration).
    public var estimatedFrameCount: Int { clampedInt(duration * Double(VideoDecoder.frameRate)) }

    /// The next 25 fps frame, or nil after the last one. Throws `InputError` when the time limit
    /// is exceeded or a picture cannot be converted.
    public func nextFrame() throws -> RGBImage? {
        if let endFrame, frameIndex >= endFrame { return nil }
        return try reportingInput(path) {
            // Advance to the latest source frame with time ≤ frameIndex/25.
            while upcomingValid && showsBy(upcomingTime) {
                swap(&shown, &upcoming)
                (shownTime, shownEnd) = (upcomingTime, upcomingEnd)
                image = nil
                try decodeUpcoming()
            }
            // After the last source frame: stop once its display time is over.
            if !upcomingValid && showsBy(shownEnd) { return nil }
            if image == nil { image = try convert(shown) }
            frameIndex += 1
            return image
        }
    }

    /// Whether stream time `t` (from the origin) is ≤ the output time frameIndex/25.
    private func showsBy(_ t: Int64) -> Bool {
        av_compare_ts(t, timeBase, Int64(frameIndex), AVRational(num: 1, den: Int32(VideoDecoder.frameRate))) <= 0
    }

    private func decodeUpcoming() throws {
        av_frame_unref(upcoming.pointer)
        if let deinterlacer {
            upcomingValid = try deinterlacer.next(into: upcoming, from: decoder)
        } else {
            upcomingValid = try decoder.next(into: upcoming)
        }
        if upcomingValid { (upcomingTime, upcomingEnd) = try timing(of: upcoming, after: shownTime) }
    }

    /// Presentation start of `frame` from the origin (kept increasing after `previous`) and its
    /// end by its stated duration, in time-base units; a frame without a timestamp follows the
    /// previous one. Throws when the first timed picture comes more than `maxStreamOffset`
    /// after the audio's start.
    private func timing(of frame: Frame, after previous: Int64?) throws -> (time: Int64, end: Int64) {
        let f = frame.pointer.pointee
        let stated = f.best_effort_timestamp != cals_nopts_value() ? f.best_effort_timestamp : f.pts
        // No timestamp (raw elementary streams): one source frame after the previous frame.
        var time = previous.map { saturatingSum($0, fallbackFrameDuration) } ?? 0
        if stated != cals_nopts_value() {
            let origin = self.origin ?? min(timelineStart ?? stated, stated)
            if self.origin == nil, !sought, let late = seconds(saturatingDifference(stated, origin), timeBase), late > maxStreamOffset {
                throw InputError(path, String(format: "video starts %.1f s after the audio", late))
            }
            self.origin = origin
            time = saturatingDifference(stated, origin)
        }
        if let previous, time <= previous { time = saturatingSum(previous, 1) }
        return (time, saturatingSum(time, f.pkt_duration > 0 ? f.pkt_duration : fallbackFrameDuration))
    }

    /// One frame at the source frame rate in time-base units (for a last frame of unknown length).
    private var fallbackFrameDuration: Int64 {
        let rate = sourceFrameRate > 0 ? sourceFrameRate : Double(VideoDecoder.frameRate)
        return Int64(max(1, clampedInt(Double(timeBase.den) / (Double(timeBase.num) * rate))))
    }

    /// Converts a decoded frame to upright RGB24 at the output size.
    private func convert(_ frame: Frame) throws -> RGBImage {
        let transposed = rotation == 90 || rotation == 270
        let (w, h) = transposed ? (height, width) : (width, height)  // size before rotation
        let pixels = try scaler.rgb(of: frame, width: w, height: h)  // [h, w, 3]
        let upright = rotation == 0 ? pixels : VideoDecoder.rotate(pixels, width: w, height: h, clockwise: rotation)
        return RGBImage(width: width, height: height, pixels: upright)
    }

    /// Whether the stream states an interlaced field order or its first frame is interlaced.
    private static func isInterlaced(_ stream: UnsafeMutablePointer<AVStream>, _ first: Frame) -> Bool {
        let order = stream.pointee.codecpar.pointee.field_order
        return first.pointer.pointee.interlaced_frame != 0 || [AV_FIELD_TT, AV_FIELD_BB, AV_FIELD_TB, AV_FIELD_BT].contains(order)
    }

    /// The first usable sample aspect ratio of `candidates` (frame, stream, codec); 1 when none
    /// is stated or it is outside 1/4 ... 4 (no real format has such pixels).
    private static func pixelAspectRatio(_ candidates: [AVRational]) -> Double {
        guard let stated = candidates.first(where: isValid) else { return 1 }
        let ratio = av_q2d(stated)
        return ratio >= 0.25 && ratio <= 4 ? ratio : 1
    }

    /// Clockwise degrees (0/90/180/270) that make the stream upright, from its display matrix.
    private static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size: Int = 0
        guard let matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size),
              size >= 9 * MemoryLayout<Int32>.size else { return 0 }
        // av_display_rotation_get gives the counter-clockwise angle the matrix rotates by.
        let counterClockwise = av_display_rotation_get(UnsafeRawPointer(matrix).assumingMemoryBound(to: Int32.self))
        guard counterClockwise.isFinite else { return 0 }
        let quarter = Int((-counterClockwise / 90).rounded())
        return ((quarter % 4 + 4) % 4) * 90
    }

    /// Rotates packed RGB [height, width, 3] clockwise by 90, 180 or 270 degrees.
    static func rotate(_ pixels: [UInt8], width: Int, height: Int, clockwise degrees: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels.count)
        let outWidth = degrees == 180 ? width : height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for x in 0..<width {
                        // Where source pixel (x, y) lands in the rotated picture.
                        let (u, v): (Int, Int)
                        switch degrees {
                        case 90: (u, v) = (height - 1 - y, x)
                        case 180: (u, v) = (width - 1 - x, height - 1 - y)
                        default: (u, v) = (y, width - 1 - x)  // 270
                        }
                        let s = (y * width + x) * 3, d = (v * outWidth + u) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return out
    }
}
