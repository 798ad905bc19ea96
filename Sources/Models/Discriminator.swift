import NN
import Tensor

/// The L2F discriminator (SPEC §3): a conv stack on faces, one real/fake logit per image.
///   x [N, 3, S, S] in 0…1 → blocks.<i>: conv 4×4 s2 p1 (bias) → LeakyReLU 0.2, channels
///   c_0…c_{L−1}, side S / 2^L → out: conv k×k over the whole remaining map (k = S / 2^L) → [N]
/// No batch norm: real and fake batches go through separately and must not share statistics.
/// State-dict names: blocks.<i>.weight/bias, out.weight/bias.
public final class Discriminator: Module {
    public struct Config: Codable, Equatable, Sendable {
        public var channels = [16, 32, 64, 128, 128]
        public var imageSize = 128
        public var slope: Float = 0.2
        public init() {}
    }

    public let config: Config
    public let blocks: [Conv2d]
    public let out: Conv2d

    public init(_ config: Config = Config(), rng: inout RandomGenerator) {
        let side = config.imageSize >> config.channels.count
        precondition(!config.channels.isEmpty && side >= 1 && side << config.channels.count == config.imageSize,
                     "image size \(config.imageSize) is not divisible by 2^\(config.channels.count)")
        self.config = config
        var previous = 3
        blocks = config.channels.map { width in
            defer { previous = width }
            return Conv2d(previous, width, kernel: 4, stride: 2, padding: 1, rng: &rng)
        }
        out = Conv2d(config.channels.last!, 1, kernel: side, rng: &rng)
    }

    /// faces [N, 3, S, S] → logits [N]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && Array(x.shape.dropFirst()) == [3, config.imageSize, config.imageSize],
                     "discriminator input \(x.shape)")
        var h = x
        for conv in blocks { h = leakyRelu(conv(h), slope: config.slope) }
        return out(h).reshaped([x.shape[0]])
    }

    public var parameters: [(String, Tensor)] {
        blocks.enumerated().flatMap { prefixed("blocks.\($0.offset)", $0.element.parameters) }
            + prefixed("out", out.parameters)
    }
}
