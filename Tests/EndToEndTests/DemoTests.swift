import Foundation
import TestSupport
import XCTest

/// `make demo`'s script (tools/demo.sh) end to end, scaled down through its size variables: the
/// dubbed and side-by-side videos decode (ffprobe) with the right length, frame rate and audio,
/// report.html names only files that exist and nothing on the network, the last line is the
/// verdict, and Debian's chromium renders the report with its table and plots where the page's
/// fixed layout puts them.
final class DemoTests: XCTestCase {
    static let scratch = ScratchDir("e2e-demo")
    static var runs: String { scratch.path("runs") }
    nonisolated(unsafe) static var output: String?

    /// Runs the scaled-down demo once for the class; its stdout.
    static func demo() throws -> String {
        if let output { return output }
        let root = TestEnv.repoRoot.path
        let environment = [
            "CALS": TestEnv.calsBinary, "DATA": scratch.path("raw"), "OUT": scratch.path("processed"), "RUNS": runs,
            "FACES": root + "/data/faces", "MANIFEST": root + "/manifests/demo.yaml",
            "CORPUS_ARGS": "--speakers 2 --clips 2 --seconds 2",
            "SYNC_ARGS": "--steps 2 --batch 2 --windows 2 --width 0.25 --eval-every 2 --eval-clips 1",
            "A2L_ARGS": "--steps 2 --layers 1 --dim 16 --heads 2 --ff 32 --batch 2 --frames 10 --warmup 1 --eval-every 2 --eval-windows 2",
            "L2F_ARGS": "--steps 2 --batch 1 --widths 4,8,8,8,8 --grid-every 1 --checkpoint-every 2",
        ]
        let result = try TestSupport.run(root + "/tools/demo.sh", [], environment: environment, currentDirectory: root)
        guard result.status == 0 else { throw InputErrorForTests("tools/demo.sh failed (\(result.status)): \(result.stderr)") }
        output = result.stdout
        return result.stdout
    }

    /// ffprobe's view of a media file: the video stream's size, frame rate, frame count and
    /// duration, and the audio stream's duration (nil without one).
    struct Probe {
        var width = 0, height = 0, frames = 0
        var frameRate = "", videoSeconds = 0.0
        var audioSeconds: Double?
    }

    func probe(_ path: String) throws -> Probe {
        let result = try TestSupport.run("ffprobe", ["-v", "error", "-count_frames", "-show_entries",
                                                     "stream=codec_type,width,height,r_frame_rate,nb_read_frames,duration",
                                                     "-of", "default=noprint_wrappers=1", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        var probe = Probe(), stream = ""
        for line in result.stdout.split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "codec_type": stream = pair[1]
            case "width": probe.width = Int(pair[1]) ?? 0
            case "height": probe.height = Int(pair[1]) ?? 0
            case "r_frame_rate" where stream == "video": probe.frameRate = pair[1]
            case "nb_read_frames" where stream == "video": probe.frames = Int(pair[1]) ?? 0
            case "duration" where stream == "video": probe.videoSeconds = Double(pair[1]) ?? 0
            case "duration" where stream == "audio": probe.audioSeconds = Double(pair[1])
            default: break
            }
        }
        return probe
    }

