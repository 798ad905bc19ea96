import CFFmpeg
import CSndFile
import Common
import Foundation

/// The sample rate every clip is resampled to.
public let audioSampleRate = 16_000

/// Decodes the audio of `path` to mono float at `sampleRate` Hz.
///
/// Channels are averaged (the plain mean, as librosa's `to_mono`; not FFmpeg's default downmix
/// with its −3 dB centre weights; any layout, 1 to 64 channels), then resampled with
/// libswresample. Formats libsndfile reads (WAV, FLAC, OGG, ...) go through libsndfile,
/// everything else through libavformat. The result has ⌈n·sampleRate/sourceRate⌉ samples for n
/// source samples, as `librosa.resample` gives.
/// In a container the stream decoded is the audio stream with the default disposition, else the
/// first (cover art, subtitles and data are ignored), and sample 0 is at the timeline's start,
/// as frame 0 of `VideoDecoder`: audio that starts later is preceded by silence, audio before
/// that start is cut (FFmpeg applies edit lists and encoder delay). A packet that fails to
/// decode is replaced by silence of its duration, so later audio keeps its place, and counted
/// in the clip's `damage`.
/// With `frames`, only the audio of those 25 fps timeline frames is returned (the interval
/// `VideoDecoder(path:frames:)` gives): samples from lowerBound/25 s to upperBound/25 s, or to
/// the end of the audio, whichever comes first; decoding stops at the interval's end.
/// Throws `InputError` for missing, empty, unreadable or audio-less files, audio of which no
/// packet decodes, and when decoding takes longer than `timeLimit` seconds.
public func decodeAudio(path: String, sampleRate: Int = audioSampleRate, frames: Range<Int>? = nil,
                        timeLimit: TimeInterval = defaultDecodeTimeLimit) throws -> AudioClip {
    _ = quietFFmpegLog
    try checkInputFile(path)
    if let sound = SoundFile(path: path) {
        var clip = try reportingInput(path) { try sound.decode(sampleRate: sampleRate, deadline: Deadline(seconds: timeLimit)) }
        if let frames {
            let (start, end) = timelineSamples(frames, rate: sampleRate)
            clip.samples = Array(clip.samples[min(start, clip.samples.count) ..< min(max(start, end), clip.samples.count)])
        }
        return clip
    }
    do {
        return try decodeStream(path: path, sampleRate: sampleRate, frames: frames, timeLimit: timeLimit, seeking: frames != nil)
    } catch is SeekMissed {
        return try decodeStream(path: path, sampleRate: sampleRate, frames: frames, timeLimit: timeLimit, seeking: false)
    }
}

/// Seconds of audio before an interval's start that are decoded and resampled, then dropped:
/// the decoder (AAC overlaps frames, Opus has a pre-roll) and the resampler (soxr's filter) are
/// then in the state a decode from the start has there, so the interval's samples are that
/// decode's.
private let intervalPreRoll = 1.0
/// Seconds of audio after an interval's end given to the resampler (its filter looks ahead).
private let intervalPostRoll = 0.25
/// How much earlier than the pre-roll's start an interval's input is sought (a container
/// interleaves audio and video packets only roughly in time).
private let seekSlack = 1.0

/// A seek that landed too late for the pre-roll, or where a frame's place cannot be told
/// exactly: the interval is decoded from the start instead.
private struct SeekMissed: Error {}

