import Foundation
import TestSupport
import XCTest

/// Demo-corpus clips (`cals demo-corpus`: talking faces with speech, 25 fps), made once per
/// test process, for the dataset-layout tests: 2 speakers × 3 clips of 4 s.
enum DemoClips {
    static let scratch = ScratchDir("demo-clips")
    static let seconds = 4.0
    private static let made: Result<[String], Error> = Result {
        let out = scratch.path("corpus")
        let faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
        let r = try run(TestEnv.calsBinary, ["demo-corpus", "--out", out, "--speakers", "2", "--clips", "3",
                                             "--seconds", "\(seconds)", "--size", "192", "--faces", faces])
        guard r.status == 0 else { throw InputErrorForTests("cals demo-corpus failed: \(r.stderr)") }
        let all = FileManager.default.subpaths(atPath: out)?.filter { $0.hasSuffix(".mp4") }.sorted() ?? []
        guard all.count == 6 else { throw InputErrorForTests("demo-corpus made \(all.count) clips, not 6") }
        return all.map { (out as NSString).appendingPathComponent($0) }
    }

    /// The six clips' paths (speaker folders in order, then clips).
    static func clips() throws -> [String] { try made.get() }

    /// Copies clip `index` to `path` (folders made), re-encoded into the container its extension
    /// names (mp4, mkv, webm, mpg: the codecs a real release uses).
    static func place(_ index: Int, at path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let source = try clips()[index]
        if path.hasSuffix(".mp4") {
            try FileManager.default.copyItem(atPath: source, toPath: path)
        } else {
            try ffmpeg(["-i", source] + codecs(for: path) + [path])
        }
    }

    /// Concatenates clips `indices` into one video at `path`, in the container its extension
    /// names, with a key frame every 40 frames (so intervals start between key frames).
    static func concatenate(_ indices: [Int], into path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let all = try clips()
        var args: [String] = []
        for i in indices { args += ["-i", all[i]] }
        let inputs = indices.indices.map { "[\($0):v][\($0):a]" }.joined()
        args += ["-filter_complex", "\(inputs)concat=n=\(indices.count):v=1:a=1[v][a]", "-map", "[v]", "-map", "[a]", "-g", "40"]
        try ffmpeg(args + codecs(for: path) + [path])
    }

    private static func codecs(for path: String) -> [String] {
        switch (path as NSString).pathExtension {
        case "webm": return ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-c:a", "libopus"]
        case "mkv": return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "libopus"]
        case "mpg": return ["-c:v", "mpeg2video", "-q:v", "4", "-c:a", "mp2"]
        // Without perceptual noise substitution: its noise comes from the decoder's random
        // generator, so after a seek (an interval) those bands differ from a decode from the start.
        default: return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0"]
        }
    }
}
