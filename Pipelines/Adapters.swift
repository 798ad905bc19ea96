import Common
import Foundation
import Yams

/// One video of a dataset, as an adapter lists it.
public struct SourceItem: Equatable, Sendable {
    /// Stable id inside the dataset: the path relative to the root, without extension.
    public var id: String
    /// Path relative to the data root (what the ledger and shards record).
    public var source: String
    public var speaker: String
    public var split: String
    /// A label the layout carries (the LRW word), else "".
    public var label: String
    /// For an item cut from a longer video (an HDTF interval): its frames on the source's 25 fps
    /// timeline, decoded directly from the source; nil for the whole file.
    public var frames: Range<Int>?
    /// What the dataset says about the item besides its media (transcript, tags, word timings,
    /// detection hints), by name; stored with the item in the ledger.
    public var metadata: [String: String]

    public init(id: String, source: String, speaker: String, split: String, label: String = "",
                frames: Range<Int>? = nil, metadata: [String: String] = [:]) {
        self.id = id
        self.source = source
        self.speaker = speaker
        self.split = split
        self.label = label
        self.frames = frames
        self.metadata = metadata
    }

    /// The input of the item's first stage key: the source's content hash, with the interval
    /// for an item cut from a longer video (so each interval has its own key, and a changed
    /// interval re-runs), and a hash of its detection hints when it has some (they decide which
    /// face is cropped, so changed hints re-run). An interval is keyed as "timeline frames": its
    /// rows' `frame_index` counts on the source's timeline (interval items keyed "frames" counted
    /// from the interval's start, and re-run).
    public func inputKey(contentHash: String) -> String {
        var key = contentHash
        if let frames { key += "|timeline frames \(frames.lowerBound)..<\(frames.upperBound)" }
        if let hints = metadata[DetectionHints.metadataKey] {
            var hash = XXH64()
            Array(hints.utf8).withUnsafeBytes { hash.update($0) }
            key += "|hints \(hash.hexDigest)"
        }
        return key
    }
}

/// What an adapter found under a data root.
public struct DatasetListing: Sendable {
    /// The items, sorted by id.
    public var items: [SourceItem]
    /// Lines for the run's summary: what the adapter tolerated or skipped, each said once.
    public var notes: [String] = []
    /// Videos the dataset lists that are not in the data folder (the runner writes them to
    /// `<out>/missing.txt`); nil for layouts that list nothing beyond their files.
    public var missing: [String]?

    public init(items: [SourceItem], notes: [String] = [], missing: [String]? = nil) {
        self.items = items
        self.notes = notes
        self.missing = missing
    }
}

/// The file extensions the adapters take as video (lowercase).
public let videoExtensions = ["mp4", "mov", "mkv", "avi", "webm", "m4v", "mpg", "mpeg", "vob", "ts", "m2ts", "mts", "flv",
                              "3gp", "mxf", "dv", "ogv", "h264", "264", "hevc", "265", "m2v"]

public enum AdapterKind: String, CaseIterable, Sendable {
    case hdtf, lrs2, lrs3, voxceleb2, grid, lrw, folder, demo
}

/// `hdtf`, `layout: release` (the default): HDTF as released, the annotation files of
/// `HDTF_dataset/` in the folder `annotations` and the downloaded full videos (any container,
/// named by the video name or its YouTube id) in the folder `videos`, both under the data root;
/// each annotated interval is an item `<S>_<video>_<nnn>` with speaker `<S>_<video>` (see
/// `HDTFRelease`). `layout: clips`: already-cut clips `<S>_<video>_<nnn>.<ext>` in the data
/// root, speaker `<S>_<video>`.
public struct HDTFOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var layout = "release"
    public var annotations = "HDTF_dataset"
    public var videos = "videos"
    public var subsets = HDTFRelease.subsets
    public var split = "train"
    public init() {}

    static let layouts = ["release", "clips"]
}

/// `lrs2` (`mvlrs_v1/`): `main/<speaker>/<clip>.mp4` (and `pretrain/…`); splits from
/// `train.txt`, `val.txt`, `test.txt` in the root (lines `<speaker>/<clip>`, optionally followed
/// by a tag such as `NF` or `MV`: metadata `tag`); clips of `main` in no list are skipped;
/// `pretrain` clips get split "pretrain" (only those `pretrain.txt` lists, when the root has
/// one; a tag after the id becomes metadata `tag` too). The `.txt` beside each clip gives metadata `text`,
/// `conf` and (pretrain) `words`, the `WORD START END ASDSCORE` rows.
public struct LRS2Options: Codable, Equatable, Sendable, DefaultConstructible {
    public var sets = ["main"]
    public init() {}
}

