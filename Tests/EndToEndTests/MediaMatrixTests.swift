import Foundation
import TestSupport
import XCTest

/// Real-world containers and codecs through the real `cals extract`: a talking-face clip of the
/// demo corpus, re-encoded by the ffmpeg program in each variant, must give the rows, crops and
/// mel units of the MOV/H.264/PCM reference of the same clip (MP4 cannot hold PCM in FFmpeg 5.1;
/// MOV is the same demuxer). Bounds, each measured:
/// - rows: the reference's ±1, plus the frames by which the video starts after the audio: the
///   Matroska, FLV, WebM, MPEG-TS/PS muxers shift the video by the audio encoder's priming (AAC
///   1024 samples = 64 ms at 16 kHz: 2 more rows) and the timeline starts at the earlier stream;
///   crops and mel are compared from that row on;
/// - mel: ≤ 1e-3 from the same file with its audio replaced by the ffmpeg program's decoding of
///   it (so only our decoding, timing and channel mean differ; measured 0 for every variant);
///   against the reference itself only where the video is not shifted (a fraction of a frame
///   moves every unit), lossy codecs measured up to 0.95 (AAC), PCM and FLAC 0.035, 96 kHz 0.36;
/// - crops: mean |difference| (0-255) below 8.5: measured 3.7-7.6 (the largest on rescaled
///   pictures, whose MTCNN landmarks and so the landmark-placed crop move by a pixel or two),
///   from re-encoding at the codecs' default quality against a crf 10 reference.
final class MediaMatrixTests: XCTestCase {
    /// One file made from the clip. `make(clip, out)` writes it; the audio reference decodes
    /// audio stream `audioStream` of it (nil: no such comparison, see the variant).
    struct Variant {
        let name: String
        let make: (_ clip: String, _ out: String) throws -> Void
        var crop = 8.5
        var melToReference: Double? = 1.0
        var audioStream: Int? = 0
        var melFrom = 0
        var silentUntil = 0
    }

    static let scratch = ScratchDir("media-matrix")
    /// The demo corpus clip (3 s, 256×256 H.264, AAC) and its reference extract.
    static var clip = "", reference = "", referenceExtract = ""
    static var setupError: Error?

