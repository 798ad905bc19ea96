import NN
import Tensor

/// The first stages of the L2F identity encoder (SPEC §3), used to benchmark and golden-test the
/// conv path: x [B, 6, 128, 128] → conv 3×3 s2 → BN → ReLU → [B, 32, 64, 64]
///                                → conv 3×3 s2 → BN → ReLU → [B, 64, 32, 32].
/// State-dict names: conv1.weight, bn1.*, conv2.weight, bn2.* (convs without bias: BN follows).
public final class ConvBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d

    public init(inChannels: Int = 6, rng: inout RandomGenerator) {
        conv1 = Conv2d(inChannels, 32, kernel: 3, stride: 2, padding: 1, bias: false, rng: &rng)
        bn1 = BatchNorm2d(32)
        conv2 = Conv2d(32, 64, kernel: 3, stride: 2, padding: 1, bias: false, rng: &rng)
        bn2 = BatchNorm2d(64)
    }

    public func callAsFunction(_ x: Tensor, _ ctx: Context) -> Tensor {
        relu(bn2(conv2(relu(bn1(conv1(x), ctx))), ctx))
    }

    public var parameters: [(String, Tensor)] {
        prefixed("conv1", conv1.parameters) + prefixed("bn1", bn1.parameters)
            + prefixed("conv2", conv2.parameters) + prefixed("bn2", bn2.parameters)
    }
    public var buffers: [(String, Tensor)] { prefixed("bn1", bn1.buffers) + prefixed("bn2", bn2.buffers) }
}