/// `lrw`: `<WORD>/{train,val,test}/<WORD>_<nnnnn>.mp4` with a `.txt` beside each; label = WORD.
public struct LRWOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var splits = ["train", "val", "test"]
    public init() {}
}

/// `folder`: any tree of video files; speaker = the parent folder ("" at the root).
public struct FolderOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var extensions = videoExtensions
    public var split = "train"
    public init() {}
}

/// `demo`: the generated corpus, `<speaker>/<clip>.mp4` with `<clip>.json` beside it; the split
/// is the sidecar's `"split"` field when present, else `default_split`.
public struct DemoOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var defaultSplit = "train"
    public init() {}
}

/// The adapter of a manifest with its typed options.
public enum AdapterSpec: Equatable, Sendable {
    case hdtf(HDTFOptions)
    case lrs2(LRS2Options)
    case lrs3(LRS3Options)
    case voxceleb2(VoxCeleb2Options)
    case grid(GRIDOptions)
    case lrw(LRWOptions)
    case folder(FolderOptions)
    case demo(DemoOptions)

    init(kind: AdapterKind, options: Node?, file: String) throws {
        let context = "adapter '\(kind.rawValue)' options"
        switch kind {
        case .hdtf:
            let o = try decodeParameters(HDTFOptions.self, from: options, file: file, context: context)
            guard HDTFOptions.layouts.contains(o.layout) else {
                throw ManifestError(file, YAMLMapping.line(options), "\(context): 'layout' is '\(o.layout)', not one of \(HDTFOptions.layouts.joined(separator: ", "))")
            }
            self = .hdtf(o)
        case .lrs2: self = .lrs2(try decodeParameters(LRS2Options.self, from: options, file: file, context: context))
        case .lrs3: self = .lrs3(try decodeParameters(LRS3Options.self, from: options, file: file, context: context))
        case .voxceleb2: self = .voxceleb2(try decodeParameters(VoxCeleb2Options.self, from: options, file: file, context: context))
        case .grid: self = .grid(try decodeParameters(GRIDOptions.self, from: options, file: file, context: context))
        case .lrw: self = .lrw(try decodeParameters(LRWOptions.self, from: options, file: file, context: context))
        case .folder: self = .folder(try decodeParameters(FolderOptions.self, from: options, file: file, context: context))
        case .demo: self = .demo(try decodeParameters(DemoOptions.self, from: options, file: file, context: context))
        }
    }

    public var kind: AdapterKind {
        switch self {
        case .hdtf: return .hdtf
        case .lrs2: return .lrs2
        case .lrs3: return .lrs3
        case .voxceleb2: return .voxceleb2
        case .grid: return .grid
        case .lrw: return .lrw
        case .folder: return .folder
        case .demo: return .demo
        }
    }

