import CFFmpeg
import Common
import Foundation

/// Writes a video file (MP4 by default, format from the extension) from RGB frames at 25 fps and
/// optional mono audio: H.264 yuv420p with libx264 (MPEG-4 part 2 when libx264 is missing),
/// AAC audio at `audioSampleRate`. Audio may be given before, between or after the frames; it
/// is encoded alongside the video time so the muxer can interleave. The file is written under a
/// temporary name in the same folder and renamed to `path` by `finish()`; a writer dropped
/// without `finish()` removes its temporary file.
public final class MediaWriter {
    public static let frameRate = 25

    public let path: String
    /// Size of the frames `append` takes.
    public let width: Int
    public let height: Int
    public let audioSampleRate: Int?
    /// Frames appended so far.
    public private(set) var frameCount = 0

    private let file: OutputFile
    private let video: StreamEncoder
    private let audio: StreamEncoder?
    private let scaler = Scaler()
    private let picture = Frame()              // yuv420p picture handed to the video encoder
    /// The RGB24 copy of the frame being appended, allocated by FFmpeg (padded): libswscale's SIMD
    /// reads up to 16 bytes past the last pixel, which an `RGBImage`'s array does not own (those
    /// bytes changed the encoded file from run to run).
    private let source = Frame()
    private var audioSamples: [Float] = []     // mono audio given and not yet dropped
    private var audioEncoded = 0               // samples of `audioSamples` already encoded
    private var audioTime = 0                  // samples encoded in all (the next audio pts)
    private var finished = false

    /// Opens the output. `quality` is the x264 CRF (lower is better; 18 is near transparent),
    /// `preset` the x264 speed preset (a faster one spends less CPU per frame and needs a lower
    /// CRF, hence a larger file, for the same fidelity). Odd sizes are rounded down to even in
    /// the file (yuv420p needs even sizes).
    public init(path: String, width: Int, height: Int, audioSampleRate: Int? = Media.audioSampleRate,
                quality: Int = 18, preset: String = "veryfast") throws {
        _ = quietFFmpegLog
        self.path = path
        self.width = width
        self.height = height
        self.audioSampleRate = audioSampleRate
        guard width >= 2, height >= 2 else { throw FFmpegError(-EINVAL, "\(path): frame size \(width)x\(height)") }
        guard let format = av_guess_format(nil, path, nil) ?? av_guess_format("mp4", nil, nil) else {
            throw FFmpegError(-EINVAL, "\(path): no output format")
        }
        file = try OutputFile(path: path, format: format)
        let globalHeader = format.pointee.flags & AVFMT_GLOBALHEADER != 0
        video = try StreamEncoder(video: file.context, width: width & ~1, height: height & ~1,
                                  quality: quality, preset: preset, globalHeader: globalHeader)
        audio = try audioSampleRate.map { [file] in try StreamEncoder(audio: file.context, sampleRate: $0, globalHeader: globalHeader) }
        try file.open()
        picture.pointer.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        picture.pointer.pointee.width = Int32(width & ~1)
        picture.pointer.pointee.height = Int32(height & ~1)
        try check(av_frame_get_buffer(picture.pointer, 0), "allocating picture")
        source.pointer.pointee.format = AV_PIX_FMT_RGB24.rawValue
        source.pointer.pointee.width = Int32(width)
        source.pointer.pointee.height = Int32(height)
        try check(av_frame_get_buffer(source.pointer, 0), "allocating RGB picture")
    }

