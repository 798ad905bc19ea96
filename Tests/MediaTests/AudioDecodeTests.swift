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
}