    /// Lists the items under `root`, sorted by id, with notes. A missing root is an `InputError`.
    public func list(root: String) throws -> DatasetListing {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw InputError(root, "data folder does not exist (adapter \(kind.rawValue))")
        }
        guard isDirectory.boolValue else { throw InputError(root, "not a folder (adapter \(kind.rawValue))") }
        let items: [SourceItem]
        switch self {
        case .hdtf(let o) where o.layout == "release":
            var listing = try HDTFRelease(root: root, options: o).list()
            listing.items.sort { $0.id < $1.id }
            return listing
        case .hdtf(let o):
            items = try files(root, depth: 1, extensions: Set(videoExtensions)).map { rel in
                let stem = stripExtension(rel)
                return SourceItem(id: stem, source: rel, speaker: HDTFRelease.speaker(ofClip: stem), split: o.split)
            }
        case .lrs2(let o):
            items = try lrs2Items(root, o)
        case .lrs3(let o):
            items = try lrs3Items(root, o)
        case .voxceleb2(let o):
            items = try voxCeleb2Items(root, o)
        case .grid(let o):
            items = try gridItems(root, o)
        case .lrw(let o):
            items = try files(root, depth: 3, extensions: ["mp4"]).compactMap { rel in
                let parts = rel.split(separator: "/").map(String.init)
                guard parts.count == 3, o.splits.contains(parts[1]),
                      parts[2].hasPrefix(parts[0] + "_") else { return nil }
                return SourceItem(id: stripExtension(rel), source: rel, speaker: "", split: parts[1], label: parts[0])
            }
        case .folder(let o):
            items = try files(root, depth: nil, extensions: Set(o.extensions.map { $0.lowercased() })).map { rel in
                let parts = rel.split(separator: "/")
                return SourceItem(id: stripExtension(rel), source: rel,
                                  speaker: parts.count > 1 ? String(parts[parts.count - 2]) : "", split: o.split)
            }
        case .demo(let o):
            items = try files(root, depth: 2, extensions: ["mp4"]).compactMap { rel in
                let parts = rel.split(separator: "/").map(String.init)
                guard parts.count == 2 else { return nil }
                let sidecar = (root as NSString).appendingPathComponent(stripExtension(rel) + ".json")
                var split = o.defaultSplit
                if let data = FileManager.default.contents(atPath: sidecar),
                   let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                   let s = json["split"] as? String {
                    split = s
                }
                return SourceItem(id: stripExtension(rel), source: rel, speaker: parts[0], split: split)
            }
        }
        return DatasetListing(items: items.sorted { $0.id < $1.id })
    }

    private func lrs2Items(_ root: String, _ o: LRS2Options) throws -> [SourceItem] {
        var splitOf: [String: (split: String, tag: String)] = [:]  // "<speaker>/<clip>" → split, tag (main)
        var pretrainList: [String: (split: String, tag: String)]?  // the same from pretrain.txt, when present
        var foundList = false
        for split in ["train", "val", "test", "pretrain"] {
            let list = (root as NSString).appendingPathComponent("\(split).txt")
            guard let text = try? String(contentsOfFile: list, encoding: .utf8) else { continue }
            var listed: [String: (split: String, tag: String)] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                let fields = line.split(whereSeparator: \.isWhitespace)
                guard let entry = fields.first else { continue }
                listed[String(entry)] = (split, fields.dropFirst().joined(separator: " "))
            }
            if split == "pretrain" { pretrainList = listed } else { splitOf.merge(listed) { $1 }; foundList = true }
        }
        if o.sets.contains("main") && !foundList {
            throw InputError(root, "lrs2: no split list (train.txt, val.txt, test.txt) in the data folder")
        }
        var items: [SourceItem] = []
        for set in o.sets {
            let setRoot = (root as NSString).appendingPathComponent(set)
            guard FileManager.default.fileExists(atPath: setRoot) else {
                throw InputError(setRoot, "lrs2: set folder '\(set)' does not exist")
            }
            for rel in try files(setRoot, depth: 2, extensions: ["mp4"]) {
                let parts = rel.split(separator: "/").map(String.init)
                guard parts.count == 2 else { continue }
                let clip = stripExtension(rel)
                let listed: (split: String, tag: String)?
                switch set {
                case "main": listed = splitOf[clip]
                case "pretrain": listed = pretrainList.map { $0[clip] } ?? (split: set, tag: "")
                default: listed = (split: set, tag: "")
                }
                guard let listed else { continue }
                var metadata = try sideFileMetadata((setRoot as NSString).appendingPathComponent(clip + ".txt"))
                if !listed.tag.isEmpty { metadata["tag"] = listed.tag }
                items.append(SourceItem(id: "\(set)/\(clip)", source: "\(set)/\(rel)", speaker: parts[0], split: listed.split,
                                        metadata: metadata))
            }
        }
        return items
    }
}

func stripExtension(_ path: String) -> String { (path as NSString).deletingPathExtension }

/// Relative paths of the files under `root` with one of `extensions` (lowercased), at most
/// `depth` levels down (nil: any), skipping hidden names. Sorted.
func files(_ root: String, depth: Int?, extensions: Set<String>) throws -> [String] {
    let rootURL = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
    guard let walker = FileManager.default.enumerator(at: rootURL, includingPropertiesForKeys: [.isDirectoryKey],
                                                      options: [.skipsHiddenFiles]) else {
        throw InputError(root, "cannot list the folder")
    }
    let prefix = rootURL.path.hasSuffix("/") ? rootURL.path : rootURL.path + "/"
    var out: [String] = []
    for case let url as URL in walker {
        let path = url.standardizedFileURL.path
        guard path.hasPrefix(prefix) else { continue }
        let rel = String(path.dropFirst(prefix.count))
        let level = rel.split(separator: "/").count
        let isDirectory = (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) ?? false
        if isDirectory {
            if let depth, level >= depth { walker.skipDescendants() }
            continue
        }
        if let depth, level > depth { continue }
        if extensions.contains(url.pathExtension.lowercased()) { out.append(rel) }
    }
    return out.sorted()
}
