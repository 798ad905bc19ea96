import CFFmpeg
import Common
import Foundation

// Thin owners of FFmpeg objects: each class frees what it holds in deinit, and every failing
// call becomes a thrown `FFmpegError` carrying FFmpeg's own message (av_strerror).

/// A failed FFmpeg call: what we were doing and FFmpeg's message for the error code.
public struct FFmpegError: Error, CustomStringConvertible {
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

/// A wall-clock deadline, checked by FFmpeg's I/O interrupt callback and by our decode loops.
final class Deadline {
    let seconds: TimeInterval
    private let end: UInt64

    init(seconds: TimeInterval) {
        self.seconds = seconds
        end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9)
    }
    var hasPassed: Bool { DispatchTime.now().uptimeNanoseconds > end }
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
        guard var context = avformat_alloc_context() else { fatalError("avformat_alloc_context: out of memory") }
        context.pointee.interrupt_callback.callback = { opaque in
            Unmanaged<Deadline>.fromOpaque(opaque!).takeUnretainedValue().hasPassed ? 1 : 0
        }
        context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(deadline).toOpaque()
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        let status = avformat_open_input(&opened, path, nil, nil)  // frees the context on failure
        if deadline.hasPassed { throw InputError(path, "decode took longer than \(Int(timeLimit)) s") }
        guard status >= 0, let opened else { throw InputError(path, "cannot open: \(FFmpegError(status, "").message)") }
        context = opened
        self.context = context
        let found = avformat_find_stream_info(context, nil)
        try checkDeadline()
        guard found >= 0 else { throw InputError(path, "cannot read stream info: \(FFmpegError(found, "").message)") }
    }

    deinit { var p: UnsafeMutablePointer<AVFormatContext>? = context; avformat_close_input(&p) }

    func checkDeadline() throws {
        if deadline.hasPassed { throw InputError(path, "decode took longer than \(Int(deadline.seconds)) s") }
    }

    /// The best stream of a kind (`AVMEDIA_TYPE_VIDEO` / `AUDIO`), or nil when there is none.
    func bestStream(_ type: AVMediaType) -> UnsafeMutablePointer<AVStream>? {
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        return index >= 0 ? context.pointee.streams[Int(index)] : nil
    }

    /// Reads the next packet of any stream into `packet`; false at end of file.
    func read(into packet: Packet) throws -> Bool {
        let status = av_read_frame(context, packet.pointer)
        try checkDeadline()
        if status == cals_averror_eof() { return false }
        try check(status, "reading packet")
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
                if packet.pointer.pointee.stream_index == stream.pointee.index {
                    try check(avcodec_send_packet(context, packet.pointer), "decoding packet")
                }
            } else {
                inputEnded = true
                try check(avcodec_send_packet(context, nil), "flushing decoder")
            }
        }
        return false
    }
}

/// Converts pictures between pixel formats and sizes (SwsContext), e.g. YUV → RGB24.
final class Scaler {
    private var context: OpaquePointer?

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
        if let frame { try applyColorDetails(of: frame) }
        sws_scale(context, source, sourceStrides, 0, Int32(sourceHeight), destination, destinationStrides)
    }

    /// Uses the frame's YUV matrix (BT.601/709/...) and range (limited/full) when it states them.
    private func applyColorDetails(of frame: AVFrame) throws {
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
