import CFFmpeg
import Common
import Foundation

// Thin owners of FFmpeg objects: each class frees what it holds in deinit, and every failing
// call becomes a thrown `FFmpegError` carrying FFmpeg's own message (av_strerror).

/// A failed FFmpeg call: what we were doing and FFmpeg's message for the error code.
public struct FFmpegError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String

    public init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    /// FFmpeg's text for the code, e.g. "Invalid data found when processing input".
    public var message: String {
        var buffer = [CChar](repeating: 0, count: 256)
        av_strerror(code, &buffer, buffer.count)
        return String(cBuffer: buffer)
    }

    public var description: String { "\(operation): \(message)" }
}

/// Throws `FFmpegError` for a negative return code; passes non-negative codes through.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    if code < 0 { throw FFmpegError(code, operation()) }
    return code
}

/// Silences FFmpeg's own logging once per process: problems reach the user as thrown errors.
let quietFFmpegLog: Void = av_log_set_level(AV_LOG_QUIET)

/// Checks that an input path names a non-empty regular file before a library sees it.
func checkInputFile(_ path: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw InputError(path, "file not found")
    }
    guard !isDirectory.boolValue else { throw InputError(path, "is a directory, not a media file") }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    guard size > 0 else { throw InputError(path, "empty file (0 bytes)") }
}

/// Runs `body`, turning FFmpeg errors into `InputError(path, message)`.
func reportingInput<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as FFmpegError { throw InputError(path, error.description) }
}

/// Owns an AVFrame.
final class Frame {
    let pointer: UnsafeMutablePointer<AVFrame>

    init() {
        guard let p = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
        pointer = p
    }
    deinit { var p: UnsafeMutablePointer<AVFrame>? = pointer; av_frame_free(&p) }

    /// The 8 plane pointers (`AVFrame.data`).
    var data: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?> {
        (UnsafeMutableRawPointer(pointer) + MemoryLayout<AVFrame>.offset(of: \AVFrame.data)!)
            .assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
    }
    /// The 8 plane strides in bytes (`AVFrame.linesize`).
    var linesize: UnsafeMutablePointer<Int32> {
        (UnsafeMutableRawPointer(pointer) + MemoryLayout<AVFrame>.offset(of: \AVFrame.linesize)!)
            .assumingMemoryBound(to: Int32.self)
    }
}

/// Owns an AVPacket.
final class Packet {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() {
        guard let p = av_packet_alloc() else { fatalError("av_packet_alloc: out of memory") }
        pointer = p
    }
    deinit { var p: UnsafeMutablePointer<AVPacket>? = pointer; av_packet_free(&p) }
}

/// Seconds one file may take to decode before it is given up with an `InputError`.
public let defaultDecodeTimeLimit: TimeInterval = 1200

/// A wall-clock deadline, checked by FFmpeg's I/O interrupt callback and by our decode loops.
final class Deadline {
    let seconds: TimeInterval
    private let end: UInt64

    init(seconds: TimeInterval) {
        self.seconds = seconds
        end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9)
    }
    var hasPassed: Bool { DispatchTime.now().uptimeNanoseconds > end }
    var exceededReason: String { "decode took longer than \(Int(seconds)) s" }
}

// Container values (timestamps, durations, time bases) may be anything in a damaged or hostile
// file: arithmetic on them saturates instead of trapping, and time bases are checked before use.

/// a + b, clamped to the Int64 range.
func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b > 0 ? .max : .min) : sum
}

/// a - b, clamped to the Int64 range.
func saturatingDifference(_ a: Int64, _ b: Int64) -> Int64 {
    let (difference, overflow) = a.subtractingReportingOverflow(b)
    return overflow ? (b < 0 ? .max : .min) : difference
}

/// Whether a time base can be used for arithmetic (both terms positive).
func isValid(_ timeBase: AVRational) -> Bool { timeBase.num > 0 && timeBase.den > 0 }

/// `t` in seconds, nil when `t` is AV_NOPTS_VALUE or the time base is unusable.
func seconds(_ t: Int64, _ timeBase: AVRational) -> Double? {
    guard t != cals_nopts_value(), isValid(timeBase) else { return nil }
    return Double(t) * av_q2d(timeBase)
}

