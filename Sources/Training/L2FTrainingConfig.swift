import Foundation
import Models

/// Everything that defines an L2F training run; stored in its checkpoint so `--resume` continues
/// the same run. The fields that using the models needs are `use` (`L2FCheckpoint.Use`, read by
/// evaluation and dubbing), reached as the config's own (`config.frames`) and stored flat beside
/// the training fields in the same JSON.
@dynamicMemberLookup
public struct L2FTrainingConfig: Codable, Equatable {
    /// Where lip units come from (`--audio-encoder`).
    public typealias AudioEncoder = LipEncoder.Source

    public var use = L2FCheckpoint.Use()
    public var steps = 1000
    /// Windows per batch (each of `frames` consecutive frames of one clip; N = windows·frames).
    public var windows = 2
    public var learningRate: Float = 1e-4
    /// Adam learning rate of a fine-tuned A2L; nil: `learningRate` (and in checkpoints from before
    /// the option). A pretrained A2L's units are gone within 250 steps at the generator's 1e-3.
    public var a2lLearningRate: Float?
    public var checkpointEvery = 100
    /// Steps between real-vs-generated grids of the fixed held-out window.
    public var gridEvery = 100
    public var heldOutSpeakers: [String] = []
    public var seed: UInt64 = 1
    public var weights = L2FLossWeights()
    public var discriminator = Discriminator.Config()
    /// Per-window augmentation of the training reference and target frames; nil = none (and in
    /// checkpoints written before it existed).
    public var augmentation: ClipAugmentation? = ClipAugmentation()
    /// Global L2 norm the generator-side gradient is clipped to (L2FModels.clipNorm); 0: no
    /// clipping (and in checkpoints from before the option).
    public var clipNorm: Float = 1
    public init() {}

    public subscript<T>(dynamicMember field: WritableKeyPath<L2FCheckpoint.Use, T>) -> T {
        get { use[keyPath: field] }
        set { use[keyPath: field] = newValue }
    }

    public subscript<T>(dynamicMember field: KeyPath<L2FCheckpoint.Use, T>) -> T { use[keyPath: field] }

    enum CodingKeys: String, CodingKey {
        case steps, windows, learningRate, a2lLearningRate, checkpointEvery, gridEvery, heldOutSpeakers, seed, weights, discriminator,
             augmentation, clipNorm
    }

    public init(from decoder: Decoder) throws {
        use = try L2FCheckpoint.Use(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decode(Int.self, forKey: .steps)
        windows = try c.decode(Int.self, forKey: .windows)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        a2lLearningRate = try c.decodeIfPresent(Float.self, forKey: .a2lLearningRate)
        checkpointEvery = try c.decode(Int.self, forKey: .checkpointEvery)
        gridEvery = try c.decode(Int.self, forKey: .gridEvery)
        heldOutSpeakers = try c.decode([String].self, forKey: .heldOutSpeakers)
        seed = try c.decode(UInt64.self, forKey: .seed)
        weights = try c.decode(L2FLossWeights.self, forKey: .weights)
        discriminator = try c.decode(Discriminator.Config.self, forKey: .discriminator)
        augmentation = try c.decodeIfPresent(ClipAugmentation.self, forKey: .augmentation)
        clipNorm = try c.decode(Float.self, forKey: .clipNorm)
    }

    public func encode(to encoder: Encoder) throws {
        try use.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encode(windows, forKey: .windows)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encodeIfPresent(a2lLearningRate, forKey: .a2lLearningRate)
        try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(gridEvery, forKey: .gridEvery)
        try c.encode(heldOutSpeakers, forKey: .heldOutSpeakers)
        try c.encode(seed, forKey: .seed)
        try c.encode(weights, forKey: .weights)
        try c.encode(discriminator, forKey: .discriminator)
        try c.encodeIfPresent(augmentation, forKey: .augmentation)
        try c.encode(clipNorm, forKey: .clipNorm)
    }
}

extension L2FTrainingConfig: TrainingRunConfig {
    public static let stored = StoredConfig<Self>(.l2f)
}
