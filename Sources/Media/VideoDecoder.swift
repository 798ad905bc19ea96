import CFFmpeg
import Common
import Foundation

/// Streams the pictures of a video file as upright RGB frames at a constant 25 fps.
///
/// Output frame i is the source frame on screen at time i/25 s after the container's start (the
/// earliest start of its streams, usually the first frame; `decodeAudio` counts from the same
/// point, so frame i and audio samples 640·i ..< 640·(i+1) at 16 kHz are simultaneous): the
/// latest decoded frame whose presentation time is ≤ i/25, or the first frame before it
/// appears (frames are duplicated or dropped to reach 25 fps; variable-frame-rate input works).
/// Frames stop at the end of the last source frame, so a clip of d seconds gives ⌈25·d⌉ frames. Rotation metadata (display matrix) is
/// applied. Only two decoded frames and one RGB image are held at a time, whatever the length
/// or size of the input.
public final class VideoDecoder {
    public static let frameRate = 25

    public let path: String
    /// Picture size as displayed (after rotation), before any `maxSide` downscale.
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Size of the frames `nextFrame` returns.
    public let width: Int
    public let height: Int
    /// Average source frame rate (frames/s) as FFmpeg guesses it; 0 when unknown.
    public let sourceFrameRate: Double
    /// Duration in seconds from the container or stream; 0 when unknown.
    public let duration: Double
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied to make the picture upright.
    public let rotation: Int
    /// Whether the file also has an audio stream (read it with `decodeAudio(path:)`).
    public let hasAudio: Bool
    /// Index of the frame the next `nextFrame()` call returns.
    public private(set) var frameIndex = 0

    private let input: InputFile
    private let decoder: StreamDecoder
    private let timeBase: AVRational
    private let scaler = Scaler()
    private var shown = Frame()    // the source frame on screen at the current output time
    private var upcoming = Frame() // the next source frame, when `upcomingValid`
    // Presentation start and end of `shown` and `upcoming`, in stream time-base units from the origin.
    private var shownTime: Int64 = 0, shownEnd: Int64 = 0, upcomingTime: Int64 = 0, upcomingEnd: Int64 = 0
    private let containerStart: Int64?  // in stream time-base units
    private var origin: Int64?          // output time 0 in stream time-base units
    private var started = false, upcomingValid = false
    private var image: RGBImage?   // `shown` converted, reused for duplicated output frames

