import Foundation
import Yams

/// A dataset's preprocessing, as declared in `manifests/<dataset>.yaml`:
///
/// ```yaml
/// dataset: hdtf             # ManifestTests parses this example
/// adapter:
///   kind: hdtf            # hdtf | lrs2 | lrw | folder | demo
///   options: {}           # adapter options (see Adapters.swift)
/// stages:                 # PipelineStages.registry, in its order (then optionally lip_units)
///   - decode: {max_damaged_fraction: 0.02}   # see DecodeStage.damageLimit; not part of the key
///   - face: {detector: haar, chin_margin: 0.1}   # FaceParameters and the detector's own
///   - mel: {}
///   - align: {}
///   - shard: {}
/// split: {by: speaker, test: 0.1, val: 0.05, seed: 1}   # optional, see SplitRule
/// shards:
///   target_bytes: 1073741824
/// workers: 2             # worker processes (cals worker), each supervised
/// item_time_limit: 900    # seconds one item may take before its worker is killed and it is quarantined
/// ```
public struct Manifest: Sendable {
    public var file: String
    public var dataset: String
    public var adapter: AdapterSpec
    /// How items get their split (`split:`; default: the adapter's).
    public var split: SplitRule
    public var stages: PipelineStages
    /// A shard is closed once its frames + mel reach this many bytes (default 1 GiB).
    public var shardTargetBytes: Int
    public var workers: Int
    public var itemTimeLimit: Double

    public init(file: String, dataset: String, adapter: AdapterSpec, split: SplitRule = SplitRule(),
                stages: PipelineStages = PipelineStages(), shardTargetBytes: Int = 1 << 30, workers: Int = 2,
                itemTimeLimit: Double = 900) {
        self.file = file
        self.dataset = dataset
        self.adapter = adapter
        self.split = split
        self.stages = stages
        self.shardTargetBytes = shardTargetBytes
        self.workers = workers
        self.itemTimeLimit = itemTimeLimit
    }

    public static func load(_ path: String) throws -> Manifest {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ManifestError(path, 0, "cannot read the manifest")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Manifest {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let (line, problem) = Manifest.location(of: error)
            throw ManifestError(file, line, "not valid YAML: \(problem)")
        }
        guard let root else { throw ManifestError(file, 1, "the manifest is empty") }
        var top = try YAMLMapping(root, file: file, context: "manifest")
        let dataset = try top.string("dataset")

        var adapterMap = try YAMLMapping(try top.required("adapter"), file: file, context: "adapter")
        let kindName = try adapterMap.string("kind")
        guard let kind = AdapterKind(rawValue: kindName) else {
            throw adapterMap.error("kind", "is '\(kindName)', not one of \(AdapterKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let adapter = try AdapterSpec(kind: kind, options: adapterMap.value("options"), file: file)
        try adapterMap.finish()

        let splitNode = top.value("split")
        let split = try decodeParameters(SplitRule.self, from: splitNode, file: file, context: "split")
        if let problem = split.problem { throw ManifestError(file, YAMLMapping.line(splitNode), "split: \(problem)") }

        let stages = try PipelineStages(try top.required("stages"), file: file)

        var shardBytes = 1 << 30
        if let shardsNode = top.value("shards") {
            var shards = try YAMLMapping(shardsNode, file: file, context: "shards")
            shardBytes = try shards.int("target_bytes", default: shardBytes)
            guard shardBytes > 0 else { throw shards.error("target_bytes", "must be positive") }
            try shards.finish()
        }
        let workers = try top.int("workers", default: 2)
        guard (1...64).contains(workers) else { throw top.error("workers", "must be between 1 and 64") }
        let timeLimit = try top.double("item_time_limit", default: 900)
        guard timeLimit > 0 else { throw top.error("item_time_limit", "must be positive") }
        try top.finish()
        return Manifest(file: file, dataset: dataset, adapter: adapter, split: split, stages: stages,
                        shardTargetBytes: shardBytes, workers: workers, itemTimeLimit: timeLimit)
    }

    private static func location(of error: YamlError) -> (Int, String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return (mark.line, problem)
        default: return (0, "\(error)")
        }
    }
}