/// The libavformat path of `decodeAudio`. With `seeking`, an interval that starts more than
/// `intervalPreRoll + seekSlack` s after the audio is reached by a seek to a key frame before
/// its pre-roll instead of decoding everything before it; throws `SeekMissed` when that seek
/// does not give the pre-roll.
private func decodeStream(path: String, sampleRate: Int, frames: Range<Int>?, timeLimit: TimeInterval,
                          seeking: Bool) throws -> AudioClip {
    let input = try InputFile(path: path, timeLimit: timeLimit)
    guard let stream = input.audioStream else { throw InputError(path, "no audio stream") }
    return try reportingInput(path) {
        let decoder = try StreamDecoder(input: input, stream: stream)
        let timeBase = stream.pointee.time_base  // checked by StreamDecoder
        let origin = input.timelineStart(in: timeBase)
        let frame = Frame()
        guard try decoder.next(into: frame) else {
            let damage = decoder.damage
            if damage.undecodable > 0 { throw InputError(path, "no decodable audio: \(damage.undecodable) of \(damage.packets) packets failed") }
            return AudioClip(sampleRate: sampleRate, samples: [], damage: damage)
        }
        let first = frame.pointer.pointee
        let rate = Int(first.sample_rate), firstLength = Int(first.nb_samples)
        let resampler = try MonoResampler(channels: Int(first.ch_layout.nb_channels), sampleRate: rate,
                                          format: AVSampleFormat(first.format), outputRate: sampleRate)
        /// The interval's first sample on the timeline (0 without an interval).
        let start = frames.map { timelineSamples($0, rate: rate).start } ?? 0
        /// Where a frame's first sample lies from the interval's start (the timeline's, without
        /// an interval), in samples; nil without timestamps.
        func position(of f: AVFrame) -> Int? {
            guard f.pts != cals_nopts_value(), let origin else { return nil }
            return clampedInt(Double(saturatingDifference(f.pts, origin)) * av_q2d(timeBase) * Double(rate)) - start
        }
        // Where the stream's first sample lies (negative: before the start, cut).
        let streamStart = position(of: first) ?? 0
        if Double(streamStart + start) > maxStreamOffset * Double(rate) {
            throw InputError(path, String(format: "audio starts %.1f s after the video", Double(streamStart + start) / Double(rate)))
        }
        let preRoll = clampedInt(intervalPreRoll * Double(rate)), slack = clampedInt(seekSlack * Double(rate))
        var firstPosition = streamStart  // of the first frame decoded for the output
        if seeking, let origin, streamStart < -(preRoll + slack + rate) {
            let target = saturatingSum(origin, av_rescale_q(Int64(start - preRoll - slack), AVRational(num: 1, den: Int32(rate)), timeBase))
            if decoder.seek(to: target) {
                av_frame_unref(frame.pointer)
                guard try decoder.next(into: frame), let raw = position(of: frame.pointer.pointee) else { throw SeekMissed() }
                firstPosition = raw
                // Timestamps are only as exact as the time base (1 ms in Matroska): the frame is
                // put where a decode from the start puts it, a whole number of frames after the
                // stream's first (decoded frames follow each other without gaps).
                let tick = av_q2d(timeBase) * Double(rate), length = Int(frame.pointer.pointee.nb_samples)
                if tick > 1 {
                    guard length > 0 else { throw SeekMissed() }
                    let after = streamStart + firstLength
                    firstPosition = after + Int((Double(raw - after) / Double(length)).rounded()) * length
                    guard Double(abs(firstPosition - raw)) <= tick.rounded(.up) else { throw SeekMissed() }
                }
                guard firstPosition <= -preRoll else { throw SeekMissed() }
            }
        }
        // An interval's pre-roll: at most `intervalPreRoll` s of the input before its start go
        // to the resampler, from a sample where the input and output sample grids meet (as in
        // a decode from the start); their output is dropped at the end.
        let common = greatestCommonDivisor(rate, sampleRate), step = rate / common
        let available = max(0, -firstPosition)
        let warm = frames == nil ? 0 : min(available, preRoll) / step * step
        let warmOutput = warm / step * (sampleRate / common)
        var cut = available - warm  // samples still to drop before the pre-roll (or the start)
        try resampler.pushSilence(count: firstPosition)
        /// With `frames`: the interval's input samples, and how many to push (with the post-roll).
        let intervalLength = frames.map { range in
            let (start, end) = timelineSamples(range, rate: rate)
            return max(0, end - start)
        }
        let stop = intervalLength.map { warm + $0 + clampedInt(intervalPostRoll * Double(rate)) }
        var lastFrameLength = 0
        repeat {
            defer { av_frame_unref(frame.pointer) }
            let f = frame.pointer.pointee
            guard Int(f.sample_rate) == rate else {
                throw InputError(path, "audio sample rate changes mid-stream (\(rate) → \(f.sample_rate) Hz)")
            }
            // Silence for the packets lost before this frame: up to where its timestamp puts it
            // (a parser may have merged a damaged frame with the next), else their stated
            // durations; never more than 1 s per lost packet. Timestamps are only as exact as
            // the time base (1 ms in Matroska): a gap within one tick of a whole number of
            // frames is taken as those frames.
            let lost = decoder.takeLost()
            if lost.packets > 0 {
                var silence = Int(av_rescale_q(lost.duration, timeBase, AVRational(num: 1, den: f.sample_rate)))
                if let position = position(of: f) {
                    let gap = position - (resampler.inputCount - warm - cut)
                    let tick = clampedInt((av_q2d(timeBase) * Double(rate)).rounded(.up)) + 1
                    let frames = lastFrameLength > 0 ? ((gap + lastFrameLength / 2) / lastFrameLength) * lastFrameLength : gap
                    if gap <= lost.packets * rate { silence = abs(frames - gap) <= tick ? frames : gap }
                }
                // Silence before the start (of the timeline or the pre-roll) is cut like audio.
                let dropped = min(cut, max(0, silence))
                cut -= dropped
                try resampler.pushSilence(count: silence - dropped)
            }
            lastFrameLength = Int(f.nb_samples)
            let skip = min(cut, Int(f.nb_samples))
            cut -= skip
            try resampler.push(f, from: skip)
            if let stop, resampler.inputCount >= stop { break }
        } while try decoder.next(into: frame)
        let damage = decoder.damage
        try resampler.pushSilence(count: Int(av_rescale_q(decoder.takeLost().duration, timeBase, AVRational(num: 1, den: Int32(rate)))))
        // Encoders pad the last frame (AAC up to 1024 samples) and FFmpeg 5 does not trim that
        // padding by the MP4 edit list: cut what runs past the stream's stated duration when it
        // is less than one frame (so a 10 s clip gives 160000 samples). Counted in samples pushed.
        var limit: Int?
        if stream.pointee.duration > 0, let stated = seconds(stream.pointee.duration, timeBase) {
            let end = warm + streamStart + clampedInt(stated * Double(rate))
            if (1...2048).contains(resampler.inputCount - end) { limit = end }
        }
        if let intervalLength { limit = min(limit ?? warm + intervalLength, warm + intervalLength) }
        var clip = try resampler.finish(inputLimit: limit)
        clip.samples.removeFirst(min(warmOutput, clip.samples.count))
        clip.damage = damage
        return clip
    }
}

