import Common
import Face
import Foundation

// The released layouts of LRS3, VoxCeleb2 and GRID, and the side files of LRS2/LRS3/VoxCeleb2
// clips, read into `SourceItem`s (see `AdapterSpec.list`).

/// `lrs3`: `{pretrain,trainval,test}/<id>/<nnnnn>.mp4` with a `.txt` beside each; speaker =
/// `<id>` (the talk); split: pretrain → pretrain, trainval → train, test → test.
public struct LRS3Options: Codable, Equatable, Sendable, DefaultConstructible {
    public var sets = ["trainval", "test"]
    public init() {}
}

/// `voxceleb2`: `{dev,test}/mp4/idNNNNN/<ytid>/<nnnnn>.mp4`; speaker = `idNNNNN`; split: dev →
/// train, test → test. The `.txt` of a clip (`{dev,test}/txt/…/<nnnnn>.txt`, or beside the
/// video), when present, is kept as metadata: identity, reference, offset, fv_conf, asd_conf,
/// and its `FRAME X Y W H` rows (`frames`, the face boxes: the face stage's detection hints,
/// see `DetectionHints`).
public struct VoxCeleb2Options: Codable, Equatable, Sendable, DefaultConstructible {
    public var sets = ["dev", "test"]
    public init() {}
}

/// `grid`: `sN/*.mpg` with word timings in `<alignments>/sN/<name>.align` (`start end word`
/// rows in 1/25000 s); speaker = `sN`; metadata `text` (the words, without sil and sp) and
/// `words` (`word start end` rows in seconds).
public struct GRIDOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var alignments = "alignments"
    public var split = "train"
    public init() {}
}

/// The text of a file, byte-order mark dropped; nil when there is no such file.
func readText(_ path: String) throws -> String? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    guard let data = FileManager.default.contents(atPath: path) else { throw InputError(path, "cannot read the file") }
    guard var text = String(data: data, encoding: .utf8) else { throw InputError(path, "not UTF-8 text") }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    return text
}

/// The side file of an LRS2, LRS3 or VoxCeleb2 clip as metadata: each `Key : value` line as
/// `key` (lowercase, spaces as `_`: `text`, `conf`, `ref`, `fv_conf`), and the rows after a
/// table header (`WORD START END ASDSCORE`, `FRAME X Y W H`) as `words` or `frames`, one row a
/// line, fields separated by one space. [:] when there is no such file.
func sideFileMetadata(_ path: String) throws -> [String: String] {
    guard let text = try readText(path) else { return [:] }
    var out: [String: String] = [:]
    var table: String?
    var rows: [String] = []
    for line in text.split(whereSeparator: \.isNewline) {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard let first = fields.first else { continue }
        if table != nil { rows.append(fields.joined(separator: " ")); continue }
        if first == "WORD" || first == "FRAME" { table = first.lowercased() + "s"; continue }
        guard let colon = line.firstIndex(of: ":") else { continue }
        let key = line[..<colon].split(whereSeparator: \.isWhitespace).joined(separator: "_").lowercased()
        if !key.isEmpty { out[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
    }
    if let table { out[table] = rows.joined(separator: "\n") }
    return out
}

/// The face boxes a dataset gives for a clip, by frame: VoxCeleb2's `FRAME X Y W H` rows (kept
/// as metadata `frames`), which the face stage uses as detection hints. FRAME counts the frames
/// of the original video at 25 fps, the clip starting at its first row (so the clip's frame is
/// FRAME − the first row's FRAME); X, Y (top left), W, H are fractions of the frame's width and
/// height (VoxCeleb2's), or pixels of the decoded frame when any value is above 1.
public enum DetectionHints {
    public static let metadataKey = "frames"

    /// The rows of `text` (one `FRAME X Y W H` row a line, fields separated by white space) as
    /// (clip frame, box as written); `file` names the input in errors.
    static func rows(_ text: String, file: String) throws -> [(frame: Int, box: Box)] {
        var rows: [(frame: Int, box: Box)] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: \.isWhitespace)
            let values = fields.dropFirst().compactMap { Double($0) }
            guard fields.count == 5, let frame = Int(fields[0]), frame >= 0, values.count == 4,
                  values.allSatisfy(\.isFinite), values[2] > 0, values[3] > 0 else {
                throw InputError(file, "frame box row \(number + 1): expected 'FRAME X Y W H' (W, H > 0), got '\(line)'")
            }
            rows.append((frame, Box(x: values[0], y: values[1], width: values[2], height: values[3])))
        }
        let first = rows.map(\.frame).min() ?? 0
        return rows.map { ($0.frame - first, $0.box) }
    }

    /// The hints of an item's metadata (`metadataKey`) for frames of `width` × `height` pixels:
    /// clip frame → box in pixels, cut to the frame (a box outside it is left out); [:] when the
    /// metadata has none.
    public static func boxes(_ metadata: [String: String], width: Int, height: Int, file: String) throws -> [Int: Box] {
        guard let text = metadata[metadataKey] else { return [:] }
        let rows = try rows(text, file: file)
        let fractions = rows.allSatisfy { [$0.box.x, $0.box.y, $0.box.width, $0.box.height].allSatisfy { $0 <= 1 } }
        let (w, h) = (Double(width), Double(height))
        let (sx, sy) = fractions ? (w, h) : (1.0, 1.0)
        var boxes: [Int: Box] = [:]
        for (frame, b) in rows {
            let left = min(max(b.x * sx, 0), w), right = min(max((b.x + b.width) * sx, 0), w)
            let top = min(max(b.y * sy, 0), h), bottom = min(max((b.y + b.height) * sy, 0), h)
            if right > left && bottom > top { boxes[frame] = Box(x: left, y: top, width: right - left, height: bottom - top) }
        }
        return boxes
    }
}

