import Common
import Foundation
import NN
import Tensor

/// Where a trainer stores its run's config in a checkpoint's metadata: a kind tag, and the config
/// as JSON under `configKey`. Training writes and resumes the whole config; using a model (lip
/// units, sync scores, evaluation, dubbing) decodes only the part it needs from the same JSON.
///
/// The JSON is versioned (`versionKey`; JSON without it is version 1): a field added in a later
/// version reads, in older JSON, as the value that reproduces how those runs were trained.
public struct CheckpointKind: Sendable {
    public static let kindKey = "kind"
    public static let versionKey = "version"
    public let kind: String
    public let configKey: String
    /// The model's name in messages, with its article: "a sync encoder", "an A2L".
    public let name: (article: String, model: String)
    /// The version of the config JSON this code writes.
    public let version: Int
    /// The fields added after version 1: JSON key (`outer.inner` for a field of a nested object,
    /// filled in where that object is present), the version that added it, and its value (JSON)
    /// in older configs.
    public let addedFields: [(key: String, since: Int, old: String)]

    /// The clip augmentation's parts added after its first version: off in older configs.
    static let augmentationFields: [(key: String, since: Int, old: String)] = ["maxRotation", "zoom", "greyChance", "blurChance"].map { ("augmentation.\($0)", 2, "0") }
        + [("augmentation.maxBlur", 2, "1.5")]

    public static let syncEncoder = CheckpointKind(kind: "cals-sync-encoder", configKey: "sync_training_config",
                                                   name: ("a", "sync encoder"), version: 2,
                                                   addedFields: [("excludeNearOffsets", 2, "0"), ("cosineDecay", 2, "false")]
                                                       + augmentationFields)
    public static let a2l = CheckpointKind(kind: "cals-a2l", configKey: "a2l_training_config", name: ("an", "A2L"),
                                           version: 2, addedFields: [("scoredSteps", 2, "\"masked\"")])
    public static let l2f = CheckpointKind(kind: "cals-l2f", configKey: "l2f_training_config", name: ("an", "L2F"), version: 2,
                                           addedFields: [("alignReferences", 2, "false"), ("audioContext", 2, "0"), ("clipNorm", 2, "0")]
                                               + augmentationFields)

    /// The config (or the part of it that `T` declares) in the `metadata` of the checkpoint at
    /// `path`, older versions with the old values of the fields added since.
    public func decode<T: Decodable>(_ type: T.Type, from metadata: [String: String], path: String) throws -> T {
        guard metadata[Self.kindKey] == kind, let json = metadata[configKey] else {
            throw InputError(path, "not \(name.article) \(name.model) checkpoint (no '\(kind)' metadata)")
        }
        do { return try JSONDecoder().decode(T.self, from: try upgraded(json, path: path)) } catch let error as InputError {
            throw error
        } catch {
            throw InputError(path, "unreadable \(name.model) config in the metadata: \(error)")
        }
    }

    /// `json` with this kind's version, and the old values of the fields added after its own version.
    func upgraded(_ json: String, path: String) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw InputError(path, "the \(name.model) config in the metadata is not a JSON object")
        }
        let stored = object[Self.versionKey].map { $0 as? Int } ?? 1
        guard let stored, stored >= 1, stored <= version else {
            throw InputError(path, "\(name.model) config version \(object[Self.versionKey] ?? "?") is not one this cals reads (1…\(version))")
        }
        for field in addedFields where field.since > stored {
            let old = try JSONSerialization.jsonObject(with: Data(field.old.utf8), options: .fragmentsAllowed)
            Self.fill(&object, field.key.split(separator: "."), with: old)
        }
        object[Self.versionKey] = version
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// Sets the field at `path` in `object` to `value` when it is absent and its parent objects are present.
    static func fill(_ object: inout [String: Any], _ path: [Substring], with value: Any) {
        let key = String(path[0])
        if path.count == 1 {
            if object[key] == nil { object[key] = value }
        } else if var inner = object[key] as? [String: Any] {
            fill(&inner, Array(path.dropFirst()), with: value)
            object[key] = inner
        }
    }

    /// `config` as the JSON stored under `configKey`: sorted keys, with this kind's version.
    public func encode<T: Encodable>(_ config: T) throws -> String {
        guard var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(config)) as? [String: Any] else {
            preconditionFailure("\(T.self) does not encode as a JSON object")
        }
        object[Self.versionKey] = version
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

/// The `model` field of a sync-encoder or A2L run config.
private struct StoredModel<Config: Decodable>: Decodable {
    var model: Config
}

