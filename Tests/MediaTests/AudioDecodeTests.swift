import Common
import Foundation
import Media
import TestSupport
import XCTest

/// Audio comes out mono (the channel mean) at 16 kHz, matching librosa to 1e-4 (max absolute
/// difference; measured ≤ 2e-7, as libswresample runs the same soxr engine as librosa).
final class AudioDecodeTests: XCTestCase {
    let scratch = ScratchDir("audio")

    /// The Python reference, written to float32 files:
    /// `load PATH OUT`: librosa.load(PATH, sr=16000, mono=True);
    /// `mean RAW CHANNELS RATE OUT`: interleaved float32 from the ffmpeg program, averaged over
    /// channels with numpy, then librosa.resample to 16 kHz (soxr_hq, librosa's default).
    let reference = """
    import sys, numpy as np, librosa
    if sys.argv[1] == "load":
        y, _ = librosa.load(sys.argv[2], sr=16000, mono=True)
        out = sys.argv[3]
    else:
        channels, rate = int(sys.argv[3]), int(sys.argv[4])
        x = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, channels)
        y = librosa.resample(x.mean(axis=1), orig_sr=rate, target_sr=16000)
        out = sys.argv[5]
    y.astype(np.float32).tofile(out)
    """

    private func floats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// WAV (libsndfile path), 44.1 kHz stereo with a different tone per channel.
    func testStereoWAVMatchesLibrosaLoad() throws {
        let path = scratch.path("stereo.wav")
        try ffmpeg(["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t)|0.3*sin(2*PI*1250*t)+0.1*sin(2*PI*3000*t):s=44100:d=2.5",
                    "-c:a", "pcm_s16le", path])
        let clip = try decodeAudio(path: path)
        XCTAssertEqual(clip.sampleRate, 16_000)
        XCTAssertEqual(clip.samples.count, 40_000, "2.5 s at 16 kHz")
        let out = scratch.path("ref.f32")
        try python(reference, in: scratch, ["load", path, out])
        let expected = try floats(out)
        XCTAssertEqual(clip.samples.count, expected.count)
        XCTAssertLessThan(maxDifference(clip.samples, expected), 1e-4, "librosa.load(sr=16000, mono=True)")
    }

    /// FLAC (libsndfile path), 22.05 kHz mono: length ⌈n·16000/22050⌉ as librosa gives.
    func testFLACMatchesLibrosaLoad() throws {
        let path = scratch.path("mono.flac")
        try ffmpeg(["-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*300*t)*sin(2*PI*2*t):s=22050:d=1.3", path])
        let clip = try decodeAudio(path: path)
        let out = scratch.path("ref.f32")
        try python(reference, in: scratch, ["load", path, out])
        let expected = try floats(out)
        XCTAssertEqual(clip.samples.count, expected.count)
        XCTAssertEqual(clip.samples.count, (Int((1.3 * 22050).rounded()) * 16000 + 22049) / 22050)
        XCTAssertLessThan(maxDifference(clip.samples, expected), 1e-4)
    }