/// A finite Double rounded to Int, clamped to ±2^53 (any count we can hold); 0 for NaN.
func clampedInt(_ x: Double) -> Int {
    guard x.isFinite else { return x.isNaN ? 0 : (x > 0 ? 1 << 53 : -(1 << 53)) }
    return Int(min(max(x.rounded(), -0x1p53), 0x1p53))
}

/// The furthest two streams of one file may start apart (seconds) before the file's timing is
/// taken as broken: beyond it, waiting for the later stream would mean hours of silence or
/// repeated pictures from one bad timestamp.
let maxStreamOffset: Double = 60

/// A media file opened for reading with libavformat (AVFormatContext), with a time limit.
final class InputFile {
    let path: String
    let context: UnsafeMutablePointer<AVFormatContext>
    let deadline: Deadline

    init(path: String, timeLimit: TimeInterval) throws {
        _ = quietFFmpegLog
        try checkInputFile(path)
        self.path = path
        deadline = Deadline(seconds: timeLimit)
        guard let context = avformat_alloc_context() else { fatalError("avformat_alloc_context: out of memory") }
        context.pointee.interrupt_callback.callback = { opaque in
            guard let opaque else { return 0 }
            return Unmanaged<Deadline>.fromOpaque(opaque).takeUnretainedValue().hasPassed ? 1 : 0
        }
        context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(deadline).toOpaque()
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        let status = avformat_open_input(&opened, path, nil, nil)  // frees the context on failure
        guard status >= 0, let opened else {
            throw InputError(path, deadline.hasPassed ? deadline.exceededReason : "cannot open: \(FFmpegError(status, "").message)")
        }
        self.context = opened  // from here deinit closes it
        try checkDeadline()
        let found = avformat_find_stream_info(opened, nil)
        try checkDeadline()
        guard found >= 0 else { throw InputError(path, "cannot read stream info: \(FFmpegError(found, "").message)") }
    }

    deinit { var p: UnsafeMutablePointer<AVFormatContext>? = context; avformat_close_input(&p) }

    func checkDeadline() throws {
        if deadline.hasPassed { throw InputError(path, deadline.exceededReason) }
    }

    /// The file's streams of one kind that a decoder can read, cover art (an attached picture,
    /// as in MP3 or M4A files) excluded.
    private func streams(_ type: AVMediaType) -> [UnsafeMutablePointer<AVStream>] {
        guard let all = context.pointee.streams else { return [] }
        return (0..<Int(context.pointee.nb_streams)).compactMap { all[$0] }.filter { stream in
            guard let parameters = stream.pointee.codecpar else { return false }
            return parameters.pointee.codec_type == type && stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0
                && avcodec_find_decoder(parameters.pointee.codec_id) != nil
        }
    }

    /// The video stream decoded: FFmpeg's best (av_find_best_stream) unless it is cover art or
    /// has no decoder, else the first; nil when there is none.
    var videoStream: UnsafeMutablePointer<AVStream>? {
        let candidates = streams(AVMEDIA_TYPE_VIDEO)
        let best = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        return candidates.first { $0.pointee.index == best } ?? candidates.first
    }

    /// The audio stream decoded: the first with the default disposition, else the first.
    var audioStream: UnsafeMutablePointer<AVStream>? {
        let candidates = streams(AVMEDIA_TYPE_AUDIO)
        return candidates.first { $0.pointee.disposition & AV_DISPOSITION_DEFAULT != 0 } ?? candidates.first
    }

    /// Time 0 of the 25 fps timeline in `timeBase` units: the earlier start of the decoded video
    /// and audio streams (the container's start when neither states one; subtitle, data and
    /// unused streams do not move it). Nil when unknown. Video frames and audio samples are both
    /// timed from here, so they line up.
    func timelineStart(in timeBase: AVRational) -> Int64? {
        let starts = [videoStream, audioStream].compactMap { $0?.pointee }.compactMap { s -> Int64? in
            guard s.start_time != cals_nopts_value(), isValid(s.time_base) else { return nil }
            return av_rescale_q(s.start_time, s.time_base, timeBase)
        }
        if let start = starts.min() { return start }
        let start = context.pointee.start_time
        return start == cals_nopts_value() ? nil : av_rescale_q(start, AVRational(num: 1, den: AV_TIME_BASE), timeBase)
    }