    override class func setUp() {
        super.setUp()
        do {
            let corpus = scratch.path("corpus")
            try cals(["demo-corpus", "--out", corpus, "--speakers", "1", "--clips", "1", "--seconds", "3",
                      "--faces", TestEnv.repoRoot.path + "/data/faces", "--threads", "1"])
            let files = FileManager.default.enumerator(atPath: corpus)?.compactMap { $0 as? String } ?? []
            clip = corpus + "/" + (files.first { $0.hasSuffix(".mp4") } ?? "missing.mp4")
            reference = scratch.path("reference.mov")
            try ffmpeg(["-i", clip, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-c:a", "pcm_s16le", reference])
            referenceExtract = try extract(reference)
        } catch { setupError = error }
    }

    static func cals(_ arguments: [String]) throws {
        let result = try TestSupport.run(TestEnv.calsBinary, arguments)
        guard result.status == 0 else { throw InputErrorForTests("cals \(arguments.joined(separator: " ")): \(result.stderr)") }
    }

    /// `cals extract` of `path` into a new file; its path.
    static func extract(_ path: String) throws -> String {
        let out = path + ".h5"
        try cals(["extract", path, "--out", out])
        return out
    }

    /// The ffmpeg program's usual re-encoding of the clip with `options` (codecs, filters).
    static func encode(_ options: [String]) -> (String, String) throws -> Void {
        { clip, out in try ffmpeg(["-i", clip] + options + [out]) }
    }

    static let x264 = ["-c:v", "libx264", "-preset", "ultrafast"]
    /// The clip's picture scaled into a `width`×`height` frame (square pixels, padded).
    static func padded(_ width: Int, _ height: Int) -> [String] {
        let side = min(width, height)
        return ["-vf", "scale=\(side):\(side),pad=\(width):\(height):(ow-iw)/2:(oh-ih)/2,setsar=1"]
    }
    static func upmix(_ layout: String, _ channels: Int) -> [String] {
        ["-af", "pan=\(layout)|" + (0..<channels).map { "c\($0)=c0" }.joined(separator: "|")]
    }

    static let variants: [Variant] = [
        Variant(name: "h264-aac.mkv", make: encode(x264 + ["-c:a", "aac"])),
        Variant(name: "vp9-opus.webm", make: encode(["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                                                      "-b:v", "1M", "-c:a", "libopus"])),
        Variant(name: "vp8-vorbis.webm", make: encode(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                                                       "-b:v", "1M", "-c:a", "libvorbis"])),
        // AV1 (Debian's ffmpeg encodes with libsvtav1, libaom-av1 and librav1e; libdav1d decodes).
        Variant(name: "av1-svt-opus.mkv", make: encode(["-c:v", "libsvtav1", "-preset", "12", "-crf", "30", "-c:a", "libopus"])),
        Variant(name: "av1-aom-opus.webm", make: encode(["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1",
                                                         "-crf", "30", "-b:v", "0", "-c:a", "libopus"])),
        Variant(name: "h264-aac.flv", make: encode(x264 + ["-c:a", "aac"])),
        Variant(name: "mjpeg-pcm.avi", make: encode(["-c:v", "mjpeg", "-q:v", "3", "-c:a", "pcm_s16le"]), melToReference: 0.05),
        // AVI and MPEG-TS do not signal the encoder's start delay (MP3, AC-3, MP2): the audio is
        // that much late in every player, so only the ffmpeg program's decoding is compared.
        Variant(name: "mpeg4-mp3.avi", make: encode(["-c:v", "mpeg4", "-q:v", "3", "-c:a", "libmp3lame", "-ar", "44100"]),
                melToReference: nil),
        Variant(name: "h264-ac3.avi", make: encode(x264 + ["-c:a", "ac3", "-ar", "48000"]), melToReference: nil),
        Variant(name: "mpeg2-interlaced-mp2.ts", make: encode(["-c:v", "mpeg2video", "-q:v", "3", "-flags", "+ilme+ildct",
                                                               "-top", "1", "-c:a", "mp2", "-ar", "48000"]), melToReference: nil),
        Variant(name: "mpeg1-mp2.mpg", make: encode(["-c:v", "mpeg1video", "-q:v", "3", "-c:a", "mp2", "-ar", "44100"])),
        // The MPEG-2 program stream (VOB) does not signal MP2's start delay either (measured 4.1 against the reference).
        Variant(name: "mpeg2-mp2-ps.vob", make: encode(["-c:v", "mpeg2video", "-q:v", "3", "-c:a", "mp2", "-ar", "48000",
                                                        "-f", "vob"]), melToReference: nil),
        Variant(name: "h264-aac.mov", make: encode(x264 + ["-c:a", "aac"])),
        Variant(name: "h264-aac.3gp", make: encode(x264 + ["-c:a", "aac"])),
        Variant(name: "mpeg2-pcm.mxf", make: encode(["-c:v", "mpeg2video", "-q:v", "3", "-c:a", "pcm_s16le", "-ar", "48000"]), melToReference: 0.2),
        Variant(name: "hevc-10bit.mp4", make: encode(["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
                                                      "-x265-params", "log-level=error", "-c:a", "aac"])),
        Variant(name: "h264-422.mp4", make: encode(x264 + ["-pix_fmt", "yuv422p", "-c:a", "aac"])),
        Variant(name: "h264-444.mp4", make: encode(x264 + ["-pix_fmt", "yuv444p", "-c:a", "aac"])),
        Variant(name: "h264-full-range.mp4", make: encode(x264 + ["-pix_fmt", "yuvj420p", "-c:a", "aac"])),
        Variant(name: "prores-pcm.mov", make: encode(["-c:v", "prores_ks", "-profile:v", "1", "-c:a", "pcm_s24le"]), melToReference: 0.05),
        // DV: 720×576 stored, 4:3 displayed (SAR 16:15): the clip padded to 768×576 square pixels first.
        Variant(name: "dv-anamorphic.avi", make: encode(["-vf", "scale=576:576,pad=768:576:96:0,scale=720:576,setsar=16/15",
                                                         "-c:v", "dvvideo", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le",
                                                         "-ar", "48000", "-ac", "2"]), melToReference: 0.4),
        Variant(name: "size-700x700.mp4", make: encode(x264 + padded(700, 700) + ["-c:a", "aac"])),
        Variant(name: "size-721x405.mp4", make: encode(x264 + padded(721, 405) + ["-pix_fmt", "yuv444p", "-c:a", "aac"])),
        Variant(name: "size-524x524.mp4", make: encode(x264 + padded(524, 524) + ["-c:a", "aac"])),
        Variant(name: "size-1282x720.mp4", make: encode(x264 + padded(1282, 720) + ["-c:a", "aac"])),
        Variant(name: "size-255x257-odd.mkv", make: encode(x264 + padded(255, 257) + ["-pix_fmt", "yuv444p", "-c:a", "aac"])),
        Variant(name: "sar-2to1.mp4", make: encode(x264 + ["-vf", "scale=128:256,setsar=2", "-c:a", "aac"])),
        Variant(name: "sar-8to9.mp4", make: encode(x264 + ["-vf", "scale=288:256,setsar=8/9", "-c:a", "aac"])),
        Variant(name: "h264-interlaced.mkv", make: encode(x264 + ["-x264-params", "interlaced=1:tff=1", "-c:a", "aac"])),
        Variant(name: "aac-5.1.mp4", make: encode(x264 + upmix("5.1", 6) + ["-c:a", "aac", "-b:a", "384k"])),
        Variant(name: "flac-7.1.mkv", make: encode(x264 + upmix("7.1", 8) + ["-c:a", "flac"]), melToReference: 0.05),
        Variant(name: "pcm-8k-mono.mov", make: encode(x264 + ["-c:a", "pcm_s16le", "-ar", "8000"]), melToReference: nil),
        Variant(name: "pcm24-96k.mkv", make: encode(x264 + ["-c:a", "pcm_s24le", "-ar", "96000", "-ac", "2"]), melToReference: 0.4),
        Variant(name: "eac3.mkv", make: encode(x264 + ["-c:a", "eac3"])),
        // Two audio streams, the second (the clip's) the default; the first a loud tone.
        Variant(name: "two-audio.mkv", make: { clip, out in
            try ffmpeg(["-i", clip, "-f", "lavfi", "-i", "sine=f=1000:r=16000:d=3", "-map", "0:v", "-map", "1:a", "-map", "0:a"]
                       + x264 + ["-c:a", "aac", "-disposition:a:0", "0", "-disposition:a:1", "default", out])
        }, audioStream: 1),
        // Cover art (an attached picture) beside the video.
        Variant(name: "cover-art.mp4", make: { clip, out in
            try ffmpeg(["-i", clip, "-i", TestMedia.facePhoto, "-map", "0:v", "-map", "0:a", "-map", "1"] + x264
                       + ["-c:v:1", "mjpeg", "-disposition:v:1", "attached_pic", "-c:a", "aac", out])
        }),
        // Audio starting 0.4 s after the video: the clip's audio from 0.4 s on, timed at 0.4 s.
        // The mel is silent until then and the reference's after (rows 12- past the window).
        Variant(name: "audio-late.mkv", make: { clip, out in
            let tail = out + ".tail.mka"
            try ffmpeg(["-ss", "0.4", "-i", clip, "-vn", "-c:a", "flac", tail])
            try ffmpeg(["-i", clip, "-itsoffset", "0.4", "-i", tail, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "copy", out])
        }, melToReference: 0.05, audioStream: nil, melFrom: 12, silentUntil: 9),
        // Audio starting 0.4 s before the video in an MP4 (a different sound first): the edit
        // list puts that part before the start and it is cut.
        Variant(name: "audio-early.mp4", make: { clip, out in
            let early = out + ".early.wav"
            try ffmpeg(["-f", "lavfi", "-i", "sine=f=1500:r=16000:d=0.4", "-i", clip, "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1",
                        "-c:a", "pcm_s16le", early])
            try ffmpeg(["-i", clip, "-itsoffset", "-0.4", "-i", early, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", out])
        }, melToReference: 1.2, audioStream: nil, melFrom: 2),
    ]

    func testEveryVariantGivesTheReferenceRowsCropsAndMel() throws {
        if let error = MediaMatrixTests.setupError { throw error }
        XCTAssertGreaterThanOrEqual(MediaMatrixTests.variants.count, 25)
        var measured: [String] = []
        for variant in MediaMatrixTests.variants {
            let path = MediaMatrixTests.scratch.path(variant.name)
            do {
                try variant.make(MediaMatrixTests.clip, path)
                let out = try MediaMatrixTests.extract(path)
                let shift = try MediaMatrixTests.videoShift(path, audioStream: variant.audioStream ?? 0)
                var arguments = [out, MediaMatrixTests.referenceExtract, "--mel-from", "\(variant.melFrom)",
                                 "--silent-until", "\(variant.silentUntil)", "--row-offset", "\(shift)"]
                if let stream = variant.audioStream {
                    // The reference video with this file's audio as the ffmpeg program decodes it.
                    let audioReference = path + ".audio-ref.mov"
                    try ffmpeg(["-i", MediaMatrixTests.reference, "-i", path, "-map", "0:v", "-map", "1:a:\(stream)",
                                "-c:v", "copy", "-c:a", "pcm_f32le", audioReference])
                    arguments += ["--audio-ref", try MediaMatrixTests.extract(audioReference)]
                }
                let report = try runPython("Tests/EndToEndTests/compare_extracts.py", arguments)
                measured.append("\(variant.name): \(report.trimmingCharacters(in: .whitespacesAndNewlines))")
                let values = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Double] ?? [:]
                check(variant, values, shift: shift)
            } catch {
                XCTFail("\(variant.name): \(error)")
            }
        }
        print("media matrix, measured:\n" + measured.joined(separator: "\n"))
    }

    /// Whole frames (rounded up) by which the video stream starts after audio stream
    /// `audioStream`, as ffprobe reports the starts.
    static func videoShift(_ path: String, audioStream: Int) throws -> Int {
        func start(_ selector: String) throws -> Double {
            let probe = try TestSupport.run("ffprobe", ["-v", "error", "-select_streams", selector, "-show_entries",
                                                        "stream=start_time", "-of", "csv=p=0", path])
            return Double(probe.stdout.split(whereSeparator: \.isNewline).first.map(String.init) ?? "") ?? 0
        }
        let late = try start("v:0") - start("a:\(audioStream)")
        return late > 0 ? Int((late * 25 - 1e-6).rounded(.up)) : 0
    }

    private func check(_ variant: Variant, _ values: [String: Double], shift: Int) {
        let name = variant.name
        XCTAssertEqual(values["rows"] ?? 0, (values["ref_rows"] ?? -9) + Double(shift), accuracy: 1, "\(name): rows")
        XCTAssertLessThan(values["crop_mean_abs"] ?? .infinity, variant.crop, "\(name): crops")
        if variant.audioStream != nil {
            XCTAssertLessThan(values["mel_vs_audio_ref"] ?? .infinity, 1e-3, "\(name): mel against the ffmpeg program's decoding")
        }
        if let bound = variant.melToReference, shift == 0 {
            XCTAssertLessThan(values["mel_vs_ref"] ?? .infinity, bound, "\(name): mel against the reference")
        }
        if variant.silentUntil > 0 {
            XCTAssertLessThan(values["silent_max"] ?? .infinity, -3.5, "\(name): silence before the audio starts")
        }
    }
}
