import CFFmpeg
import CSndFile
import Common
import Foundation

/// The sample rate every clip is resampled to.
public let audioSampleRate = 16_000

/// Decodes the first audio stream of `path` to mono float at `sampleRate` Hz.
///
/// Channels are averaged (the plain mean, as librosa's `to_mono`; not FFmpeg's default downmix
/// with its −3 dB centre weights), then resampled with libswresample. Formats libsndfile reads
/// (WAV, FLAC, OGG, ...) go through libsndfile, everything else through libavformat. The result
/// has ⌈n·sampleRate/sourceRate⌉ samples for n source samples, as `librosa.resample` gives.
/// In a container, sample 0 is at the container's start, as frame 0 of `VideoDecoder`: audio
/// that starts later is preceded by silence.
/// Throws `InputError` for missing, empty, unreadable or audio-less files and when decoding
/// takes longer than `timeLimit` seconds.
public func decodeAudio(path: String, sampleRate: Int = audioSampleRate,
                        timeLimit: TimeInterval = defaultDecodeTimeLimit) throws -> AudioClip {
    _ = quietFFmpegLog
    try checkInputFile(path)
    if let sound = SoundFile(path: path) {
        return try reportingInput(path) { try sound.decode(sampleRate: sampleRate, deadline: Deadline(seconds: timeLimit)) }
    }
    let input = try InputFile(path: path, timeLimit: timeLimit)
    guard let stream = input.bestStream(AVMEDIA_TYPE_AUDIO) else { throw InputError(path, "no audio stream") }
    return try reportingInput(path) {
        let decoder = try StreamDecoder(input: input, stream: stream)
        let codec = decoder.context.pointee
        guard codec.sample_rate > 0, codec.ch_layout.nb_channels > 0 else {
            throw InputError(path, "audio stream has no sample rate or channels")
        }
        let resampler = try MonoResampler(channels: Int(codec.ch_layout.nb_channels), sampleRate: Int(codec.sample_rate),
                                          format: codec.sample_fmt, outputRate: sampleRate)
        let frame = Frame()
        var lead = 0  // silent samples before the stream's first one
        while try decoder.next(into: frame) {
            let f = frame.pointer.pointee
            if resampler.inputCount == 0, f.pts != cals_nopts_value(), let start = input.startTime(in: stream.pointee.time_base) {
                lead = max(0, Int(av_rescale_q(f.pts - start, stream.pointee.time_base, AVRational(num: 1, den: codec.sample_rate))))
                try resampler.pushSilence(count: lead)
            }
            guard f.sample_rate == codec.sample_rate, f.ch_layout.nb_channels == codec.ch_layout.nb_channels,
                  f.format == codec.sample_fmt.rawValue else {
                throw InputError(path, "audio format changes mid-stream")
            }
            try resampler.push(UnsafeRawPointer(f.extended_data!), count: Int(f.nb_samples))
            av_frame_unref(frame.pointer)
        }
        // Encoders pad the last frame (AAC up to 1024 samples) and FFmpeg 5 does not trim that
        // padding by the MP4 edit list: cut what runs past the stream's stated duration when it
        // is less than one frame (so a 10 s clip gives 160000 samples).
        let stated = Int(av_rescale_q(stream.pointee.duration, stream.pointee.time_base,
                                      AVRational(num: 1, den: codec.sample_rate)))
        let padding = resampler.inputCount - lead - stated
        return try resampler.finish(inputLimit: stream.pointee.duration > 0 && padding > 0 && padding <= 2048 ? lead + stated : nil)
    }
}

/// Averages the channels of any layout to mono and resamples to float at `outputRate`
/// (SwrContext with a custom mixing matrix of 1/channels; soxr engine as librosa's default).
final class MonoResampler {
    let channels: Int
    let sampleRate: Int
    let outputRate: Int
    private let context: OpaquePointer
    private var samples: [Float] = []
    /// Samples per channel pushed so far.
    private(set) var inputCount = 0

