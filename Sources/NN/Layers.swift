import Tensor

// Layers named and initialised like their PyTorch counterparts, so state dicts map 1:1.

/// nn.Linear: y = x Wᵀ + b; weight [out, in], bias [out], both U(±1/√in).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = parameter(Tensor(randomUniform: [outFeatures, inFeatures], bound: bound, rng: &rng))
        self.bias = bias ? parameter(Tensor(randomUniform: [outFeatures], bound: bound, rng: &rng)) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    public var parameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}

/// nn.LayerNorm over the last dimension; weight 1, bias 0.
public final class LayerNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = parameter(Tensor(shape: [dim], filledWith: 1))
        bias = parameter(Tensor(shape: [dim], zeroed: true))
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }

    public var parameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// nn.BatchNorm2d with running statistics (momentum 0.1).
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor
    public let momentum: Float, eps: Float

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = parameter(Tensor(shape: [channels], filledWith: 1))
        bias = parameter(Tensor(shape: [channels], zeroed: true))
        runningMean = Tensor(shape: [channels], zeroed: true)
        runningVar = Tensor(shape: [channels], filledWith: 1)
        self.momentum = momentum
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, _ ctx: Context) -> Tensor {
        batchNorm2d(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                    training: ctx.training, momentum: momentum, eps: eps, across: ctx.batchStatistics)
    }

    public var parameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public var buffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }
}

/// nn.Conv2d (square kernel); weight [out, in, k, k] and bias U(±1/√(in·k²)).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = parameter(Tensor(randomUniform: [outChannels, inChannels, kernel, kernel], bound: bound, rng: &rng))
        self.bias = bias ? parameter(Tensor(randomUniform: [outChannels], bound: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public var parameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}

/// nn.MultiheadAttention (self-attention, batch_first): packed in_proj [3d, d] (Xavier-uniform
/// weight, zero bias) → heads → out_proj (zero bias).
public final class MultiheadAttention: Module {
    public let inProjWeight: Tensor, inProjBias: Tensor
    public let outProj: Linear
    public let heads: Int, dropout: Float

    public init(_ dim: Int, heads: Int, dropout: Float = 0, rng: inout RandomGenerator) {
        precondition(dim % heads == 0, "model dimension \(dim) not divisible by \(heads) heads")
        let xavier = (6 / Float(dim + 3 * dim)).squareRoot()
        inProjWeight = parameter(Tensor(randomUniform: [3 * dim, dim], bound: xavier, rng: &rng))
        inProjBias = parameter(Tensor(shape: [3 * dim], zeroed: true))
        outProj = Linear(dim, dim, rng: &rng)
        outProj.bias!.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        self.heads = heads
        self.dropout = dropout
    }

    /// x [B, T, d] → [B, T, d]. keyMask [B, T] (0 = padding key), band K (|i − j| ≤ K).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor? = nil, band: Int? = nil, _ ctx: Context) -> Tensor {
        let qkv = linear(x, weight: inProjWeight, bias: inProjBias)   // [B, T, 3d]
        let key = ctx.dropoutKey(p: dropout)
        let heads = multiHeadAttention(qkv, heads: self.heads, keyMask: keyMask, band: band,
                                       dropout: key == nil ? 0 : dropout, dropoutKey: key ?? 0, dropoutPositions: ctx.batchPositions)
        return outProj(heads)
    }

    public var parameters: [(String, Tensor)] {
        [("in_proj_weight", inProjWeight), ("in_proj_bias", inProjBias)] + prefixed("out_proj", outProj.parameters)
    }
}

/// nn.TransformerEncoderLayer(norm_first=True, activation="gelu", batch_first=True):
///   x = x + dropout(attn(norm1(x)))
///   x = x + dropout(linear2(dropout(gelu(linear1(norm2(x))))))
public final class TransformerEncoderLayer: Module {
    public let selfAttn: MultiheadAttention
    public let linear1: Linear, linear2: Linear
    public let norm1: LayerNorm, norm2: LayerNorm
    public let dropout: Float

    public init(dim: Int, heads: Int, feedForward: Int, dropout: Float, rng: inout RandomGenerator) {
        selfAttn = MultiheadAttention(dim, heads: heads, dropout: dropout, rng: &rng)
        linear1 = Linear(dim, feedForward, rng: &rng)
        linear2 = Linear(feedForward, dim, rng: &rng)
        norm1 = LayerNorm(dim)
        norm2 = LayerNorm(dim)
        self.dropout = dropout
    }

    /// x [B, T, d] → [B, T, d]
    public func callAsFunction(_ x: Tensor, keyMask: Tensor? = nil, band: Int? = nil, _ ctx: Context) -> Tensor {
        let a = x + ctx.dropout(selfAttn(norm1(x), keyMask: keyMask, band: band, ctx), p: dropout)
        let h = ctx.dropout(gelu(linear1(norm2(a))), p: dropout)
        return a + ctx.dropout(linear2(h), p: dropout)
    }

    public var parameters: [(String, Tensor)] {
        prefixed("self_attn", selfAttn.parameters) + prefixed("linear1", linear1.parameters)
            + prefixed("linear2", linear2.parameters) + prefixed("norm1", norm1.parameters)
            + prefixed("norm2", norm2.parameters)
    }
}