    /// Audio starting 0.3 s into a video: silence first, so sample 640·i is at video frame i.
    func testLateAudioIsPrecededBySilence() throws {
        let path = scratch.path("late-audio.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=2", "-itsoffset", "0.3", "-f", "lavfi",
                    "-i", "sine=f=440:r=16000:d=1.5", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", path])
        let samples = try decodeAudio(path: path).samples
        XCTAssertEqual(Double(samples.count), 16_000 * 1.8, accuracy: 1024, "ends at 0.3 + 1.5 s")
        let onset = try XCTUnwrap(samples.firstIndex { abs($0) > 0.01 })
        XCTAssertEqual(Double(onset) / 16_000, 0.3, accuracy: 0.01, "the tone starts 0.3 s in")
    }

    /// 5.1 AAC at 48 kHz inside an MP4 with video (libavformat path): the plain mean of the six
    /// channels, not FFmpeg's default downmix (which weights the centre by −3 dB and drops LFE).
    func testSurroundInVideoIsTheChannelMean() throws {
        let path = scratch.path("surround.mp4")
        let tones = [220, 330, 440, 550, 90, 770].map { "0.15*sin(2*PI*\($0)*t)" }.joined(separator: "|")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=2", "-f", "lavfi", "-i", "aevalsrc=\(tones):c=5.1:s=48000:d=2",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "384k", "-shortest", path])
        let clip = try decodeAudio(path: path)
        XCTAssertEqual(clip.samples.count, 32_000, "2 s at 16 kHz, AAC padding cut")

        let raw = scratch.path("channels.f32"), out = scratch.path("ref.f32")
        try ffmpeg(["-i", path, "-vn", "-f", "f32le", "-c:a", "pcm_f32le", raw])
        try python(reference, in: scratch, ["mean", raw, "6", "48000", out])
        let expected = try floats(out)  // the ffmpeg program keeps AAC's last-frame padding
        XCTAssertEqual(Double(expected.count), 32_000, accuracy: 1024 / 3)
        XCTAssertLessThan(maxDifference(clip.samples, Array(expected.prefix(clip.samples.count - 16))), 1e-4,
                          "numpy channel mean + librosa.resample (but the last 1 ms, where the cut differs)")

        // The test can tell the mean from FFmpeg's default downmix.
        let downmixRaw = scratch.path("downmix.f32"), downmix = scratch.path("downmix-ref.f32")
        try ffmpeg(["-i", path, "-vn", "-ac", "1", "-f", "f32le", "-c:a", "pcm_f32le", downmixRaw])
        try python(reference, in: scratch, ["mean", downmixRaw, "1", "48000", downmix])
        XCTAssertGreaterThan(maxDifference(clip.samples, try floats(downmix)), 0.05)
    }

    /// The ffmpeg program's decoding of `path`'s audio stream `stream` (all channels, native
    /// rate), averaged over channels and resampled to 16 kHz by the Python reference.
    private func referenceMean(_ path: String, stream: Int = 0, channels: Int, rate: Int) throws -> [Float] {
        let raw = scratch.path("channels-\(UUID().uuidString.prefix(6)).f32"), out = scratch.path("mean-\(UUID().uuidString.prefix(6)).f32")
        try ffmpeg(["-i", path, "-map", "0:a:\(stream)", "-f", "f32le", "-c:a", "pcm_f32le", raw])
        try python(reference, in: scratch, ["mean", raw, "\(channels)", "\(rate)", out])
        return try floats(out)
    }

    /// Matroska, WebM, FLV and AVI state no stream duration (AV_NOPTS_VALUE), which once trapped
    /// on arithmetic overflow: the audio decodes to the ffmpeg program's samples (channel mean,
    /// librosa's resampling), 3 s long. The ffmpeg program's raw output starts at the first
    /// decoded sample, ours at the timeline's start: codecs with a start delay (Opus, Vorbis)
    /// are compared at the shift that matches best, at most 15 ms; PCM and AAC at none.
    func testContainersWithoutStreamDurations() throws {
        let cases: [(name: String, options: [String], shifted: Bool)] = [
            ("pcm.mkv", ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le"], false),
            ("vorbis.mkv", ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libvorbis"], true),
            ("opus.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"], true),
            ("aac.flv", ["-c:v", "flv", "-c:a", "aac"], false),
            ("pcm.avi", ["-c:v", "mjpeg", "-c:a", "pcm_s16le"], false),
        ]
        for (name, options, shifted) in cases {
            let path = scratch.path(name)
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=3", "-f", "lavfi",
                        "-i", "aevalsrc=0.4*sin(2*PI*300*t)|0.2*sin(2*PI*1100*t):s=48000:d=3", "-pix_fmt", "yuv420p"] + options + [path])
            let clip = try decodeAudio(path: path)
            XCTAssertEqual(Double(clip.samples.count), 48_000, accuracy: 600, name)
            XCTAssertEqual(clip.damage.undecodable, 0, name)
            XCTAssertGreaterThan(clip.damage.packets, 10, name)
            let expected = try referenceMean(path, channels: 2, rate: 48_000)
            // Compare 2.5 s from 0.2 s on, ours shifted by `lag` samples.
            let difference = { (lag: Int) -> Float in
                self.maxDifference(Array(clip.samples[(3200 + lag)..<(43_200 + lag)]), Array(expected[3200..<43_200]))
            }
            let lags = shifted ? Array(-240...240) : [0]
            let best = try XCTUnwrap(lags.min { difference($0) < difference($1) })
            XCTAssertLessThan(difference(best), 1e-4, "\(name) at a shift of \(best) samples")
        }
    }

