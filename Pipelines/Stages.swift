import Foundation
import Yams

/// For stages whose numbers are all fixed by SPEC §1: nothing to set, only the version keys them.
public struct NoParameters: Codable, Equatable, Sendable, DefaultConstructible {
    public init() {}
}

/// The stages of a manifest, in pipeline order, with their parameters.
public struct PipelineStages: Sendable {
    /// Every item stage, in pipeline order: the manifest lists them in this order, keys chain
    /// through them, shards describe them and `cals status` counts them in it. A new stage is
    /// one line here (and its file in Pipelines/Stages/).
    public static let registry: [any ItemStage.Type] = [
        DecodeStage.self,
        FaceStage.self,
        MelStage.self,
        AlignStage.self,
        ShardStage.self,
    ]

    public static var order: [String] { registry.map { $0.name } }

    /// One stage of each registered type, in registry order.
    public internal(set) var all: [any ItemStage]
    /// Optional, after the item stages: lip units from a sync encoder over the finished frame
    /// shards (keyed by its checkpoint, so it never re-keys the frame stages).
    public var lipUnits: LipUnitsStage?

    /// Every stage with its defaults.
    public init() { all = Self.registry.map { $0.withDefaults() } }

    /// The stage of type `S`, read or replaced.
    public subscript<S: ItemStage>(_ type: S.Type) -> S {
        get {
            guard let stage = all.lazy.compactMap({ $0 as? S }).first else { preconditionFailure("\(S.name) is not registered") }
            return stage
        }
        set {
            guard let index = all.firstIndex(where: { $0 is S }) else { preconditionFailure("\(S.name) is not registered") }
            all[index] = newValue
        }
    }

    /// Reads the `stages:` list: one single-key mapping per stage (`- face: {chin_margin: 0.2}`),
    /// every registered stage once and in registry order, then optionally `lip_units`.
    init(_ node: Node, file: String) throws {
        guard let list = node.sequence else {
            throw ManifestError(file, YAMLMapping.line(node), "manifest: key 'stages' must be a list")
        }
        all = []
        for entry in list {
            guard let mapping = entry.mapping, mapping.count == 1, let name = mapping.keys.first?.string else {
                throw ManifestError(file, YAMLMapping.line(entry), "stages: each entry must be '- <stage>: {parameters}'")
            }
            let parameters = mapping.values.first
            let context = "stage '\(name)' parameters"
            if name == LipUnitsStage.name && all.count == Self.registry.count && lipUnits == nil {
                let p = try decodeParameters(LipUnitsStage.Parameters.self, from: parameters, file: file, context: context)
                guard !p.checkpoint.isEmpty else {
                    throw ManifestError(file, YAMLMapping.line(entry), "\(context): 'checkpoint' is required")
                }
                lipUnits = LipUnitsStage(parameters: p)
                continue
            }
            guard all.count < Self.registry.count, name == Self.registry[all.count].name else {
                throw ManifestError(file, YAMLMapping.line(entry),
                                    "stages: unexpected stage '\(name)' (the stages are \(Self.order.joined(separator: ", ")), in this order)")
            }
            all.append(try Self.registry[all.count].read(parameters, file: file, context: context))
        }
        if all.count < Self.registry.count {
            throw ManifestError(file, YAMLMapping.line(node),
                                "stages: missing stage '\(Self.order[all.count])' (the stages are \(Self.order.joined(separator: ", ")))")
        }
    }

    /// (stage name, output key) in order for an input with this content fingerprint.
    public func keys(fingerprint: String) -> [(stage: String, key: String)] {
        var out: [(stage: String, key: String)] = []
        var key = fingerprint
        for stage in all {
            key = stage.key(input: key)
            out.append((type(of: stage).name, key))
        }
        return out
    }

    /// Every stage's version and parameters, as stored in output attributes:
    /// `{"decode": {"version": 1, "parameters": {...}}, ...}` (keys sorted).
    public var description: String {
        "{" + all.map { "\"\(type(of: $0).name)\": {\"version\": \(type(of: $0).version), \"parameters\": \($0.parametersJSON)}" }
            .joined(separator: ", ") + "}"
    }
}