    /// Opens `path`. `maxSide` downscales (area filter) so that the longer side is at most that
    /// many pixels; `timeLimit` bounds the wall-clock time spent on this file; `threads` is the
    /// decoder's thread count (0: FFmpeg chooses).
    public init(path: String, maxSide: Int? = nil, timeLimit: TimeInterval = defaultDecodeTimeLimit, threads: Int = 0) throws {
        self.path = path
        let input = try InputFile(path: path, timeLimit: timeLimit)
        guard let stream = input.bestStream(AVMEDIA_TYPE_VIDEO) else { throw InputError(path, "no video stream") }
        self.input = input
        hasAudio = input.bestStream(AVMEDIA_TYPE_AUDIO) != nil
        decoder = try reportingInput(path) { try StreamDecoder(input: input, stream: stream, threads: threads) }
        timeBase = stream.pointee.time_base
        guard timeBase.num > 0, timeBase.den > 0 else { throw InputError(path, "video stream has no time base") }
        containerStart = input.startTime(in: timeBase)

        let parameters = stream.pointee.codecpar.pointee
        guard parameters.width > 0, parameters.height > 0 else { throw InputError(path, "video stream has no picture size") }
        rotation = VideoDecoder.rotation(of: stream)
        let transposed = rotation == 90 || rotation == 270
        let (displayWidth, displayHeight) = transposed ? (parameters.height, parameters.width) : (parameters.width, parameters.height)
        sourceWidth = Int(displayWidth)
        sourceHeight = Int(displayHeight)
        let scale = maxSide.map { min(1, Double($0) / Double(max(displayWidth, displayHeight))) } ?? 1
        width = max(1, Int((Double(displayWidth) * scale).rounded()))
        height = max(1, Int((Double(displayHeight) * scale).rounded()))

        let rate = av_guess_frame_rate(input.context, stream, nil)
        sourceFrameRate = rate.den > 0 ? av_q2d(rate) : 0
        if stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * av_q2d(timeBase)
        } else {
            duration = max(0, Double(input.context.pointee.duration) / Double(AV_TIME_BASE))
        }
    }

    /// About how many frames `nextFrame` will return (from the stated duration).
    public var estimatedFrameCount: Int { Int((duration * Double(VideoDecoder.frameRate)).rounded()) }

    /// The next 25 fps frame, or nil after the last one. Throws `InputError` for undecodable
    /// data, a video with no pictures, or when the time limit is exceeded.
    public func nextFrame() throws -> RGBImage? {
        try reportingInput(path) {
            if !started {
                started = true
                guard try decode(into: shown) else { throw InputError(path, "no decodable video frames") }
                (shownTime, shownEnd) = timing(of: shown, after: nil)
                try decodeUpcoming()
            }
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

    /// Whether stream time `t` (from the origin) is ≤ the output time frameIndex/25 (exact integers).
    private func showsBy(_ t: Int64) -> Bool {
        t * Int64(timeBase.num) * Int64(VideoDecoder.frameRate) <= Int64(frameIndex) * Int64(timeBase.den)
    }

    private func decodeUpcoming() throws {
        upcomingValid = try decode(into: upcoming)
        if upcomingValid { (upcomingTime, upcomingEnd) = timing(of: upcoming, after: shownTime) }
    }

    private func decode(into frame: Frame) throws -> Bool {
        av_frame_unref(frame.pointer)
        return try decoder.next(into: frame)
    }

    /// Presentation start of `frame` from the origin (kept increasing after `previous`) and its
    /// end by its stated duration, in time-base units; a frame without a timestamp follows the
    /// previous one.
    private func timing(of frame: Frame, after previous: Int64?) -> (time: Int64, end: Int64) {
        let f = frame.pointer.pointee
        let stated = f.best_effort_timestamp != cals_nopts_value() ? f.best_effort_timestamp : f.pts
        var time: Int64
        if stated != cals_nopts_value() {
            if origin == nil { origin = min(containerStart ?? stated, stated) }
            time = stated - origin!
        } else {
            time = (previous ?? -1) + 1
        }
        if let previous, time <= previous { time = previous + 1 }
        return (time, time + (f.pkt_duration > 0 ? f.pkt_duration : fallbackFrameDuration))
    }

    /// One frame at the source frame rate in time-base units (for a last frame of unknown length).
    private var fallbackFrameDuration: Int64 {
        let rate = sourceFrameRate > 0 ? sourceFrameRate : Double(VideoDecoder.frameRate)
        return max(1, Int64((Double(timeBase.den) / (Double(timeBase.num) * rate)).rounded()))
    }

    /// Converts a decoded frame to upright RGB24 at the output size.
    private func convert(_ frame: Frame) throws -> RGBImage {
        let f = frame.pointer.pointee
        let transposed = rotation == 90 || rotation == 270
        let (w, h) = transposed ? (height, width) : (width, height)  // size before rotation
        let pixels = try [UInt8](unsafeUninitializedCapacity: w * h * 3) { buffer, count in  // [h, w, 3]
            var plane: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            var stride = Int32(w * 3)
            try frame.data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { source in
                try scaler.convert(source: source, sourceStrides: frame.linesize,
                                   sourceWidth: Int(f.width), sourceHeight: Int(f.height),
                                   sourceFormat: AVPixelFormat(f.format),
                                   destination: &plane, destinationStrides: &stride,
                                   width: w, height: h, format: AV_PIX_FMT_RGB24, colorOf: f)
            }
            count = w * h * 3
        }
        let upright = rotation == 0 ? pixels : VideoDecoder.rotate(pixels, width: w, height: h, clockwise: rotation)
        return RGBImage(width: width, height: height, pixels: upright)
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