    /// Any layout, rate and sample format the decoder gives: 7.1 and 5.1(side) with channels in
    /// unusual orders, 8 kHz mono 8-bit, 96 kHz 32-bit, 64-bit float: the plain channel mean.
    func testLayoutsRatesAndSampleFormats() throws {
        let cases: [(name: String, layout: String, channels: Int, rate: Int, codec: String)] = [
            ("7.1.mov", "LFE+FC+FL+FR+SL+SR+BL+BR", 8, 48_000, "pcm_s24le"),
            ("side.mov", "FL+FR+FC+LFE+SL+SR", 6, 44_100, "pcm_s16le"),
            ("mono8k.mkv", "mono", 1, 8_000, "pcm_u8"),
            ("96k.mkv", "stereo", 2, 96_000, "pcm_s32le"),
            ("double.mov", "stereo", 2, 22_050, "pcm_f64le"),
        ]
        for c in cases {
            let path = scratch.path(c.name)
            let tones = (0..<c.channels).map { "0.1*sin(2*PI*\(150 + 170 * $0)*t)" }.joined(separator: "|")
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=2", "-f", "lavfi",
                        "-i", "aevalsrc=\(tones):c=\(c.layout):s=\(c.rate):d=2", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", c.codec, path])
            let clip = try decodeAudio(path: path)
            XCTAssertEqual(clip.samples.count, 32_000, c.name)
            let expected = try referenceMean(path, channels: c.channels, rate: c.rate)
            XCTAssertEqual(expected.count, 32_000, c.name)
            XCTAssertLessThan(maxDifference(clip.samples, expected), c.codec == "pcm_u8" ? 1e-2 : 1e-4, c.name)
        }
    }

    /// Two audio streams: the one with the default disposition is decoded (the second here),
    /// else the first. Tones of different loudness tell them apart.
    func testDefaultAudioStreamIsChosen() throws {
        for (dispositions, loud) in [(["0", "default"], true), (["0", "0"], false)] {
            let path = scratch.path("two-\(loud).mkv")
            try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=1", "-f", "lavfi", "-i", "sine=f=300:r=16000:d=1",
                        "-f", "lavfi", "-i", "aevalsrc=0.8*sin(2*PI*500*t):s=16000:d=1", "-map", "0", "-map", "1", "-map", "2",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le",
                        "-disposition:a:0", dispositions[0], "-disposition:a:1", dispositions[1], path])
            let samples = try decodeAudio(path: path).samples
            let rms = (samples.map { Double($0 * $0) }.reduce(0, +) / Double(samples.count)).squareRoot()
            // sine's default amplitude is 1/8: RMS 0.088; the loud tone's 0.57.
            XCTAssertEqual(rms, loud ? 0.8 / 2.0.squareRoot() : 0.125 / 2.0.squareRoot(), accuracy: 0.02, "\(dispositions)")
        }
    }

    /// Audio starting 0.4 s before the video in an MP4: the edit list puts the early part before
    /// the timeline's start (FFmpeg marks those packets discarded) and it is cut; sample 0 is
    /// the audio heard with video frame 0.
    func testEarlyAudioIsCut() throws {
        let path = scratch.path("early.mp4")
        // A loud 660 Hz first 0.4 s (the part to cut), then a quiet 220 Hz tone.
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=2", "-itsoffset", "-0.4", "-f", "lavfi",
                    "-i", "aevalsrc='if(lt(t,0.4),0.5*sin(2*PI*660*t),0.2*sin(2*PI*220*t))':s=16000:d=2.4",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path])
        let samples = try decodeAudio(path: path).samples
        XCTAssertEqual(Double(samples.count), 32_000, accuracy: 1024)
        let peak = samples.dropFirst(400).map { abs($0) }.max() ?? 0
        XCTAssertEqual(Double(peak), 0.2, accuracy: 0.03, "only the quiet tone is left")
    }
}
