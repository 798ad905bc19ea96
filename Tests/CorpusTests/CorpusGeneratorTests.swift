import Common
import Face
import Media
import TestSupport
import XCTest
@testable import Corpus

/// Generates two short clips once (two speakers, 2 s each) and checks the files against the
/// stored ground truth with the project's own decoder and face stage.
final class CorpusGeneratorTests: XCTestCase {
    static let faces = TestEnv.repoRoot.appendingPathComponent("data/faces").path
    static let scratch = ScratchDir("corpus")
    static var generated: [String] = []
    static var setupError: Error?

    static func options(_ out: String, seed: UInt64 = 5) -> CorpusOptions {
        var o = CorpusOptions(out: out)
        o.speakers = 2
        o.clips = 1
        o.seconds = 2
        o.seed = seed
        o.faces = faces
        return o
    }

    override class func setUp() {
        do {
            generated = try CorpusGenerator(options(scratch.path("a"))).generate()
        } catch {
            setupError = error
        }
    }

    func clips() throws -> [(mp4: String, sidecar: ClipSidecar)] {
        if let e = CorpusGeneratorTests.setupError {
            throw InputErrorForTests("generation failed (is data/faces filled by `make faces`?): \(e)")
        }
        return try CorpusGeneratorTests.generated.map { mp4 in
            let json = String(mp4.dropLast(4)) + ".json"
            let data = try Data(contentsOf: URL(fileURLWithPath: json))
            return (mp4, try JSONDecoder().decode(ClipSidecar.self, from: data))
        }
    }

    func decodeFrames(_ path: String) throws -> [RGBImage] {
        let decoder = try VideoDecoder(path: path)
        var frames: [RGBImage] = []
        while let f = try decoder.nextFrame() { frames.append(f) }
        return frames
    }

    func testLayoutAndNoLeftovers() throws {
        let clips = try clips()
        XCTAssertEqual(clips.map { ($0.mp4 as NSString).pathComponents.suffix(2).joined(separator: "/") },
                       ["s01_david/clip001.mp4", "s02_lisa/clip001.mp4"])
        let all = FileManager.default.subpaths(atPath: CorpusGeneratorTests.scratch.path("a"))!.sorted()
        XCTAssertEqual(all, ["s01_david", "s01_david/clip001.json", "s01_david/clip001.mp4",
                             "s02_lisa", "s02_lisa/clip001.json", "s02_lisa/clip001.mp4"])
        for (_, s) in clips {
            XCTAssertEqual(s.frameCount, 50)
            XCTAssertEqual(s.frames.count, 50)
            XCTAssertEqual(s.phones.first?.start, 0)
            XCTAssertEqual(s.phones.last!.end, 2.0, accuracy: 1e-9)
            XCTAssertGreaterThan(s.text.split(separator: " ").count, 1)
        }
        XCTAssertNotEqual(clips[0].sidecar.voice.name, clips[1].sidecar.voice.name)
    }

    func testVideoAndAudioDecodeAt25FpsAnd16kHz() throws {
        for (mp4, sidecar) in try clips() {
            let frames = try decodeFrames(mp4)
            XCTAssertEqual(frames.count, sidecar.frameCount)
            XCTAssertEqual(frames.first?.width, 256)
            let audio = try decodeAudio(path: mp4)
            XCTAssertEqual(audio.sampleRate, 16000)
            XCTAssertEqual(audio.duration, 2.0, accuracy: 0.05)
            // Speech energy lies inside the spoken phones: the leading pause is silent
            // (AAC leaves only coding noise), the spoken part is not.
            let x = audio.samples
            let speech = sidecar.phones.filter { !$0.isPause }
            let lead = Int(sidecar.phones[0].end * 16000) - 400 // 25 ms margin for AAC pre-echo
            let spoken = Int(speech.first!.start * 16000)..<Int(speech.last!.end * 16000)
            let rmsLead = (x[0..<lead].map { $0 * $0 }.reduce(0, +) / Float(lead)).squareRoot()
            let rmsSpeech = (x[spoken].map { $0 * $0 }.reduce(0, +) / Float(spoken.count)).squareRoot()
            XCTAssertLessThan(rmsLead, 0.02 * rmsSpeech)
        }
    }

