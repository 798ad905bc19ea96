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
        return String(cString: buffer)
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
            Unmanaged<Deadline>.fromOpaque(opaque!).takeUnretainedValue().hasPassed ? 1 : 0
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

    /// The best stream of a kind (`AVMEDIA_TYPE_VIDEO` / `AUDIO`), or nil when there is none.
    /// Cover art (an attached picture, as in MP3 or M4A files) does not count as video.
    func bestStream(_ type: AVMediaType) -> UnsafeMutablePointer<AVStream>? {
        let streams = (0..<Int(context.pointee.nb_streams)).map { context.pointee.streams[$0]! }
        let isCoverArt = { (s: UnsafeMutablePointer<AVStream>) in s.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC != 0 }
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        if index >= 0 && !isCoverArt(streams[Int(index)]) { return streams[Int(index)] }
        return streams.first { $0.pointee.codecpar.pointee.codec_type == type && !isCoverArt($0) }
    }

    /// The container's start (the earliest start of its streams) in `timeBase` units; nil when
    /// unknown. Video frames and audio samples are both timed from here, so they line up.
    func startTime(in timeBase: AVRational) -> Int64? {
        let start = context.pointee.start_time
        return start == cals_nopts_value() ? nil : av_rescale_q(start, AVRational(num: 1, den: AV_TIME_BASE), timeBase)
    }

    /// Reads the next packet of any stream into `packet`; false at end of file.
    func read(into packet: Packet) throws -> Bool {
        let status = av_read_frame(context, packet.pointer)
        try checkDeadline()
        if status == cals_averror_eof() { return false }
        try check(status, "reading packet")
        if packet.pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 {
            throw InputError(path, "truncated or corrupt data in stream \(packet.pointer.pointee.stream_index)")
        }
        return true
    }
}

/// Decodes one stream of an input file (AVCodecContext), reading packets as it needs them.
final class StreamDecoder {
    let input: InputFile
    let stream: UnsafeMutablePointer<AVStream>
    let context: UnsafeMutablePointer<AVCodecContext>
    private let packet = Packet()
    private var inputEnded = false
    private var decoderEnded = false
    private var packetsEnd: Int64 = 0  // latest pts + duration among this stream's packets

    init(input: InputFile, stream: UnsafeMutablePointer<AVStream>, threads: Int = 0) throws {
        self.input = input
        self.stream = stream
        let parameters = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw InputError(input.path, "no decoder for codec \(String(cString: avcodec_get_name(parameters.pointee.codec_id)))")
        }
        guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
        self.context = context
        try check(avcodec_parameters_to_context(context, parameters), "copying codec parameters")
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = Int32(threads)
        try check(avcodec_open2(context, codec, nil), "opening decoder \(String(cString: codec.pointee.name))")
    }

    deinit { var p: UnsafeMutablePointer<AVCodecContext>? = context; avcodec_free_context(&p) }

    /// Decodes the next frame of the stream into `frame`; false when the stream has ended.
    func next(into frame: Frame) throws -> Bool {
        while !decoderEnded {
            let status = avcodec_receive_frame(context, frame.pointer)
            if status >= 0 { return true }
            if status == cals_averror_eof() { decoderEnded = true; break }
            guard status == cals_averror_eagain() else { try check(status, "decoding"); break }
            if inputEnded {
                try check(avcodec_send_packet(context, nil), "flushing decoder")
            } else if try input.read(into: packet) {
                defer { av_packet_unref(packet.pointer) }
                let p = packet.pointer.pointee
                if p.stream_index == stream.pointee.index {
                    if p.pts != cals_nopts_value() { packetsEnd = max(packetsEnd, p.pts + p.duration) }
                    try check(avcodec_send_packet(context, packet.pointer), "decoding packet")
                }
            } else {
                inputEnded = true
                try checkComplete()
                try check(avcodec_send_packet(context, nil), "flushing decoder")
            }
        }
        return false
    }
    /// Throws when the packets ended well before the duration the container states (a file cut
    /// short at a packet boundary): more than 0.5 s and 2 % early.
    private func checkComplete() throws {
        let s = stream.pointee
        guard s.duration > 0, packetsEnd > 0 else { return }
        let start = s.start_time != cals_nopts_value() ? s.start_time : 0
        let seconds = av_q2d(s.time_base)
        let (ended, stated) = (Double(packetsEnd - start) * seconds, Double(s.duration) * seconds)
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

    deinit { sws_freeContext(context) }

    /// Converts `source` (`sourceWidth`×`sourceHeight` in `sourceFormat`) into `destination`.
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
        sws_scale(context, source, sourceStrides, 0, Int32(sourceHeight), destination, destinationStrides)
    }

    /// Uses the frame's YUV matrix (BT.601/709/...) and range (limited/full) when it states them.
    private func applyColorDetails(of frame: AVFrame) {
        if let (c, space, range) = appliedColor, c == context, space == frame.colorspace, range == frame.color_range { return }
        appliedColor = (context, frame.colorspace, frame.color_range)
        var inverseTable: UnsafeMutablePointer<Int32>?
        var table: UnsafeMutablePointer<Int32>?
        var sourceRange: Int32 = 0, range: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard sws_getColorspaceDetails(context, &inverseTable, &sourceRange, &table, &range,
                                       &brightness, &contrast, &saturation) >= 0 else { return }
        var coefficients = UnsafePointer(inverseTable!)
        if frame.colorspace != AVCOL_SPC_UNSPECIFIED && frame.colorspace != AVCOL_SPC_RGB {
            coefficients = sws_getCoefficients(Int32(frame.colorspace.rawValue))
        }
        if frame.color_range == AVCOL_RANGE_JPEG { sourceRange = 1 }
        if frame.color_range == AVCOL_RANGE_MPEG { sourceRange = 0 }
        sws_setColorspaceDetails(context, coefficients, sourceRange, table, range, brightness, contrast, saturation)
    }
}
