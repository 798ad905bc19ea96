import Common
import Foundation
import Media

/// HDTF as released: per subset `S` (RD, WDA, WRA) the text files of `HDTF_dataset/`
///   `<S>_video_url.txt`       `Radio1 https://www.youtube.com/watch?v=…` (some with `&t=6s`)
///   `<S>_annotion_time.txt`   `Radio11.mp4 00:30-01:00 01:30-02:30` (sic; mm:ss, minutes may pass 60)
///   `<S>_crop_wh.txt`, `<S>_resolution.txt`, `<S>_crop_ratio.txt`   (kept as item metadata)
/// and the full videos a user downloaded, any container, named by the video name (`Radio11.webm`)
/// or by its YouTube id. Each annotated interval of a found video is an item
/// `<S>_<video>_<nnn>` (nnn: the interval's place in time order, from 000) with speaker
/// `<S>_<video>`, decoded directly from the full video (`SourceItem.frames`).
///
/// What the real files contain is tolerated: a UTF-8 byte-order mark, trailing spaces, CRLF,
/// no final newline, blank lines, a `.mp4` after the video name, intervals out of order or
/// overlapping (sorted and merged; one note names the videos), a video with no interval (one
/// note), a listed video not downloaded (the note `listed N, found M` and `missing`), an
/// interval past the end of its video (clipped, or skipped when it starts after the end; a note
/// each), a token that is no interval (skipped with a note).
public struct HDTFRelease {
    public static let subsets = ["RD", "WDA", "WRA"]
    /// The per-video files kept as item metadata, by the name of their key.
    static let metadataFiles = ["crop_wh", "resolution", "crop_ratio"]

    let root: String
    let options: HDTFOptions

    init(root: String, options: HDTFOptions) {
        self.root = root
        self.options = options
    }

    /// One line of a per-video file: the video name (a video extension dropped), the other
    /// fields, and the line number.
    struct VideoLine {
        var name: String
        var fields: [String]
        var line: Int
    }