    /// Frames of 25 fps video that `path`'s audio lasts (rounded up, as `cals dub` makes them).
    func speechFrames(_ path: String) throws -> Int {
        let result = try TestSupport.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        let seconds = try XCTUnwrap(Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), result.stderr)
        return Int((seconds * 25).rounded(.up))
    }

    func testDemoEndsWithTheVideosTheReportAndTheVerdict() throws {
        let stdout = try Self.demo()
        let last = try XCTUnwrap(stdout.split(separator: "\n").last.map(String.init))
        XCTAssertTrue(last.hasPrefix("verdict (speaker s02_lisa, 2 clips): generated "), last)
        XCTAssertTrue(last.contains("mouth PSNR") && last.contains("sync distance"), last)

        // dub.mp4: the held-out speaker's 2 s clip, dubbed with the longer espeak-ng sentence.
        let dub = try probe(Self.runs + "/dub.mp4")
        let expected = try speechFrames(Self.runs + "/speech.wav")
        XCTAssertGreaterThan(expected, 50, "the sentence should outlast the 2 s clip")
        XCTAssertEqual(dub.frames, expected)
        XCTAssertEqual(dub.frameRate, "25/1")
        XCTAssertEqual(dub.width, 256)
        XCTAssertEqual(dub.height, 256)
        XCTAssertEqual(dub.videoSeconds, Double(expected) / 25, accuracy: 0.05)
        XCTAssertEqual(try XCTUnwrap(dub.audioSeconds, "dub.mp4 has no audio"), Double(expected) / 25, accuracy: 0.1)

        // side-by-side.mp4: three 256-px panels of the 2 s clip, with its own 2 s of speech.
        let panels = try probe(Self.runs + "/side-by-side.mp4")
        XCTAssertEqual(panels.frames, 50)
        XCTAssertEqual(panels.frameRate, "25/1")
        XCTAssertEqual(panels.width, 3 * 256)
        XCTAssertEqual(panels.height, 256)
        XCTAssertEqual(panels.videoSeconds, 2, accuracy: 0.05)
        XCTAssertEqual(try XCTUnwrap(panels.audioSeconds, "side-by-side.mp4 has no audio"), 2, accuracy: 0.1)

        // report.html: every src/href is a relative path to a file that exists; the videos,
        // plots and a grid are among them.
        let html = try String(contentsOfFile: Self.runs + "/report.html", encoding: .utf8)
        let references = Self.references(in: html)
        for name in ["dub.mp4", "side-by-side.mp4", "sync/plot.png", "a2l/plot.png", "l2f/loss.png", "l2f/grid-000002.png"] {
            XCTAssertTrue(references.contains(name), "report.html does not show \(name): \(references)")
        }
        for reference in references {
            XCTAssertFalse(reference.contains(":") || reference.hasPrefix("/"), "not a relative path: \(reference)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: Self.runs + "/" + reference), "report.html names a missing \(reference)")
        }
        XCTAssertFalse(html.contains("http:") || html.contains("https:"), "report.html names a network resource")
        XCTAssertTrue(html.contains(last), "the page shows the verdict")
    }

    /// The values of every src="…" and href="…" attribute.
    static func references(in html: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: "(?:src|href)=\"([^\"]*)\"")
        return pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)).compactMap {
            Range($0.range(at: 1), in: html).map { String(html[$0]) }
        }
    }

    /// Renders `page` with headless chromium into a 1280×800 screenshot; returns, for the bands
    /// of the header (0-90 px), the table (90-320) and the plots (320-650), as DemoReport.Layout
    /// places them, the share of non-white pixels and of saturated (plot-line coloured) ones.
    /// A `complete` page must load every file it names.
    func renderedBands(_ page: String, complete: Bool = true) throws -> [[Double]] {
        let shot = Self.scratch.path("shot-\(UUID().uuidString.prefix(6)).png")
        let result = try TestSupport.run("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                      "--user-data-dir=" + Self.scratch.path("chromium-profile"),
                                                      "--enable-logging=stderr", "--v=0", "--window-size=1280,800",
                                                      "--screenshot=" + shot, URL(fileURLWithPath: page).absoluteString])
        XCTAssertEqual(result.status, 0, result.stderr)
        for failure in ["Uncaught", "Not allowed to load"] + (complete ? ["ERR_FILE_NOT_FOUND"] : []) {
            XCTAssertFalse(result.stderr.contains(failure), "chromium: \(failure) in\n\(result.stderr)")
        }
        let script = """
            import sys, cv2
            image = cv2.imread(sys.argv[1])[:, :, ::-1].astype(int)
            assert image.shape[:2] == (800, 1280), image.shape
            for top, bottom in [(0, 90), (90, 320), (320, 650)]:
                band = image[top:bottom]
                print((band.min(axis=2) < 200).mean(), ((band.max(axis=2) - band.min(axis=2)) > 80).mean())
            """
        let python = try TestSupport.run(TestEnv.python, ["-c", script, shot])
        XCTAssertEqual(python.status, 0, python.stderr)
        return python.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
    }

    func testReportRendersInAHeadlessBrowser() throws {
        _ = try Self.demo()
        let bands = try renderedBands(Self.runs + "/report.html")
        guard bands.count == 3, bands.allSatisfy({ $0.count == 2 }) else { return XCTFail("\(bands)") }
        XCTAssertGreaterThan(bands[0][0], 0.02, "the header's title and verdict")
        XCTAssertGreaterThan(bands[1][0], 0.03, "the table's text and rules")
        XCTAssertGreaterThan(bands[2][0], 0.01, "the plots' axes, text and curves")
        XCTAssertGreaterThan(bands[2][1], 0.002, "the plots' coloured curves")

        // The same page with its plots' files missing: the plots' band is (nearly) blank, so the
        // thresholds above tell a rendered plot from a broken one.
        let html = try String(contentsOfFile: Self.runs + "/report.html", encoding: .utf8)
        let broken = Self.runs + "/report-broken.html"
        try html.replacingOccurrences(of: "/plot.png\"", with: "/missing.png\"").replacingOccurrences(of: "loss.png\"", with: "missing.png\"")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        let blank = try renderedBands(broken, complete: false)
        XCTAssertLessThan(try XCTUnwrap(blank.last?.first), 0.01, "plots band without plots")
        XCTAssertLessThan(try XCTUnwrap(blank.last?.last), 0.002, "plots band without plots")
    }
}