    func testFaceStageFindsTheFaceInAlmostEveryFrame() throws {
        for (mp4, sidecar) in try clips() {
            let frames = try decodeFrames(mp4)
            let stage = try FaceTrackProcessor(detector: HaarFaceDetector())
            var tracked: [TrackedFrame] = []
            for f in frames { tracked += try stage.push(f) }
            tracked += try stage.finish()
            // Kept frames whose face box holds the rendered mouth: the right face.
            let hits = tracked.filter { t in
                let m = sidecar.frames[t.index].mouth
                return Double(t.box.x) < m[0] && m[0] < Double(t.box.x + t.box.width)
                    && Double(t.box.y) < m[1] && m[1] < Double(t.box.y + t.box.height)
            }
            XCTAssertGreaterThanOrEqual(Double(hits.count), 0.95 * Double(frames.count),
                                        "\(sidecar.speaker): face found in \(hits.count)/\(frames.count) frames")
        }
    }

    func testMeasuredMouthOpeningFollowsTheJawParameter() throws {
        for (mp4, sidecar) in try clips() {
            let frames = try decodeFrames(mp4)
            // Mouth opening = height of the dark (luma < 50) area in a strip down the middle
            // of the mouth: dark pixels in the strip / strip width.
            var opening: [Double] = []
            for (f, truth) in zip(frames, sidecar.frames) {
                let (cx, cy, hw) = (truth.mouth[0], truth.mouth[1], truth.mouth[2])
                let x0 = max(0, Int(cx - 0.25 * hw)), x1 = min(f.width, Int(cx + 0.25 * hw))
                var count = 0
                for y in max(0, Int(cy - hw))..<min(f.height, Int(cy + 1.5 * hw)) {
                    for x in x0..<x1 {
                        let p = 3 * (y * f.width + x)
                        let luma = 0.299 * Double(f.pixels[p]) + 0.587 * Double(f.pixels[p + 1]) + 0.114 * Double(f.pixels[p + 2])
                        if luma < 50 { count += 1 }
                    }
                }
                opening.append(Double(count) / Double(x1 - x0))
            }
            let jaw = sidecar.frames.map(\.jaw)
            let r = correlation(opening, jaw)
            XCTAssertGreaterThanOrEqual(r, 0.9, "\(sidecar.speaker): corr(measured opening, jaw) = \(r)")
            XCTAssertGreaterThan(jaw.max()! - jaw.min()!, 0.3, "the mouth hardly moves")
        }
    }