    init(channels: Int, sampleRate: Int, format: AVSampleFormat, outputRate: Int) throws {
        self.channels = channels
        self.sampleRate = sampleRate
        self.outputRate = outputRate
        var inLayout = AVChannelLayout(), outLayout = AVChannelLayout()
        av_channel_layout_default(&inLayout, Int32(channels))
        av_channel_layout_default(&outLayout, 1)
        var swr: OpaquePointer?
        try check(swr_alloc_set_opts2(&swr, &outLayout, AV_SAMPLE_FMT_FLT, Int32(outputRate),
                                      &inLayout, format, Int32(sampleRate), 0, nil), "swr_alloc_set_opts2")
        context = swr!
        // The mean of the channels: one output row of `channels` weights 1/channels.
        let matrix = [Double](repeating: 1 / Double(channels), count: channels)
        try check(swr_set_matrix(context, matrix, Int32(channels)), "swr_set_matrix")
        try check(av_opt_set(UnsafeMutableRawPointer(context), "resampler", "soxr", 0), "choosing soxr resampler")
        try check(swr_init(context), "swr_init \(channels) ch \(sampleRate) Hz → mono \(outputRate) Hz")
    }

    deinit { var p: OpaquePointer? = context; swr_free(&p) }

    /// Feeds `count` samples per channel; `planes` points at the plane pointers (one for
    /// interleaved formats, `channels` for planar ones), as `AVFrame.extended_data`.
    func push(_ planes: UnsafeRawPointer?, count: Int) throws {
        inputCount += count
        try convert(planes, count: count)
    }

    /// Feeds `count` samples of silence.
    func pushSilence(count: Int) throws {
        guard count > 0 else { return }
        inputCount += count
        try check(swr_inject_silence(context, Int32(count)), "swr_inject_silence")
    }

    /// Flushes the resampler and returns ⌈n·outputRate/sampleRate⌉ samples for n pushed (n at
    /// most `inputLimit`).
    func finish(inputLimit: Int? = nil) throws -> AudioClip {
        try convert(nil, count: 0)
        let n = min(inputCount, inputLimit ?? inputCount)
        let expected = (n * outputRate + sampleRate - 1) / sampleRate
        if samples.count > expected { samples.removeLast(samples.count - expected) }
        if samples.count < expected { samples += [Float](repeating: 0, count: expected - samples.count) }
        return AudioClip(sampleRate: outputRate, samples: samples)
    }

    private func convert(_ planes: UnsafeRawPointer?, count: Int) throws {
        let capacity = Int(swr_get_out_samples(context, Int32(count))) + 16
        let start = samples.count
        samples += [Float](repeating: 0, count: capacity)
        let produced = try samples.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var out: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(buffer.baseAddress! + start)
                .assumingMemoryBound(to: UInt8.self)
            let inPlanes = planes.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UnsafePointer<UInt8>?.self)) }
            return try check(swr_convert(context, &out, Int32(capacity), inPlanes, Int32(count)), "swr_convert")
        }
        samples.removeLast(capacity - Int(produced))
    }
}

/// An audio file opened with libsndfile (SNDFILE*), read as interleaved float.
final class SoundFile {
    let path: String
    private let handle: OpaquePointer
    private let info: SF_INFO

    /// Nil when libsndfile does not recognise the file (then libavformat gets a try).
    init?(path: String) {
        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        guard info.channels > 0, info.samplerate > 0 else { sf_close(handle); return nil }
        self.path = path
        self.handle = handle
        self.info = info
    }

    deinit { sf_close(handle) }

    func decode(sampleRate: Int, deadline: Deadline) throws -> AudioClip {
        let channels = Int(info.channels)
        let resampler = try MonoResampler(channels: channels, sampleRate: Int(info.samplerate),
                                          format: AV_SAMPLE_FMT_FLT, outputRate: sampleRate)
        let block = 8192
        var buffer = [Float](repeating: 0, count: block * channels)  // [block, channels] interleaved
        while true {
            let read = Int(buffer.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(block)) })
            if read <= 0 { break }
            if deadline.hasPassed { throw InputError(path, deadline.exceededReason) }
            try buffer.withUnsafeBufferPointer { samples in
                var plane: UnsafeRawPointer? = UnsafeRawPointer(samples.baseAddress!)
                try withUnsafePointer(to: &plane) { try resampler.push(UnsafeRawPointer($0), count: read) }
            }
        }
        if sf_error(handle) != 0 { throw InputError(path, "libsndfile: \(String(cString: sf_strerror(handle)))") }
        return try resampler.finish()
    }
}