/// The samples at `rate` Hz of 25 fps timeline frames `frames`: start ..< end.
private func timelineSamples(_ frames: Range<Int>, rate: Int) -> (start: Int, end: Int) {
    let perFrame = Double(rate) / 25
    return (clampedInt(Double(max(0, frames.lowerBound)) * perFrame), clampedInt(Double(max(0, frames.upperBound)) * perFrame))
}

/// Averages the channels of any layout to mono and resamples to float at `outputRate`
/// (SwrContext with a custom mixing matrix of 1/channels; soxr engine as librosa's default).
/// The channel count and sample format may change between pushes (the context is rebuilt);
/// the sample rate may not.
final class MonoResampler {
    let sampleRate: Int
    let outputRate: Int
    private var channels: Int
    private var format: AVSampleFormat
    private var context: OpaquePointer
    private var samples: [Float] = []
    /// Samples per channel pushed so far.
    private(set) var inputCount = 0

    init(channels: Int, sampleRate: Int, format: AVSampleFormat, outputRate: Int) throws {
        guard (1_000...768_000).contains(sampleRate) else { throw FFmpegError(-EINVAL, "audio sample rate \(sampleRate) Hz") }
        self.sampleRate = sampleRate
        self.outputRate = outputRate
        self.channels = channels
        self.format = format
        context = try MonoResampler.makeContext(channels: channels, sampleRate: sampleRate, format: format, outputRate: outputRate)
    }

    deinit { var p: OpaquePointer? = context; swr_free(&p) }