    /// Reads the next packet of any stream into `packet`; false at end of file. Packets flagged
    /// corrupt are returned as they are (the stream's decoder counts them).
    func read(into packet: Packet) throws -> Bool {
        let status = av_read_frame(context, packet.pointer)
        try checkDeadline()
        if status == cals_averror_eof() { return false }
        try check(status, "reading packet")
        return true
    }
}

/// Decodes one stream of an input file (AVCodecContext), reading packets as it needs them.
///
/// Damaged packets are skipped as the ffmpeg program does and counted in `damage`: a packet the
/// decoder rejects, or one the demuxer flags corrupt (video: still given to the decoder, whose
/// error concealment makes the most of it; audio: dropped), and an audio frame the decoder
/// concealed (decode_error_flags, e.g. a truncated last AC-3 frame). Dropped audio packets are
/// reported by `takeLost()`, so the caller can put silence in their place.
final class StreamDecoder {
    let input: InputFile
    let stream: UnsafeMutablePointer<AVStream>
    let context: UnsafeMutablePointer<AVCodecContext>
    private let packet = Packet()
    private let isVideo: Bool
    private var inputEnded = false
    private var decoderEnded = false
    private var packetsEnd: Int64 = 0  // latest pts + duration among this stream's packets
    // Damage so far; the first second runs from the stream's first packet time.
    private var packets = 0, undecodable = 0, receiveErrors = 0
    private var firstPacketTime: Double?
    private var decodedInFirstSecond = false, failedInFirstSecond = false
    private var lost = (packets: 0, duration: Int64(0))  // audio packets dropped; duration in stream time base
    private var lastFrameDuration: Int64 = 0  // of the last decoded audio frame, in stream time base