    /// Runs `cals demo-corpus` (a fresh process each time: espeak-ng's output depends on what
    /// the process synthesised before) and returns every file under the output, by path.
    func runCommand(seed: Int, threads: Int) throws -> [String: Data] {
        let scratch = ScratchDir("corpus-cli")
        let out = scratch.path("demo")
        let binary = TestEnv.calsBinary
        let result = try TestSupport.run(binary, ["demo-corpus", "--out", out, "--speakers", "2", "--clips", "1",
                                                  "--seconds", "2", "--seed", "\(seed)", "--threads", "\(threads)",
                                                  "--faces", CorpusGeneratorTests.faces])
        guard result.status == 0 else { throw InputErrorForTests("cals demo-corpus failed: \(result.stderr)") }
        var files: [String: Data] = [:]
        for path in FileManager.default.subpaths(atPath: out) ?? [] where path.contains(".") {
            files[path] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + path))
        }
        return files
    }

    func testSameSeedSameFilesOtherSeedOtherFiles() throws {
        let first = try runCommand(seed: 5, threads: 2)
        XCTAssertEqual(first.keys.sorted(), ["s01_david/clip001.json", "s01_david/clip001.mp4",
                                             "s02_lisa/clip001.json", "s02_lisa/clip001.mp4"])
        let again = try runCommand(seed: 5, threads: 1)
        for (path, data) in first { XCTAssertEqual(data, again[path], "\(path) differs") }
        let other = try runCommand(seed: 6, threads: 2)
        for (path, data) in first { XCTAssertNotEqual(data, other[path], "\(path) is the same for another seed") }
    }

    /// Runs `cals demo-corpus ARGS --out <scratch>/demo --faces data/faces` from the repository
    /// root; returns the SHA-256 of every file under the output, by path.
    func corpusHashes(_ arguments: [String]) throws -> [String: String] {
        let scratch = ScratchDir("corpus-version")
        let out = scratch.path("demo")
        let result = try TestSupport.run(TestEnv.calsBinary, ["demo-corpus", "--out", out, "--faces", "data/faces"] + arguments,
                                         currentDirectory: TestEnv.repoRoot.path)
        guard result.status == 0 else { throw InputErrorForTests("cals demo-corpus failed: \(result.stderr)") }
        var hashes: [String: String] = [:]
        for path in FileManager.default.subpaths(atPath: out) ?? [] where path.contains(".") {
            let sum = try TestSupport.run("/usr/bin/sha256sum", [out + "/" + path])
            hashes[path] = String(sum.stdout.prefix(64))
        }
        return hashes
    }

    /// The SHA-256 of two small corpora: a word-list one (2 speakers, seed 5, plus `wordsArguments`)
    /// and a GRID-grammar one (1 speaker, seed 7, one thread, corpus version `gridVersion`).
    func smallCorpusHashes(_ wordsArguments: [String], gridVersion: Int) throws -> (words: [String: String], grid: [String: String]) {
        (try corpusHashes(["--speakers", "2", "--clips", "1", "--seconds", "2", "--seed", "5"] + wordsArguments),
         try corpusHashes(["--speakers", "1", "--clips", "1", "--seconds", "2", "--seed", "7", "--grammar", "grid",
                           "--threads", "1", "--corpus-version", "\(gridVersion)"]))
    }

    /// Corpus version 1 (the default) makes the files the generator made before version 2 existed.
    /// The hashes were recorded from the `cals` binary of commit 504c492 (main before issue 26)
    /// with the same arguments, on this project's Debian packages (espeak-ng, libx264).
    func testVersion1RegeneratesTheFilesOfTheCodeBeforeVersion2() throws {
        let hashes = try smallCorpusHashes([], gridVersion: 1)
        XCTAssertEqual(hashes.words, [
            "s01_david/clip001.json": "da3c54ec4d02675121c188039b10e6861b31dc3d5a35d7e309f1b307459224fe",
            "s01_david/clip001.mp4": "88528a503c075880b13f61111164b3fd5918f7996544c7e9c8a699b9999ec4d6",
            "s02_lisa/clip001.json": "5130a501405bca8cac236b7d8228b32e0e276cf60f80363ea4a63be9d34ff498",
            "s02_lisa/clip001.mp4": "72467ba6f3e664daf1393ccf83e82bd274580128f5233a639ae33d465238e6e0"])
        XCTAssertEqual(hashes.grid, [
            "s01_david/clip001.json": "5833040bb29548faa7fe1486cbf73dfc80fb10e7d979feb69567cdb03cc52a56",
            "s01_david/clip001.mp4": "44ef4169e091b361348f93703737e129f23e3c98a8aafef5ab4407651d26cee8"])
    }

    /// Corpus version 2 makes the files the generator made before version 3 existed. The hashes
    /// were recorded from the `cals` binary of commit 8206eff (main before version 3) with the
    /// same arguments.
    func testVersion2RegeneratesTheFilesOfTheCodeBeforeVersion3() throws {
        let hashes = try smallCorpusHashes(["--corpus-version", "2"], gridVersion: 2)
        XCTAssertEqual(hashes.words, [
            "s01_david/clip001.json": "c6c199950bec24879f7ae215ee38403fce7fdc8774d125799c3fd63c303a82ce",
            "s01_david/clip001.mp4": "17e4f97b093485935207981200efb83ccf53a848bb737b587469ab76a64da17e",
            "s02_lisa/clip001.json": "d99ee9b0e71b68ae9d411b8582ff1e3b83533d936d39cc0d0cacccf0fffa6da9",
            "s02_lisa/clip001.mp4": "d735e13b3df7387cf6ee54bbe2d2210404824f2cdf41ad3cb33810bfdc9f12f9"])
        XCTAssertEqual(hashes.grid, [
            "s01_david/clip001.json": "88946578afd5e8563a759b75d0332160b65ee62a576be6fe54c8190eb23d0c0d",
            "s01_david/clip001.mp4": "ee64a1ba869a2ef8c1dd744f4ec44c0ca58246eddbb9ae19ad462a085d53b98d"])
    }

    /// Versions 2 and 3 change the mouth only: same text, phones and audio as version 1, other
    /// mouth parameters (3 other than 2's), and the sidecar records the co-articulation parameters.
    func testVersions2And3ChangeOnlyTheMouthAndRecordTheirParameters() throws {
        func generate(_ version: Int) throws -> (ClipSidecar, AudioClip) {
            let scratch = ScratchDir("corpus-v\(version)")
            let out = scratch.path("demo")
            let result = try TestSupport.run(TestEnv.calsBinary, [
                "demo-corpus", "--out", out, "--speakers", "1", "--clips", "1", "--seconds", "3", "--seed", "5",
                "--size", "64", "--corpus-version", "\(version)", "--faces", CorpusGeneratorTests.faces])
            guard result.status == 0 else { throw InputErrorForTests("cals demo-corpus failed: \(result.stderr)") }
            let base = out + "/s01_david/clip001"
            let sidecar = try JSONDecoder().decode(ClipSidecar.self, from: Data(contentsOf: URL(fileURLWithPath: base + ".json")))
            return (sidecar, try decodeAudio(path: base + ".mp4"))
        }
        let (one, oneAudio) = try generate(1)
        XCTAssertNil(one.coarticulation)
        func change(_ a: ClipSidecar, _ b: ClipSidecar) -> Double {
            zip(a.frames, b.frames).map { abs($0.rounding - $1.rounding) + abs($0.jaw - $1.jaw) }.max() ?? 0
        }
        var previous = one
        for (version, parameters) in [(2, Coarticulation.version2), (3, Coarticulation.version3)] {
            let (other, otherAudio) = try generate(version)
            XCTAssertEqual(other.coarticulation, parameters)
            XCTAssertEqual(one.text, other.text)
            XCTAssertEqual(one.phones, other.phones)
            XCTAssertEqual(oneAudio.samples, otherAudio.samples)
            XCTAssertGreaterThan(change(previous, other), 0.1, "version \(version)")
            previous = other
        }
        let scratch = ScratchDir("corpus-v4")
        let bad = try TestSupport.run(TestEnv.calsBinary, ["demo-corpus", "--out", scratch.path("demo"), "--corpus-version", "4"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr, "error: --corpus-version: must be 1, 2 or 3, got 4\n")
    }

    func testBadInputIsOneLineErrorAndWritesNothing() throws {
        let scratch = ScratchDir("corpus-bad")
        func failure(_ change: (inout CorpusOptions) throws -> Void) throws -> String {
            var o = CorpusGeneratorTests.options(scratch.path("out"))
            try change(&o)
            do {
                _ = try CorpusGenerator(o)
            } catch let e as InputError {
                XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path("out")))
                XCTAssertFalse("\(e)".contains("\n"))
                return "\(e)"
            }
            XCTFail("no error")
            return ""
        }
        XCTAssertTrue(try failure { $0.voices = ["en+m3", "xx-nope"] }.hasPrefix("xx-nope: "))
        XCTAssertTrue(try failure { $0.clips = 0 }.hasPrefix("--clips: "))
        let file = scratch.path("file")
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        XCTAssertTrue(try failure { $0.out = file + "/sub" }.hasPrefix(file + "/sub: "))
        // A faces folder whose astronaut photo is a plain grey picture: no face found.
        let faces = scratch.path("faces")
        try FileManager.default.createDirectory(atPath: faces, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CorpusGeneratorTests.faces + "/t1.jpg", toPath: faces + "/t1.jpg")
        try ffmpeg(["-f", "lavfi", "-i", "color=c=gray:s=256x256", "-frames:v", "1", faces + "/astronaut.png"])
        let noFace = try failure { $0.faces = faces; $0.speakers = 3 }
        XCTAssertTrue(noFace.hasPrefix(faces + "/astronaut.png: no face found"), noFace)
        try FileManager.default.removeItem(atPath: faces + "/astronaut.png")
        let missing = try failure { $0.faces = faces; $0.speakers = 3 }
        XCTAssertTrue(missing.hasPrefix(faces + "/astronaut.png: face photo missing"), missing)
    }
}

/// Pearson correlation.
func correlation(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (x, y) in zip(a, b) {
        sab += (x - ma) * (y - mb)
        saa += (x - ma) * (x - ma)
        sbb += (y - mb) * (y - mb)
    }
    return sab / (saa * sbb).squareRoot()
}
