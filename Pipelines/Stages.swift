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

    /// Every row stage, in the order a manifest lists them after the item stages (each optional).
    public static let rowRegistry: [any RowStage.Type] = [
        LipUnitsStage.self,
        AVSyncStage.self,
    ]

    /// One stage of each registered type, in registry order.
    public internal(set) var all: [any ItemStage]
    /// The row stages the manifest lists, in `rowRegistry` order (keyed by their checkpoints,
    /// so they never re-key the item stages).
    public private(set) var rows: [any RowStage] = []

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

    /// The row stage of type `S`, if listed; setting nil removes it.
    public subscript<S: RowStage>(row stage: S.Type) -> S? {
        get { rows.lazy.compactMap { $0 as? S }.first }
        set {
            var listed: [any RowStage] = []
            for registered in Self.rowRegistry {
                if registered.name == S.name {
                    if let newValue { listed.append(newValue) }
                } else if let other = rows.first(where: { Self.name(of: $0) == registered.name }) {
                    listed.append(other)
                }
            }
            rows = listed
        }
    }

    static func name(of stage: any RowStage) -> String { type(of: stage).name }

    /// The lip_units stage, if listed (`--lip-units` sets it).
    public var lipUnits: LipUnitsStage? {
        get { self[row: LipUnitsStage.self] }
        set { self[row: LipUnitsStage.self] = newValue }
    }

    /// Reads the `stages:` list: one single-key mapping per stage (`- face: {chin_margin: 0.2}`),
    /// every registered item stage once and in registry order, then any row stages, each at
    /// most once and in `rowRegistry` order.
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
            let listedRows = rows.map(Self.name(of:))
            if all.count == Self.registry.count,
               let index = Self.rowRegistry.firstIndex(where: { $0.name == name }),
               listedRows.allSatisfy({ listed in Self.rowRegistry.firstIndex { $0.name == listed }! < index }) {
                let stage = try Self.rowRegistry[index].read(parameters, file: file, context: context)
                guard !stage.checkpoint.isEmpty else {
                    throw ManifestError(file, YAMLMapping.line(entry), "\(context): 'checkpoint' is required")
                }
                rows.append(stage)
                continue
            }
            guard all.count < Self.registry.count, name == Self.registry[all.count].name else {
                let order = Self.order + Self.rowRegistry.map { "[\($0.name)]" }
                throw ManifestError(file, YAMLMapping.line(entry),
                                    "stages: unexpected stage '\(name)' (the stages are \(order.joined(separator: ", ")), in this order)")
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