/// A GRID `.align` file as metadata `text` and `words` (see `GRIDOptions`); [:] when absent.
func gridAlignment(_ path: String) throws -> [String: String] {
    guard let text = try readText(path) else { return [:] }
    var words: [String] = [], spoken: [String] = []
    for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard !fields.isEmpty else { continue }
        guard fields.count == 3, let start = Int(fields[0]), let end = Int(fields[1]), start >= 0, end >= start else {
            throw InputError(path, "line \(number + 1): expected 'start end word' (times in 1/25000 s), got '\(line)'")
        }
        let word = String(fields[2])
        words.append(String(format: "%@ %.3f %.3f", word, Double(start) / 25000, Double(end) / 25000))
        if word != "sil" && word != "sp" { spoken.append(word) }
    }
    return ["text": spoken.joined(separator: " "), "words": words.joined(separator: "\n")]
}

extension AdapterSpec {
    func lrs3Items(_ root: String, _ o: LRS3Options) throws -> [SourceItem] {
        let splitOf = ["pretrain": "pretrain", "trainval": "train", "test": "test"]
        var items: [SourceItem] = []
        for set in o.sets {
            guard let split = splitOf[set] else { throw InputError(root, "lrs3: unknown set '\(set)' (pretrain, trainval, test)") }
            let setRoot = (root as NSString).appendingPathComponent(set)
            guard FileManager.default.fileExists(atPath: setRoot) else { throw InputError(setRoot, "lrs3: set folder '\(set)' does not exist") }
            for rel in try files(setRoot, depth: 2, extensions: ["mp4"]) {
                let parts = rel.split(separator: "/").map(String.init)
                guard parts.count == 2 else { continue }
                let metadata = try sideFileMetadata((setRoot as NSString).appendingPathComponent(stripExtension(rel) + ".txt"))
                items.append(SourceItem(id: "\(set)/\(stripExtension(rel))", source: "\(set)/\(rel)", speaker: parts[0],
                                        split: split, metadata: metadata))
            }
        }
        return items
    }

    func voxCeleb2Items(_ root: String, _ o: VoxCeleb2Options) throws -> [SourceItem] {
        let splitOf = ["dev": "train", "test": "test"]
        var items: [SourceItem] = []
        for set in o.sets {
            guard let split = splitOf[set] else { throw InputError(root, "voxceleb2: unknown set '\(set)' (dev, test)") }
            let videos = (root as NSString).appendingPathComponent("\(set)/mp4")
            guard FileManager.default.fileExists(atPath: videos) else { throw InputError(videos, "voxceleb2: folder of set '\(set)' does not exist") }
            for rel in try files(videos, depth: 3, extensions: ["mp4"]) {
                let parts = rel.split(separator: "/").map(String.init)
                guard parts.count == 3 else { continue }
                let stem = stripExtension(rel)
                let txt = (root as NSString).appendingPathComponent("\(set)/txt/\(stem).txt")
                let beside = (videos as NSString).appendingPathComponent(stem + ".txt")
                let side = FileManager.default.fileExists(atPath: txt) ? txt : beside
                let metadata = try sideFileMetadata(side)
                if let rows = metadata[DetectionHints.metadataKey] { _ = try DetectionHints.rows(rows, file: side) }
                items.append(SourceItem(id: "\(set)/\(stem)", source: "\(set)/mp4/\(rel)", speaker: parts[0],
                                        split: split, metadata: metadata))
            }
        }
        return items
    }

    func gridItems(_ root: String, _ o: GRIDOptions) throws -> [SourceItem] {
        let alignments = (root as NSString).appendingPathComponent(o.alignments)
        return try files(root, depth: 2, extensions: ["mpg", "mpeg", "mp4"]).compactMap { rel in
            let parts = rel.split(separator: "/").map(String.init)
            guard parts.count == 2, parts[0] != o.alignments else { return nil }
            let metadata = try gridAlignment((alignments as NSString).appendingPathComponent(stripExtension(rel) + ".align"))
            return SourceItem(id: stripExtension(rel), source: rel, speaker: parts[0], split: o.split, metadata: metadata)
        }
    }
}