    /// Encodes the next frame (shown at frameCount/25 s); it must be `width`×`height`.
    public func append(_ frame: RGBImage) throws {
        guard !finished else { throw FFmpegError(-EINVAL, "\(path): frame appended after finish()") }
        guard frame.width == width, frame.height == height else {
            throw FFmpegError(-EINVAL, "\(path): frame \(frame.width)x\(frame.height), writer is \(width)x\(height)")
        }
        try check(av_frame_make_writable(picture.pointer), "making picture writable")
        let rowBytes = width * 3, stride = Int(source.linesize[0])
        guard let rgb = source.data[0], stride >= rowBytes, frame.pixels.count == rowBytes * height else {
            throw FFmpegError(-EINVAL, "\(path): frame of \(frame.pixels.count) bytes for \(width)x\(height) RGB")
        }
        frame.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<height {
                (rgb + y * stride).update(from: pixels.baseAddress! + y * rowBytes, count: rowBytes)
            }
        }
        try source.data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { plane in
            try picture.data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { destination in
                try scaler.convert(source: plane, sourceStrides: source.linesize, sourceWidth: width, sourceHeight: height,
                                   sourceFormat: AV_PIX_FMT_RGB24, destination: destination,
                                   destinationStrides: picture.linesize,
                                   width: Int(picture.pointer.pointee.width), height: Int(picture.pointer.pointee.height),
                                   format: AV_PIX_FMT_YUV420P)
            }
        }
        picture.pointer.pointee.pts = Int64(frameCount)
        try video.encode(picture, into: file.context)
        frameCount += 1
        try encodeAudio(upTo: frameCount, final: false)
    }

    /// Adds mono samples in [-1, 1] at `audioSampleRate`, following those given before.
    public func appendAudio(_ samples: [Float]) throws {
        guard !finished else { throw FFmpegError(-EINVAL, "\(path): audio appended after finish()") }
        guard audio != nil else { throw FFmpegError(-EINVAL, "\(path): writer was opened without audio") }
        audioSamples += samples
        try encodeAudio(upTo: frameCount, final: false)
    }

    /// Flushes the encoders, writes the trailer and renames the file to `path`.
    public func finish() throws {
        guard !finished else { return }
        try encodeAudio(upTo: frameCount, final: true)
        try video.encode(nil, into: file.context)
        try audio?.encode(nil, into: file.context)
        try file.finish()
        finished = true
    }

    /// Encodes whole audio frames up to the time of video frame `frames` (all audio when `final`,
    /// the last frame possibly short).
    private func encodeAudio(upTo frames: Int, final: Bool) throws {
        guard let audio, let rate = audioSampleRate else { return }
        defer {
            // Drop encoded samples once they are half the buffer (amortised O(1) per sample).
            if audioEncoded >= 1 << 16 && 2 * audioEncoded >= audioSamples.count {
                audioSamples.removeFirst(audioEncoded)
                audioEncoded = 0
            }
        }
        let size = audio.frameSize
        let videoTime = frames * rate / MediaWriter.frameRate
        while true {
            let available = audioSamples.count - audioEncoded
            let count = min(size, available)
            guard count > 0, count == size || final, final || audioTime < videoTime else { break }
            let frame = Frame()
            frame.pointer.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
            frame.pointer.pointee.nb_samples = Int32(count)
            frame.pointer.pointee.sample_rate = Int32(rate)
            av_channel_layout_default(&frame.pointer.pointee.ch_layout, 1)
            try check(av_frame_get_buffer(frame.pointer, 0), "allocating audio frame")
            audioSamples.withUnsafeBufferPointer { samples in
                UnsafeMutableRawPointer(frame.data[0]!).copyMemory(
                    from: samples.baseAddress! + audioEncoded, byteCount: count * MemoryLayout<Float>.size)
            }
            frame.pointer.pointee.pts = Int64(audioTime)
            try audio.encode(frame, into: file.context)
            audioEncoded += count
            audioTime += count
        }
    }
}

/// An output file being written (AVFormatContext + AVIOContext) under a temporary name in the
/// folder of `path`; renamed to `path` by `finish()`, removed if dropped unfinished.
final class OutputFile {
    let path: String
    let temporaryPath: String
    let context: UnsafeMutablePointer<AVFormatContext>
    private var finished = false

    init(path: String, format: UnsafePointer<AVOutputFormat>) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
        var context: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&context, format, nil, temporaryPath), "\(path): creating output")
        self.context = context!
    }

    deinit {
        if context.pointee.pb != nil { avio_closep(&context.pointee.pb) }
        if !finished { try? FileManager.default.removeItem(atPath: temporaryPath) }
        avformat_free_context(context)
    }

    /// Opens the temporary file and writes the header (after the streams are added).
    func open() throws {
        try check(avio_open(&context.pointee.pb, temporaryPath, AVIO_FLAG_WRITE), "\(path): opening for writing")
        try check(avformat_write_header(context, nil), "\(path): writing header")
    }

    /// Writes the trailer, closes the file and renames it to `path`.
    func finish() throws {
        try check(av_write_trailer(context), "\(path): writing trailer")
        try check(avio_closep(&context.pointee.pb), "\(path): closing")
        guard rename(temporaryPath, path) == 0 else {
            throw FFmpegError(-errno, "\(path): renaming finished file")
        }
        finished = true
    }
}

