import Foundation
import Media
import Pipelines
import Shards
import TestSupport
import XCTest

/// HDTF as released: the five annotation files per subset with the quirks of the real ones,
/// and full videos (demo-corpus clips concatenated) in three containers.
final class HDTFReleaseTests: XCTestCase {
    private func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// `<root>/HDTF_dataset/*.txt` and `<root>/videos/`: Radio11 (mp4), Radio12 (WebM),
    /// BarackObama (Matroska, named by its YouTube id), Radio14 (downloaded, no interval);
    /// Radio13 and JoeBiden listed but not downloaded. Every full video has 8 s of pictures (200
    /// frames) and a little more (the concatenated audio runs on).
    private func makeRelease(_ root: String) throws {
        let videos = (root as NSString).appendingPathComponent("videos")
        try DemoClips.concatenate([0, 1], into: "\(videos)/Radio11.mp4")
        try DemoClips.concatenate([2, 3], into: "\(videos)/Radio12.webm")
        try DemoClips.concatenate([4, 5], into: "\(videos)/abc-123_XYZ.mkv")
        try FileManager.default.copyItem(atPath: "\(videos)/Radio11.mp4", toPath: "\(videos)/Radio14.mp4")
        try write("not a video", "\(videos)/Radio13.webm.part")
        let a = (root as NSString).appendingPathComponent("HDTF_dataset")
        // No final newline; a URL with &t=6s; a youtu.be URL.
        try write("Radio11 https://www.youtube.com/watch?v=r11\nRadio12 https://www.youtube.com/watch?v=r12&t=6s\n"
                  + "Radio13 https://youtu.be/r13\nRadio14 https://www.youtube.com/watch?v=r14", "\(a)/RD_video_url.txt")
        // A byte-order mark, intervals out of order and overlapping, trailing spaces, a blank
        // line, an interval past the end and one starting after it (minutes past 60).
        try write("\u{FEFF}Radio11.mp4 00:06-00:07 00:01-00:03 00:02-00:04   \nRadio12.mp4 00:05-00:09 61:00-62:30\n\n"
                  + "Radio13.mp4 00:00-00:02\n", "\(a)/RD_annotion_time.txt")
        try write("Radio11.mp4 10 180 5 170\n", "\(a)/RD_crop_wh.txt")
        try write("Radio11.mp4 192\n", "\(a)/RD_resolution.txt")
        try write("Radio11.mp4 0.9\n", "\(a)/RD_crop_ratio.txt")
        // CRLF lines; an interval that ends before it starts.
        try write("BarackObama https://www.youtube.com/watch?v=abc-123_XYZ&t=6s\r\n", "\(a)/WDA_video_url.txt")
        try write("BarackObama.mp4 00:01-00:03 00:05-00:04 \r\n", "\(a)/WDA_annotion_time.txt")
        for kind in ["crop_wh", "resolution", "crop_ratio"] { try write("", "\(a)/WDA_\(kind).txt") }
        try write("JoeBiden https://www.youtube.com/watch?v=jb\n", "\(a)/WRA_video_url.txt")
        try write("JoeBiden.mp4 00:00-00:05", "\(a)/WRA_annotion_time.txt")
    }

    /// The pixels of every 25 fps frame of `path` (only timeline frames `frames`, when given).
    private func framePixels(_ path: String, frames: Range<Int>? = nil) throws -> [[UInt8]] {
        let decoder = try VideoDecoder(path: path, frames: frames)
        var out: [[UInt8]] = []
        while let frame = try decoder.nextFrame() { out.append(frame.pixels) }
        return out
    }