    /// The lines of a per-video text file, or nil when there is no such file.
    static func readLines(_ path: String) throws -> [VideoLine]? {
        guard let text = try readText(path) else { return nil }
        var out: [VideoLine] = []
        // "\r\n" is one Character, a newline, so CRLF files split the same way.
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = fields.first else { continue }
            let ext = (first as NSString).pathExtension.lowercased()
            let name = videoExtensions.contains(ext) ? stripExtension(first) : first
            out.append(VideoLine(name: name, fields: Array(fields.dropFirst()), line: number + 1))
        }
        return out
    }

    /// `<folder>/<S>_annotion_time.txt` (as released; `annotation_time` is taken too).
    static func annotationFile(folder: String, subset: String) -> String {
        let released = (folder as NSString).appendingPathComponent("\(subset)_annotion_time.txt")
        let corrected = (folder as NSString).appendingPathComponent("\(subset)_annotation_time.txt")
        return FileManager.default.fileExists(atPath: released) || !FileManager.default.fileExists(atPath: corrected)
            ? released : corrected
    }

    /// (subset, video name, URL) of every line of the `<S>_video_url.txt` files in `folder`, in
    /// file order (what `cals hdtf urls` prints). Throws `InputError` when no subset has one.
    public static func videoURLs(folder: String, subsets: [String] = subsets) throws -> [(subset: String, video: String, url: String)] {
        var out: [(subset: String, video: String, url: String)] = []
        var found = false
        for subset in subsets {
            guard let lines = try readLines((folder as NSString).appendingPathComponent("\(subset)_video_url.txt")) else { continue }
            found = true
            for line in lines {
                if let url = line.fields.first { out.append((subset, line.name, url)) }
            }
        }
        guard found else {
            throw InputError(folder, "no HDTF url file (\(subsets.map { "\($0)_video_url.txt" }.joined(separator: ", ")))")
        }
        return out
    }

    /// The YouTube id in a `watch?v=ID` or `youtu.be/ID` URL.
    static func youtubeID(_ url: String) -> String? {
        guard let components = URLComponents(string: url) else { return nil }
        if let v = components.queryItems?.first(where: { $0.name == "v" })?.value, !v.isEmpty { return v }
        if components.host?.hasSuffix("youtu.be") == true {
            let id = components.path.split(separator: "/").first.map(String.init)
            return id?.isEmpty == false ? id : nil
        }
        return nil
    }

    /// The speaker of a cut clip `<S>_<video>_<nnn>`: `<S>_<video>` (the stem when it has no
    /// `_<digits>` ending).
    static func speaker(ofClip stem: String) -> String {
        guard let underscore = stem.lastIndex(of: "_") else { return stem }
        let tail = stem[stem.index(after: underscore)...]
        return !tail.isEmpty && tail.allSatisfy(\.isASCII) && tail.allSatisfy(\.isNumber) ? String(stem[..<underscore]) : stem
    }

    /// Seconds of `mm:ss` (or `h:mm:ss`; minutes may pass 59, seconds may have decimals), nil
    /// when the text is no such time or beyond 10^7 s.
    static func seconds(_ text: Substring) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count) else { return nil }
        var total = 0.0
        for part in parts {
            guard let value = Double(part), value.isFinite, value >= 0, part.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
            total = total * 60 + value
        }
        return total <= 1e7 ? total : nil
    }

    /// An interval `start-end` as 25 fps timeline frames, nil when it is none or empty.
    static func frames(ofInterval token: String) -> Range<Int>? {
        let ends = token.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let start = seconds(ends[0]), let end = seconds(ends[1]) else { return nil }
        let rate = Double(VideoDecoder.frameRate)
        let (first, last) = (Int((start * rate).rounded()), Int((end * rate).rounded()))
        return first < last ? first..<last : nil
    }

    /// `intervals` sorted, overlapping ones merged; `changed` when they were not already in
    /// order and apart.
    static func merged(_ intervals: [Range<Int>]) -> (intervals: [Range<Int>], changed: Bool) {
        var out: [Range<Int>] = []
        for interval in intervals.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, interval.lowerBound < last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, interval.upperBound)
            } else {
                out.append(interval)
            }
        }
        return (out, out != intervals)
    }

    /// `mm:ss.ss` of a timeline frame, for notes.
    static func clock(_ frame: Int) -> String {
        let seconds = Double(frame) / Double(VideoDecoder.frameRate)
        let minutes = Int(seconds / 60)
        return String(format: "%02d:%05.2f", minutes, seconds - Double(minutes * 60))
    }

    func list() throws -> DatasetListing {
        let annotationFolder = (root as NSString).appendingPathComponent(options.annotations)
        let videoFolder = (root as NSString).appendingPathComponent(options.videos)
        // Downloaded videos by file name without extension (the first in name order).
        var videoFiles: [String: String] = [:]
        if FileManager.default.fileExists(atPath: videoFolder) {
            for rel in try files(videoFolder, depth: 1, extensions: Set(videoExtensions)) where videoFiles[stripExtension(rel)] == nil {
                videoFiles[stripExtension(rel)] = (options.videos as NSString).appendingPathComponent(rel)
            }
        }
        var items: [SourceItem] = [], notes: [String] = [], missing: [String] = []
        var listed = 0, reordered: [String] = [], withoutIntervals: [String] = []
        for subset in options.subsets {
            let annotationPath = HDTFRelease.annotationFile(folder: annotationFolder, subset: subset)
            guard let annotations = try HDTFRelease.readLines(annotationPath) else {
                throw InputError(annotationPath, "hdtf: annotation file of subset \(subset) does not exist")
            }
            func perVideo(_ kind: String) throws -> [VideoLine] {
                try HDTFRelease.readLines((annotationFolder as NSString).appendingPathComponent("\(subset)_\(kind).txt")) ?? []
            }
            let urlLines = try perVideo("video_url")
            var urls: [String: String] = [:]
            for line in urlLines { urls[line.name] = line.fields.first }
            var metadata: [String: [String: String]] = [:]
            for kind in HDTFRelease.metadataFiles {
                for line in try perVideo(kind) { metadata[line.name, default: [:]][kind] = line.fields.joined(separator: " ") }
            }
            var intervals: [String: [Range<Int>]] = [:]
            var names: [String] = []  // in file order, each once: annotated videos, then videos only in the url file
            for line in annotations {
                if intervals[line.name] == nil { names.append(line.name); intervals[line.name] = [] }
                for token in line.fields {
                    if let range = HDTFRelease.frames(ofInterval: token) {
                        intervals[line.name, default: []].append(range)
                    } else {
                        notes.append("hdtf: \(annotationPath):\(line.line): '\(token)' is not an interval mm:ss-mm:ss; skipped")
                    }
                }
            }
            for line in urlLines where intervals[line.name] == nil {
                names.append(line.name)
                intervals[line.name] = []
            }
            for name in names {
                listed += 1
                let speaker = "\(subset)_\(name)"
                let candidates = [name] + (urls[name].flatMap(HDTFRelease.youtubeID).map { [$0] } ?? [])
                guard let source = candidates.lazy.compactMap({ videoFiles[$0] }).first else {
                    missing.append(name)
                    continue
                }
                let (ranges, changed) = HDTFRelease.merged(intervals[name] ?? [])
                if ranges.isEmpty { withoutIntervals.append(speaker); continue }
                if changed { reordered.append(speaker) }
                // The end of the video on the 25 fps timeline (VideoDecoder gives ⌈25·d⌉ frames);
                // unknown for a file whose header says nothing (then processing finds out).
                let path = (root as NSString).appendingPathComponent(source)
                let duration = (try? VideoDecoder.duration(ofFile: path)) ?? 0
                let end = duration > 0 ? Int((duration * Double(VideoDecoder.frameRate) - 1e-6).rounded(.up)) : nil
                for (n, range) in ranges.enumerated() {
                    let id = speaker + "_" + String(format: "%03d", n)
                    var frames = range
                    if let end, range.upperBound > end {
                        let interval = "\(HDTFRelease.clock(range.lowerBound))-\(HDTFRelease.clock(range.upperBound))"
                        guard range.lowerBound < end else {
                            notes.append("hdtf: \(id): interval \(interval) starts after the end of \(source) (\(HDTFRelease.clock(end))); skipped")
                            continue
                        }
                        frames = range.lowerBound..<end
                        notes.append("hdtf: \(id): interval \(interval) ends after the end of \(source); clipped to \(HDTFRelease.clock(end))")
                    }
                    var itemMetadata = metadata[name] ?? [:]
                    itemMetadata["subset"] = subset
                    itemMetadata["interval"] = "\(HDTFRelease.clock(frames.lowerBound))-\(HDTFRelease.clock(frames.upperBound))"
                    if let url = urls[name] { itemMetadata["url"] = url }
                    items.append(SourceItem(id: id, source: source, speaker: speaker, split: options.split,
                                            frames: frames, metadata: itemMetadata))
                }
            }
        }
        notes.insert("hdtf: listed \(listed) videos, found \(listed - missing.count)"
                     + (missing.isEmpty ? "" : "; the \(missing.count) missing are named in missing.txt"), at: 0)
        if !reordered.isEmpty {
            notes.append("hdtf: intervals out of order or overlapping for \(reordered.count) video(s), sorted and merged: "
                         + reordered.joined(separator: ", "))
        }
        if !withoutIntervals.isEmpty {
            notes.append("hdtf: \(withoutIntervals.count) video(s) with no annotated interval: " + withoutIntervals.joined(separator: ", "))
        }
        return DatasetListing(items: items, notes: notes, missing: missing)
    }
}