/// One encoded output stream (AVCodecContext + AVStream).
final class StreamEncoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let stream: UnsafeMutablePointer<AVStream>
    /// Duration (codec time base) for packets the encoder leaves without one: libx264 does, and
    /// the MP4 muxer then cuts the last frame off the edit list.
    private var packetDuration: Int64 = 0
    private let packet = Packet()

    /// H.264 (libx264, CRF `quality`, `preset`) or MPEG-4 part 2 when libx264 is absent.
    convenience init(video output: UnsafeMutablePointer<AVFormatContext>, width: Int, height: Int,
                     quality: Int, preset: String, globalHeader: Bool) throws {
        let x264 = avcodec_find_encoder_by_name("libx264")
        guard let codec = x264 ?? avcodec_find_encoder(AV_CODEC_ID_MPEG4) else {
            throw FFmpegError(-ENOSYS, "no H.264 or MPEG-4 encoder in this FFmpeg")
        }
        try self.init(output: output, codec: codec, globalHeader: globalHeader) { c in
            c.pointee.width = Int32(width)
            c.pointee.height = Int32(height)
            c.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            c.pointee.time_base = AVRational(num: 1, den: Int32(MediaWriter.frameRate))
            c.pointee.framerate = AVRational(num: Int32(MediaWriter.frameRate), den: 1)
            c.pointee.gop_size = 2 * Int32(MediaWriter.frameRate)
            c.pointee.thread_count = 2  // fixed, so the same input gives the same file on any machine
            if x264 != nil {
                av_opt_set(c.pointee.priv_data, "preset", preset, 0)
                av_opt_set(c.pointee.priv_data, "crf", "\(quality)", 0)
            } else {
                c.pointee.flags |= AV_CODEC_FLAG_QSCALE
                c.pointee.global_quality = FF_QP2LAMBDA * Int32(max(2, quality / 6))
            }
        }
        packetDuration = 1
    }

    /// AAC (FFmpeg's native encoder), mono float planar at `sampleRate`.
    convenience init(audio output: UnsafeMutablePointer<AVFormatContext>, sampleRate: Int, globalHeader: Bool) throws {
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_AAC) else { throw FFmpegError(-ENOSYS, "no AAC encoder in this FFmpeg") }
        try self.init(output: output, codec: codec, globalHeader: globalHeader) { c in
            c.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
            c.pointee.sample_rate = Int32(sampleRate)
            av_channel_layout_default(&c.pointee.ch_layout, 1)
            c.pointee.bit_rate = 96_000
            c.pointee.time_base = AVRational(num: 1, den: Int32(sampleRate))
        }
    }

    private init(output: UnsafeMutablePointer<AVFormatContext>, codec: UnsafePointer<AVCodec>, globalHeader: Bool,
                 configure: (UnsafeMutablePointer<AVCodecContext>) -> Void) throws {
        let name = String(cString: codec.pointee.name)
        guard let stream = avformat_new_stream(output, nil) else { throw FFmpegError(-ENOMEM, "adding \(name) stream") }
        guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
        self.stream = stream
        self.context = context  // from here deinit frees it
        configure(context)
        if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        try check(avcodec_open2(context, codec, nil), "opening encoder \(name)")
        stream.pointee.time_base = context.pointee.time_base
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, context), "\(name) stream parameters")
    }

    deinit { var p: UnsafeMutablePointer<AVCodecContext>? = context; avcodec_free_context(&p) }

    /// Samples per audio frame the encoder wants (AAC: 1024).
    var frameSize: Int { Int(context.pointee.frame_size) }

    /// Sends `frame` (nil: flush) and writes every packet the encoder returns.
    func encode(_ frame: Frame?, into output: UnsafeMutablePointer<AVFormatContext>) throws {
        try check(avcodec_send_frame(context, frame?.pointer), "encoding")
        while true {
            let status = avcodec_receive_packet(context, packet.pointer)
            if status == cals_averror_eagain() || status == cals_averror_eof() { return }
            try check(status, "encoding")
            if packet.pointer.pointee.duration <= 0 { packet.pointer.pointee.duration = packetDuration }
            av_packet_rescale_ts(packet.pointer, context.pointee.time_base, stream.pointee.time_base)
            packet.pointer.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(output, packet.pointer), "writing packet")
        }
    }
}
