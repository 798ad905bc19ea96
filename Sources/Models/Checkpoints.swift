import Common
import Foundation
import NN
import Tensor

/// Where a trainer stores its run's config in a checkpoint's metadata: a kind tag, and the config
/// as JSON under `configKey`. Training writes and resumes the whole config; using a model (lip
/// units, sync scores, evaluation, dubbing) decodes only the part it needs from the same JSON.
public struct CheckpointKind: Sendable {
    public static let kindKey = "kind"
    public let kind: String
    public let configKey: String
    /// The model's name in messages, with its article: "a sync encoder", "an A2L".
    public let name: (article: String, model: String)

    public static let syncEncoder = CheckpointKind(kind: "cals-sync-encoder", configKey: "sync_training_config",
                                                   name: ("a", "sync encoder"))
    public static let a2l = CheckpointKind(kind: "cals-a2l", configKey: "a2l_training_config", name: ("an", "A2L"))
    public static let l2f = CheckpointKind(kind: "cals-l2f", configKey: "l2f_training_config", name: ("an", "L2F"))

    /// The config (or the part of it that `T` declares) in the `metadata` of the checkpoint at `path`.
    public func decode<T: Decodable>(_ type: T.Type, from metadata: [String: String], path: String) throws -> T {
        guard metadata[Self.kindKey] == kind, let json = metadata[configKey] else {
            throw InputError(path, "not \(name.article) \(name.model) checkpoint (no '\(kind)' metadata)")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(json.utf8)) } catch {
            throw InputError(path, "unreadable \(name.model) config in the metadata: \(error)")
        }
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
    /// The fields of an L2F run's config (`Training.L2FTrainingConfig`, the same JSON) that
    /// using its models needs; the optional ones are absent from checkpoints written before them.
    public struct Use: Decodable, Equatable {
        /// Frames T per window.
        public var frames: Int
        public var generator: Generator.Config
        var audioEncoder: LipEncoder.Source
        var freezeA2L: Bool
        var a2l: A2L.Config?
        var windowEncoder: SyncEncoder.Config?
        var audioContext: Int?
        var alignReferences: Bool?

        /// Audio units on each side of a window the lip encoder sees (0 before the option).
        public var audioContextUnits: Int { audioContext ?? 0 }
        /// Whether each reference frame is moved onto its target frame before the generator sees it.
        public var alignsReferences: Bool { alignReferences == true }
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