    private static func makeContext(channels: Int, sampleRate: Int, format: AVSampleFormat, outputRate: Int) throws -> OpaquePointer {
        guard (1...64).contains(channels) else { throw FFmpegError(-EINVAL, "audio with \(channels) channels") }
        var inLayout = AVChannelLayout(), outLayout = AVChannelLayout()
        av_channel_layout_default(&inLayout, Int32(channels))
        av_channel_layout_default(&outLayout, 1)
        defer { av_channel_layout_uninit(&inLayout) }
        var swr: OpaquePointer?
        try check(swr_alloc_set_opts2(&swr, &outLayout, AV_SAMPLE_FMT_FLT, Int32(outputRate),
                                      &inLayout, format, Int32(sampleRate), 0, nil), "swr_alloc_set_opts2")
        guard let context = swr else { throw FFmpegError(-EINVAL, "swr_alloc_set_opts2") }
        do {
            // The mean of the channels: one output row of `channels` weights 1/channels; the
            // order of the channels does not matter.
            let matrix = [Double](repeating: 1 / Double(channels), count: channels)
            try check(swr_set_matrix(context, matrix, Int32(channels)), "swr_set_matrix")
            try check(av_opt_set(UnsafeMutableRawPointer(context), "resampler", "soxr", 0), "choosing soxr resampler")
            try check(swr_init(context), "swr_init \(channels) ch \(sampleRate) Hz → mono \(outputRate) Hz")
        } catch {
            var p: OpaquePointer? = context
            swr_free(&p)
            throw error
        }
        return context
    }

    /// Feeds `count` samples per channel of `channels` channels in `format`; `planes` points at
    /// the plane pointers (one for interleaved formats, `channels` for planar ones), as
    /// `AVFrame.extended_data`.
    func push(_ planes: UnsafeRawPointer?, count: Int, channels: Int, format: AVSampleFormat) throws {
        if channels != self.channels || format != self.format {
            try convert(nil, count: 0)  // what the old context holds
            let next = try MonoResampler.makeContext(channels: channels, sampleRate: sampleRate, format: format, outputRate: outputRate)
            var p: OpaquePointer? = context
            swr_free(&p)
            (context, self.channels, self.format) = (next, channels, format)
        }
        inputCount += count
        try convert(planes, count: count)
    }

    /// Feeds samples `skip ..< nb_samples` of a decoded frame.
    func push(_ frame: AVFrame, from skip: Int) throws {
        let format = AVSampleFormat(frame.format)
        let channels = Int(frame.ch_layout.nb_channels)
        let count = Int(frame.nb_samples) - skip
        guard count > 0 else { return }
        guard let data = frame.extended_data, av_get_bytes_per_sample(format) > 0 else {
            throw FFmpegError(-EINVAL, "audio frame without samples")
        }
        let planar = av_sample_fmt_is_planar(format) != 0
        let offset = skip * Int(av_get_bytes_per_sample(format)) * (planar ? 1 : channels)
        var planes = (0..<(planar ? channels : 1)).map { data[$0].map { UnsafeRawPointer($0 + offset) } }
        try planes.withUnsafeMutableBufferPointer { try push(UnsafeRawPointer($0.baseAddress), count: count, channels: channels, format: format) }
    }

    /// Feeds `count` samples of silence (none when `count` ≤ 0), as zero samples in the current
    /// input format (swr_inject_silence crashed inside soxr on a damaged file's many gaps).
    func pushSilence(count: Int) throws {
        let bytes = Int(av_get_bytes_per_sample(format)), planar = av_sample_fmt_is_planar(format) != 0
        guard count > 0, bytes > 0 else { return }
        let chunk = min(count, 4096)
        let unsigned = format == AV_SAMPLE_FMT_U8 || format == AV_SAMPLE_FMT_U8P
        let silence = [UInt8](repeating: unsigned ? 0x80 : 0, count: chunk * bytes * channels)  // [channels][chunk] or [chunk][channels]
        try silence.withUnsafeBytes { raw in
            let planes = (0..<(planar ? channels : 1)).map { Optional(raw.baseAddress! + $0 * chunk * bytes) }
            try planes.withUnsafeBufferPointer { pointers in
                for start in stride(from: 0, to: count, by: chunk) {
                    try push(UnsafeRawPointer(pointers.baseAddress), count: min(chunk, count - start), channels: channels, format: format)
                }
            }
        }
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
                var plane: UnsafeRawPointer? = UnsafeRawPointer(samples.baseAddress)
                try withUnsafePointer(to: &plane) {
                    try resampler.push(UnsafeRawPointer($0), count: read, channels: channels, format: AV_SAMPLE_FMT_FLT)
                }
            }
        }
        if sf_error(handle) != 0 { throw InputError(path, "libsndfile: \(String(cString: sf_strerror(handle)))") }
        return try resampler.finish()
    }
}