    init(input: InputFile, stream: UnsafeMutablePointer<AVStream>, threads: Int = 0) throws {
        self.input = input
        self.stream = stream
        guard let parameters = stream.pointee.codecpar else { throw InputError(input.path, "stream without codec parameters") }
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw InputError(input.path, "no decoder for codec \(String(cString: avcodec_get_name(parameters.pointee.codec_id)))")
        }
        isVideo = parameters.pointee.codec_type == AVMEDIA_TYPE_VIDEO
        guard isValid(stream.pointee.time_base) else { throw InputError(input.path, "stream \(stream.pointee.index) has no time base") }
        guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
        self.context = context
        try check(avcodec_parameters_to_context(context, parameters), "copying codec parameters")
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = Int32(clamping: threads)
        try check(avcodec_open2(context, codec, nil), "opening decoder \(String(cString: codec.pointee.name))")
    }

    deinit { var p: UnsafeMutablePointer<AVCodecContext>? = context; avcodec_free_context(&p) }

    /// Packets read and failed so far (complete once `next` returned false).
    var damage: StreamDamage {
        let lost = undecodable > 0 && (failedInFirstSecond && !decodedInFirstSecond)
        return StreamDamage(packets: packets, undecodable: min(undecodable, packets), firstSecondLost: lost)
    }

    /// The audio packets dropped since the last call and their summed duration in stream time
    /// base (each its stated duration, else that of the last decoded frame; at most 1 s).
    func takeLost() -> (packets: Int, duration: Int64) {
        defer { lost = (0, 0) }
        return lost
    }

    /// Moves the input to the key frame at or before stream time `time` (this stream's time
    /// base) of the container's default stream (the video's, when there is one) and empties the
    /// decoder; false when the container cannot seek there (the input is then where it was).
    func seek(to time: Int64) -> Bool {
        let target = av_rescale_q(time, stream.pointee.time_base, AVRational(num: 1, den: AV_TIME_BASE))
        guard av_seek_frame(input.context, -1, target, AVSEEK_FLAG_BACKWARD) >= 0 else { return false }
        avcodec_flush_buffers(context)
        lost = (0, 0)
        return true
    }

    /// Decodes the next frame of the stream into `frame`; false when the stream has ended.
    func next(into frame: Frame) throws -> Bool {
        while !decoderEnded {
            let status = avcodec_receive_frame(context, frame.pointer)
            if status >= 0 {
                noteDecoded(frame)
                return true
            }
            if status == cals_averror_eof() { decoderEnded = true; break }
            if status != cals_averror_eagain() {
                // A frame that failed inside the decoder (frame threads report errors here).
                // Bounded, so a decoder that keeps failing cannot loop for ever.
                noteFailure(at: nil)
                receiveErrors += 1
                if receiveErrors > packets + 16 { decoderEnded = true }
                continue
            }
            if inputEnded {
                if avcodec_send_packet(context, nil) < 0 { decoderEnded = true }
            } else if try input.read(into: packet) {
                defer { av_packet_unref(packet.pointer) }
                if packet.pointer.pointee.stream_index == stream.pointee.index { try send(packet) }
            } else {
                inputEnded = true
                try checkComplete()
                if avcodec_send_packet(context, nil) < 0 { decoderEnded = true }
            }
        }
        return false
    }

    /// Gives one packet of this stream to the decoder, counting it and any failure.
    private func send(_ packet: Packet) throws {
        let p = packet.pointer.pointee
        packets += 1
        let time = p.pts != cals_nopts_value() ? p.pts : p.dts
        if p.pts != cals_nopts_value() { packetsEnd = max(packetsEnd, saturatingSum(p.pts, max(0, p.duration))) }
        let at = seconds(time, stream.pointee.time_base)
        if firstPacketTime == nil { firstPacketTime = at }
        let corrupt = p.flags & AV_PKT_FLAG_CORRUPT != 0
        let failed = (corrupt && !isVideo) || avcodec_send_packet(context, packet.pointer) < 0
        guard corrupt || failed else { return }
        noteFailure(at: at)
        if failed && !isVideo {
            // At most 1 s (no codec has longer packets), so a damaged file cannot make hours of silence.
            let duration = min(p.duration > 0 ? p.duration : lastFrameDuration, av_rescale_q(1, AVRational(num: 1, den: 1), stream.pointee.time_base))
            lost = (lost.packets + 1, saturatingSum(lost.duration, max(0, duration)))
        }
    }

    private func noteFailure(at time: Double?) {
        undecodable += 1
        if !decodedInFirstSecond, inFirstSecond(time) ?? true { failedInFirstSecond = true }
    }

    /// Whether a time (seconds) lies in the stream's first second; nil when either is unknown.
    private func inFirstSecond(_ time: Double?) -> Bool? {
        guard let time, let first = firstPacketTime else { return nil }
        return time < first + 1
    }

    private func noteDecoded(_ frame: Frame) {
        receiveErrors = 0
        let f = frame.pointer.pointee
        let stated = f.best_effort_timestamp != cals_nopts_value() ? f.best_effort_timestamp : f.pts
        let time = seconds(stated, stream.pointee.time_base)
        if !isVideo {
            if f.sample_rate > 0 {
                lastFrameDuration = av_rescale_q(Int64(f.nb_samples), AVRational(num: 1, den: f.sample_rate), stream.pointee.time_base)
            }
            // Video decoders flag every frame concealed after a lost packet; audio ones only the
            // damaged frame itself.
            if f.decode_error_flags != 0 { noteFailure(at: time) }
        }
        if !decodedInFirstSecond, inFirstSecond(time) ?? !failedInFirstSecond { decodedInFirstSecond = true }
    }

    /// Throws when the packets ended well before the duration the container states (a file cut
    /// short at a packet boundary): more than 0.5 s and 2 % early. Durations FFmpeg only
    /// estimated from the bit rate are not trusted for this.
    private func checkComplete() throws {
        let s = stream.pointee
        guard s.duration > 0, packetsEnd > 0, isValid(s.time_base),
              input.context.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE else { return }
        let start = s.start_time != cals_nopts_value() ? s.start_time : 0
        let seconds = av_q2d(s.time_base)
        let (ended, stated) = (Double(saturatingDifference(packetsEnd, start)) * seconds, Double(s.duration) * seconds)
        if stated - ended > max(0.5, 0.02 * stated) {
            throw InputError(input.path, String(format: "truncated: stream %d ends at %.2f s of %.2f s", s.index, ended, stated))
        }
    }
}

/// Converts pictures between pixel formats and sizes (SwsContext), e.g. YUV → RGB24.
final class Scaler {
    private var context: OpaquePointer?
    /// The context, colour matrix and range last set by `applyColorDetails`.
    private var appliedColor: (OpaquePointer?, AVColorSpace, AVColorRange)?
    /// The RGB24 picture `rgb(of:width:height:)` scales into: rows aligned to 64 bytes and
    /// padded (av_frame_get_buffer), as libswscale's SIMD paths write past `width*3`.
    private let target = Frame()

    deinit { sws_freeContext(context) }