    func testReleaseListsEveryIntervalFrameExact() throws {
        let s = ScratchDir("hdtf")
        try makeRelease(s.url.path)
        let listing = try AdapterSpec.hdtf(HDTFOptions()).list(root: s.url.path)
        let items = listing.items
        // The end of Radio12 is where a decode from the start stops.
        let radio12 = try framePixels(s.path("videos/Radio12.webm"))
        XCTAssertGreaterThanOrEqual(radio12.count, 200)
        let end12 = String(format: "00:%05.2f", Double(radio12.count) / 25)
        XCTAssertEqual(items.map(\.id), ["RD_Radio11_000", "RD_Radio11_001", "RD_Radio12_000", "WDA_BarackObama_000"])
        XCTAssertEqual(items.map(\.speaker), ["RD_Radio11", "RD_Radio11", "RD_Radio12", "WDA_BarackObama"])
        XCTAssertEqual(items.map(\.source), ["videos/Radio11.mp4", "videos/Radio11.mp4", "videos/Radio12.webm", "videos/abc-123_XYZ.mkv"])
        // 00:01-00:03 and 00:02-00:04 merged; 00:05-00:09 clipped at the end of the video.
        XCTAssertEqual(items.map(\.frames), [25..<100, 150..<175, 125..<radio12.count, 25..<75])
        XCTAssertEqual(items[0].metadata, ["crop_wh": "10 180 5 170", "resolution": "192", "crop_ratio": "0.9",
                                           "subset": "RD", "url": "https://www.youtube.com/watch?v=r11",
                                           "interval": "00:01.00-00:04.00"])
        XCTAssertEqual(listing.missing, ["Radio13", "JoeBiden"])
        XCTAssertEqual(listing.notes.first, "hdtf: listed 6 videos, found 4; the 2 missing are named in missing.txt")
        XCTAssertEqual(listing.notes.filter { $0.contains("sorted and merged") },
                       ["hdtf: intervals out of order or overlapping for 1 video(s), sorted and merged: RD_Radio11"])
        XCTAssertTrue(listing.notes.contains("hdtf: RD_Radio12_000: interval 00:05.00-00:09.00 ends after the end of videos/Radio12.webm; clipped to \(end12)"), "\(listing.notes)")
        XCTAssertTrue(listing.notes.contains("hdtf: RD_Radio12_001: interval 61:00.00-62:30.00 starts after the end of videos/Radio12.webm (\(end12)); skipped"), "\(listing.notes)")
        XCTAssertTrue(listing.notes.contains("hdtf: 1 video(s) with no annotated interval: RD_Radio14"), "\(listing.notes)")
        XCTAssertTrue(listing.notes.contains { $0.hasSuffix("WDA_annotion_time.txt:1: '00:05-00:04' is not an interval mm:ss-mm:ss; skipped") },
                      "\(listing.notes)")

        // Each interval decodes to exactly its frames, the same pictures a decode from the
        // start gives at those times, and exactly its audio (up to the end of the audio).
        var whole: [String: [[UInt8]]] = ["videos/Radio12.webm": radio12]
        for item in items {
            let path = s.path(item.source), frames = try XCTUnwrap(item.frames)
            let all = try whole[item.source] ?? framePixels(path)
            whole[item.source] = all
            XCTAssertGreaterThanOrEqual(all.count, 200, item.source)
            XCTAssertTrue(try framePixels(path, frames: frames) == Array(all[frames]), item.id)
            let full = try decodeAudio(path: path).samples
            let cut = try decodeAudio(path: path, frames: frames).samples
            let start = frames.lowerBound * 640
            XCTAssertEqual(cut.count, min(frames.count * 640, full.count - start), item.id)
            guard start + cut.count <= full.count else { continue }
            // The same samples, edges included (the decoder and resampler are warmed by a pre-roll).
            let worst = zip(cut, full[start ..< (start + cut.count)]).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThanOrEqual(worst, 1e-4, item.id)
        }
    }

    func testPreprocessCutsIntervalsAndWritesMissingList() throws {
        let s = ScratchDir("hdtf-run")
        let data = s.path("data"), out = s.path("out"), manifest = s.path("hdtf.yaml")
        try makeRelease(data)
        try """
            dataset: hdtf
            adapter: {kind: hdtf}
            stages: [decode: {}, face: {}, mel: {}, align: {}, shard: {}]
            workers: 1
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let first = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(first.hasPrefix("hdtf: listed 6 videos, found 4; the 2 missing are named in missing.txt\n"), first)
        XCTAssertTrue(first.contains("processed 4, up to date 0, quarantined 0"), first)
        XCTAssertEqual(try String(contentsOfFile: "\(out)/missing.txt", encoding: .utf8), "Radio13\nJoeBiden\n")
        let ledger = try LedgerReader(outFolder: out)
        let items = try ledger.items()
        XCTAssertEqual(items.keys.sorted(), ["RD_Radio11_000", "RD_Radio11_001", "RD_Radio12_000", "WDA_BarackObama_000"])
        XCTAssertEqual(items["RD_Radio12_000"]?.speaker, "RD_Radio12")
        // Rows of an interval come from its frames only: at most its frame count, indices inside it.
        var rows: [String: Int] = [:]
        for r in try ledger.currentRows() { rows[r.item, default: 0] += r.rowCount }
        XCTAssertEqual(rows.count, 4)
        XCTAssertLessThanOrEqual(rows["RD_Radio11_001"] ?? 0, 25)
        XCTAssertGreaterThan(rows["RD_Radio11_001"] ?? 0, 0)
        // Their frame_index is on the source's timeline: 00:06-00:07 is frames 150..<175.
        for r in try ledger.currentRows() where r.item == "RD_Radio11_001" {
            let indices = try XCTUnwrap(try ShardReader(path: "\(out)/shards/\(r.shard)").frameIndices(rows: r.firstRow..<(r.firstRow + r.rowCount)))
            XCTAssertTrue(indices.allSatisfy { (150..<175).contains($0) }, "\(indices)")
        }

        // The interval is part of the item's key: a re-run does nothing; moving one interval
        // re-runs that item only.
        XCTAssertTrue(try Fixture.preprocess(manifest, data: data, out: out).contains("processed 0, up to date 4"))
        try write("Radio11.mp4 00:06-00:08 00:01-00:03 00:02-00:04\nRadio12.mp4 00:05-00:09\nRadio13.mp4 00:00-00:02\n",
                  "\(data)/HDTF_dataset/RD_annotion_time.txt")
        let moved = try Fixture.preprocess(manifest, data: data, out: out)
        XCTAssertTrue(moved.contains("processed 1, up to date 3"), moved)

        let urls = try Fixture.cals(["hdtf", "urls", "\(data)/HDTF_dataset"])
        XCTAssertEqual(urls.status, 0, urls.stderr)
        XCTAssertEqual(urls.stdout, "https://www.youtube.com/watch?v=r11\nhttps://www.youtube.com/watch?v=r12&t=6s\n"
                       + "https://youtu.be/r13\nhttps://www.youtube.com/watch?v=r14\n"
                       + "https://www.youtube.com/watch?v=abc-123_XYZ&t=6s\nhttps://www.youtube.com/watch?v=jb\n")
    }
}
