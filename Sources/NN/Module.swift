import Tensor

/// What a forward pass needs besides its input: train or eval mode, and the random generator
/// that draws dropout keys (saved in checkpoints so a resumed run draws the same ones).
public final class Context {
    public var training: Bool
    public var rng: RandomGenerator
    /// Sync batch norm in a data-parallel run: batch statistics summed over the processes in
    /// training mode (nil: this process's batch alone).
    public var batchStatistics: (any BatchStatisticsSum)?
    /// Where this process's samples sit in the global batch (a data-parallel rank's share), so
    /// dropout masks follow the sample, not the process.
    public var batchPositions = BatchPositions.whole

    public init(training: Bool = true, seed: UInt64 = 0) {
        self.training = training
        rng = RandomGenerator(seed: seed)
    }

    /// Inverted dropout in training mode (identity in eval mode or when p = 0).
    public func dropout(_ x: Tensor, p: Float) -> Tensor {
        training && p > 0 ? x.dropout(p: p, key: rng.next(), positions: batchPositions) : x
    }

    /// A fresh dropout key in training mode, nil otherwise.
    public func dropoutKey(p: Float) -> UInt64? { training && p > 0 ? rng.next() : nil }

    /// `body(s)` for each sample s of this process's share, run one sample at a time (a model whose
    /// samples differ in length) with dropout keys of the sample's own: drawn from a generator
    /// seeded by one key of the batch and the sample's place in the global batch (`batchPositions`),
    /// so a sample gets the same masks whichever process holds it (each process draws the one batch
    /// key, not keys for the samples of the others). Inside `body` the sample is a batch of one.
    public func mapSamples<T>(_ count: Int, dropout p: Float, _ body: (Int) -> T) -> [T] {
        guard let batchKey = dropoutKey(p: p) else { return (0..<count).map(body) }
        let (positions, after) = (batchPositions, rng)
        defer { (batchPositions, rng) = (positions, after) }
        batchPositions = .whole
        return (0..<count).map { s in
            rng = RandomGenerator(seed: batchKey &+ UInt64(positions.first + s * positions.stride))
            return body(s)
        }
    }
}

/// A layer or model: its tensors by PyTorch state-dict name (dotted, e.g. `layers.0.norm1.weight`).
public protocol Module: AnyObject {
    /// Trainable tensors (requiresGrad), in a fixed order.
    var parameters: [(String, Tensor)] { get }
    /// Non-trainable state saved with the weights (batch-norm running statistics).
    var buffers: [(String, Tensor)] { get }
}

extension Module {
    public var buffers: [(String, Tensor)] { [] }
    /// Parameters then buffers: everything a checkpoint holds for this module.
    public var stateDict: [(String, Tensor)] { parameters + buffers }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.1.count } }
    public func zeroGrad() { for (_, p) in parameters { p.zeroGrad() } }
}

/// Prefixes child names: ("norm1", [("weight", w)]) → [("norm1.weight", w)].
public func prefixed(_ prefix: String, _ items: [(String, Tensor)]) -> [(String, Tensor)] {
    items.map { ("\(prefix).\($0.0)", $0.1) }
}

/// A trainable tensor.
func parameter(_ t: Tensor) -> Tensor {
    t.requiresGrad = true
    return t
}
