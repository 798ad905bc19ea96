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

    public init(id: String, source: String, speaker: String, split: String, label: String = "") {
        self.id = id
        self.source = source
        self.speaker = speaker
        self.split = split
        self.label = label
    }
}

public enum AdapterKind: String, CaseIterable, Sendable {
    case hdtf, lrs2, lrw, folder, demo
}

/// `hdtf`: a folder of `*.mp4` (`WDA_*`, `RD_*`, `WRA_*`); speaker = file name.
public struct HDTFOptions: Codable, Equatable, Sendable, DefaultConstructible {
    public var split = "train"
    public init() {}
}

/// `lrs2`: `main/<speaker>/<clip>.mp4` (and `pretrain/…`); splits from `train.txt`, `val.txt`,
/// `test.txt` in the root (lines `<speaker>/<clip>`, optionally followed by a tag); clips of
/// `main` in no list are skipped; `pretrain` clips get split "pretrain".
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
    public var extensions = ["mp4", "mov", "mkv", "avi", "webm", "m4v", "mpg", "mpeg", "vob", "ts", "m2ts", "mts", "flv",
                             "3gp", "mxf", "dv", "ogv", "h264", "264", "hevc", "265", "m2v"]
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
    case lrw(LRWOptions)
    case folder(FolderOptions)
    case demo(DemoOptions)

    init(kind: AdapterKind, options: Node?, file: String) throws {
        let context = "adapter '\(kind.rawValue)' options"
        switch kind {
        case .hdtf: self = .hdtf(try decodeParameters(HDTFOptions.self, from: options, file: file, context: context))
        case .lrs2: self = .lrs2(try decodeParameters(LRS2Options.self, from: options, file: file, context: context))
        case .lrw: self = .lrw(try decodeParameters(LRWOptions.self, from: options, file: file, context: context))
        case .folder: self = .folder(try decodeParameters(FolderOptions.self, from: options, file: file, context: context))
        case .demo: self = .demo(try decodeParameters(DemoOptions.self, from: options, file: file, context: context))
        }
    }

    public var kind: AdapterKind {
        switch self {
        case .hdtf: return .hdtf
        case .lrs2: return .lrs2
        case .lrw: return .lrw
        case .folder: return .folder
        case .demo: return .demo
        }
    }

    /// Lists the items under `root`, sorted by id. A missing root is an `InputError`.
    public func listItems(root: String) throws -> [SourceItem] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw InputError(root, "data folder does not exist (adapter \(kind.rawValue))")
        }
        guard isDirectory.boolValue else { throw InputError(root, "not a folder (adapter \(kind.rawValue))") }
        let items: [SourceItem]
        switch self {
        case .hdtf(let o):
            items = try files(root, depth: 1, extensions: ["mp4"]).map { rel in
                let stem = stripExtension(rel)
                return SourceItem(id: stem, source: rel, speaker: stem, split: o.split)
            }
        case .lrs2(let o):
            items = try lrs2Items(root, o)
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
        return items.sorted { $0.id < $1.id }
    }

    private func lrs2Items(_ root: String, _ o: LRS2Options) throws -> [SourceItem] {
        var splitOf: [String: String] = [:]  // "<speaker>/<clip>" → split
        var foundList = false
        for split in ["train", "val", "test"] {
            let list = (root as NSString).appendingPathComponent("\(split).txt")
            guard let text = try? String(contentsOfFile: list, encoding: .utf8) else { continue }
            foundList = true
            for line in text.split(whereSeparator: \.isNewline) {
                guard let entry = line.split(separator: " ").first else { continue }
                splitOf[String(entry)] = split
            }
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
                let split = set == "main" ? splitOf[clip] : set
                guard let split else { continue }
                items.append(SourceItem(id: "\(set)/\(clip)", source: "\(set)/\(rel)", speaker: parts[0], split: split))
            }
        }
        return items
    }
}

private func stripExtension(_ path: String) -> String { (path as NSString).deletingPathExtension }

/// Relative paths of the files under `root` with one of `extensions` (lowercased), at most
/// `depth` levels down (nil: any), skipping hidden names. Sorted.
private func files(_ root: String, depth: Int?, extensions: Set<String>) throws -> [String] {
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