    /// A decoded frame (any size and pixel format, as the frame itself states) converted to packed
    /// RGB24 of `width`×`height`, [height, width, 3] with no row padding. The frame's colour
    /// matrix and range are honoured.
    func rgb(of frame: Frame, width: Int, height: Int) throws -> [UInt8] {
        let t = target.pointer
        if t.pointee.width != Int32(width) || t.pointee.height != Int32(height) || target.data[0] == nil {
            av_frame_unref(t)
            t.pointee.format = AV_PIX_FMT_RGB24.rawValue
            t.pointee.width = Int32(width)
            t.pointee.height = Int32(height)
            try check(av_frame_get_buffer(t, 64), "allocating a \(width)x\(height) picture")
        }
        let f = frame.pointer.pointee
        try frame.data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { source in
            try convert(source: source, sourceStrides: frame.linesize, sourceWidth: Int(f.width), sourceHeight: Int(f.height),
                        sourceFormat: AVPixelFormat(f.format), destination: target.data, destinationStrides: target.linesize,
                        width: width, height: height, format: AV_PIX_FMT_RGB24, colorOf: f)
        }
        let rowBytes = width * 3, stride = Int(target.linesize[0])
        guard let plane = target.data[0], stride >= rowBytes else { throw FFmpegError(-EINVAL, "RGB picture without rows") }
        return [UInt8](unsafeUninitializedCapacity: rowBytes * height) { buffer, count in
            for y in 0..<height {
                (buffer.baseAddress! + y * rowBytes).initialize(from: plane + y * stride, count: rowBytes)
            }
            count = rowBytes * height
        }
    }

    /// Converts `source` (`sourceWidth`×`sourceHeight` in `sourceFormat`) into `destination`.
    /// Both pictures' planes must be allocated by FFmpeg (aligned and padded): libswscale's SIMD
    /// reads and writes past the last pixel.
    /// With `colorOf` the source frame's colour matrix and range are honoured (YUV input).
    func convert(source: UnsafePointer<UnsafePointer<UInt8>?>, sourceStrides: UnsafePointer<Int32>,
                 sourceWidth: Int, sourceHeight: Int, sourceFormat: AVPixelFormat,
                 destination: UnsafePointer<UnsafeMutablePointer<UInt8>?>, destinationStrides: UnsafePointer<Int32>,
                 width: Int, height: Int, format: AVPixelFormat, colorOf frame: AVFrame? = nil) throws {
        let downscaling = width < sourceWidth || height < sourceHeight
        context = sws_getCachedContext(context, Int32(sourceWidth), Int32(sourceHeight), sourceFormat,
                                       Int32(width), Int32(height), format,
                                       downscaling ? SWS_AREA : SWS_BILINEAR, nil, nil, nil)
        guard let context else {
            throw FFmpegError(-EINVAL, "sws_getContext \(sourceWidth)x\(sourceHeight) → \(width)x\(height)")
        }
        if let frame { applyColorDetails(of: frame) }
        try check(sws_scale(context, source, sourceStrides, 0, Int32(sourceHeight), destination, destinationStrides),
                  "converting a \(sourceWidth)x\(sourceHeight) picture")
    }

    /// Uses the frame's YUV matrix (BT.601/709/...) and range (limited/full) when it states them.
    private func applyColorDetails(of frame: AVFrame) {
        if let (c, space, range) = appliedColor, c == context, space == frame.colorspace, range == frame.color_range { return }
        appliedColor = (context, frame.colorspace, frame.color_range)
        var inverseTable: UnsafeMutablePointer<Int32>?
        var table: UnsafeMutablePointer<Int32>?
        var sourceRange: Int32 = 0, range: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard sws_getColorspaceDetails(context, &inverseTable, &sourceRange, &table, &range,
                                       &brightness, &contrast, &saturation) >= 0, let inverseTable else { return }
        var coefficients = UnsafePointer(inverseTable)
        if frame.colorspace != AVCOL_SPC_UNSPECIFIED && frame.colorspace != AVCOL_SPC_RGB {
            coefficients = sws_getCoefficients(Int32(frame.colorspace.rawValue))
        }
        if frame.color_range == AVCOL_RANGE_JPEG { sourceRange = 1 }
        if frame.color_range == AVCOL_RANGE_MPEG { sourceRange = 0 }
        sws_setColorspaceDetails(context, coefficients, sourceRange, table, range, brightness, contrast, saturation)
    }
}