extension SyncEncoder {
    /// The model of a sync-encoder checkpoint (`cals train sync`), for inference (eval mode uses
    /// the BN running statistics).
    public static func load(checkpoint path: String) throws -> SyncEncoder {
        let (tensors, metadata) = try Safetensors.read(path)
        let config = try CheckpointKind.syncEncoder.decode(StoredModel<Config>.self, from: metadata, path: path).model
        var rng = RandomGenerator(seed: 0)
        let model = SyncEncoder(config, rng: &rng)
        try Checkpoint.copy(tensors, into: model.stateDict, path: path)
        return model
    }
}

extension A2L {
    /// The model of the A2L checkpoint at `path` (`cals train a2l`), read as `tensors` and `metadata`.
    public static func load(_ tensors: [String: Tensor], _ metadata: [String: String], path: String) throws -> A2L {
        let config = try CheckpointKind.a2l.decode(StoredModel<Config>.self, from: metadata, path: path).model
        var rng = RandomGenerator(seed: 0)
        let model = A2L(config, rng: &rng)
        try Checkpoint.copy(tensors, into: model.stateDict, path: path)
        return model
    }
}

/// A trained L2F (`cals train l2f`) as evaluation and dubbing use it: the generator and lip
/// encoder of its checkpoint, and the part of the run's config that using them needs.
public enum L2FCheckpoint {
    /// The part of an L2F run's config that using its models needs: the one definition of these
    /// fields, which `Training.L2FTrainingConfig` holds (flat in the same JSON).
    public struct Use: Codable, Equatable, Sendable {
        /// Frames T per window.
        public var frames = 5
        public var generator = Generator.Config()
        /// Where lip units come from (`--audio-encoder`).
        public var audioEncoder = LipEncoder.Source.a2l
        /// A2L stays as loaded (no gradient, not in the optimiser).
        public var freezeA2L = false
        /// The A2L architecture (from its checkpoint) when audioEncoder == .a2l.
        public var a2l: A2L.Config?
        /// The window audio encoder (the sync encoder's audio stream architecture) otherwise.
        public var windowEncoder: SyncEncoder.Config?
        /// Audio units on each side of a window that the lip encoder sees (fewer at the ends of a
        /// clip): A2L reads all T + 2·context, the window encoder ±2 around each frame. 13 gives A2L
        /// 31 units with T = 5, the length it is pretrained on. 0 (checkpoints from before the
        /// option): each window's own units, edges repeated.
        public var audioContext = 13
        /// Move each reference frame onto its target frame (ReferenceAlignment) before the
        /// generator sees it (false in checkpoints written before the option).
        public var alignReferences = true
        public init() {}

        /// The lip encoder of the run.
        public var lipEncoder: LipEncoder.Config {
            LipEncoder.Config(source: audioEncoder, a2l: a2l, windowEncoder: windowEncoder, lipDim: generator.lipDim, frozen: freezeA2L)
        }
    }

    /// What the generator's optimiser trains (and its moving average holds): the generator's
    /// parameters and the lip encoder's trainable ones under `lip.<name>`.
    public static func generatorSide(_ generator: Generator, lipParameters: [(String, Tensor)]) -> [(String, Tensor)] {
        generator.parameters + prefixed("lip", lipParameters)
    }

    /// Copies the `average.*` tensors into `targets` when the checkpoint has them all; false when
    /// it has none (written before the average existed); a partial set is a missing-tensor error.
    public static func copyAverage(_ tensors: [String: Tensor], into targets: [(String, Tensor)], path: String) throws -> Bool {
        guard targets.contains(where: { tensors[$0.0] != nil }) else { return false }
        try Checkpoint.copy(tensors, into: targets, path: path)
        return true
    }

    /// Generator and lip encoder of the checkpoint at `path`: their last weights, or with
    /// `averaged` their moving average where the checkpoint holds one (BN statistics are the last
    /// weights').
    public static func load(_ path: String, averaged: Bool = false) throws -> (config: Use, generator: Generator, lip: LipEncoder) {
        let (tensors, metadata) = try Safetensors.read(path)
        let config = try CheckpointKind.l2f.decode(Use.self, from: metadata, path: path)
        var rng = RandomGenerator(seed: 0)
        let generator = Generator(config.generator, rng: &rng), lip = LipEncoder(config.lipEncoder, rng: &rng)
        try Checkpoint.copy(tensors, into: prefixed("generator", generator.stateDict) + prefixed("lip", lip.stateDict), path: path)
        if averaged {
            _ = try copyAverage(tensors, into: prefixed("average", generatorSide(generator, lipParameters: lip.trainedParameters)),
                                path: path)
        }
        return (config, generator, lip)
    }
}
