import NN
import Tensor

/// The Lip-to-Face generator (SPEC §3): a U-Net over the 6-channel identity input, conditioned
/// at the bottleneck by each frame's 1024-d lip unit. All T frames of a window go through as a
/// batch (N = B·T).
///
///   x [N, 6, 128, 128]: a reference frame of the same clip (RGB, 0…1) ++ the target frame with
///                       rows 64…127 zeroed (the pose prior)
///   lip [N, 1024]
///   encoder: down_i = conv 3×3 s2 → BN → ReLU, channels c_0…c_{L−1}: e_i at 128 / 2^(i+1)
///   lip conditioning: lip → linear (no bias) → reshape to a [N, lipChannels, s, s] map (s = side
///                     of e_{L−1}) → BN → ReLU; concatenated with e_{L−1}, fused by conv 3×3 → BN
///                     → ReLU. The BN brings the lip signal to unit scale: lip units are
///                     non-negative unit vectors (components ≈ 0.006), and through the bare
///                     projection the map and its change between frames were ≈ 0.02, beside image
///                     features of order 1, a gap Adam at 1e-4 closes only very slowly.
///                     (A spatial map rather than FiLM: each bottleneck position gets its own
///                     projection of the lip unit, the way Wav2Lip joins its audio embedding.)
///   decoder: up_i (i = L−2…0): h = nearest ×2 → conv 3×3 → BN → ReLU to c_i, concat e_i (skip),
///            conv 3×3 → BN → ReLU to c_i (resize-conv: no checkerboard, unlike a 4×4 s2 convT)
///   head: the same block to c_0 at 128 with x as the skip, conv 1×1 → 6: a colour image
///         C = sigmoid(o_0…2), a blend mask α = sigmoid(o_3) [N, 1, S, S] and a flow o_4…5 (pixels)
///   r = the reference frame (channels 0…2 of x) warped by the flow (warpBilinear): the mouth of
///       the reference moves into the target's shape instead of being painted anew, which carries
///       over to faces the generator never saw (held-out mouth PSNR +0.3 dB, sync distance
///       1.016 → 0.976 on the 720-clip demo corpus)
///   g = α·r + (1 − α)·C: the generator can take skin, teeth and lighting straight from the
///       reference and paint only what differs (as GANimation blends its input with a colour map
///       through an attention mask)
///   out = the target's known upper half (rows 0…63 of x's channels 3…5) over g's lower half:
///         the generator paints only what the pose prior hides, so every parameter serves the
///         mouth and the visible half is reproduced exactly (as `cals dub` pastes only the lower half).
/// Checkpoints from before the flow have `warpsReference` nil: a 4-channel head and no warp.
/// State-dict names (Tests/TensorTests/golden/l2f_reference.py builds the same modules):
///   down.<i>.conv/bn, lip_proj.weight, lip_bn.*, fuse.conv/bn, up.<j>.up.*/up_bn.*/conv.*/bn.* (j = 0 is the
///   deepest), head.up.*/up_bn.*/conv.*/bn.*, out.*.
public final class Generator: Module {
    public struct Config: Codable, Equatable, Sendable {
        /// Encoder channels, one stride-2 level each (128 → 64 → … ).
        public var channels = [16, 32, 64, 128, 128]
        /// Channels of the lip-unit map joined at the bottleneck.
        public var lipChannels = 32
        public var lipDim = 1024
        public var imageSize = 128
        /// The output also gives a flow (2 channels, pixels) that warps the reference before the
        /// blend. nil (a checkpoint from before the option) is off.
        public var warpsReference: Bool? = true
        public init() {}

        var outputChannels: Int { warpsReference == true ? 6 : 4 }

        /// Side of the bottleneck map.
        public var bottleneckSide: Int { imageSize >> channels.count }
    }

    public static let inputChannels = 6

    public let config: Config
    public let down: [ConvBNReLU]
    public let lipProj: Linear, lipBN: BatchNorm2d
    public let fuse: ConvBNReLU
    public let up: [UpBlock]
    public let head: UpBlock
    public let out: Conv2d

    public init(_ config: Config = Config(), rng: inout RandomGenerator) {
        precondition(!config.channels.isEmpty && config.bottleneckSide >= 1
                     && config.bottleneckSide << config.channels.count == config.imageSize,
                     "image size \(config.imageSize) is not divisible by 2^\(config.channels.count)")
        self.config = config
        let c = config.channels, s = config.bottleneckSide
        var down: [ConvBNReLU] = []
        var previous = Self.inputChannels
        for width in c {
            down.append(ConvBNReLU(previous, width, stride: 2, residual: false, rng: &rng))
            previous = width
        }
        self.down = down
        lipProj = Linear(config.lipDim, config.lipChannels * s * s, bias: false, rng: &rng)
        lipBN = BatchNorm2d(config.lipChannels)
        fuse = ConvBNReLU(c[c.count - 1] + config.lipChannels, c[c.count - 1], stride: 1, residual: false, rng: &rng)
        up = stride(from: c.count - 2, through: 0, by: -1).map { i in
            UpBlock(c[i + 1], c[i], skip: c[i], rng: &rng)
        }
        head = UpBlock(c[0], c[0], skip: Self.inputChannels, rng: &rng)
        out = Conv2d(c[0], config.outputChannels, kernel: 1, rng: &rng)
    }

    /// x [N, 6, S, S], lip [N, lipDim] → faces [N, 3, S, S] in [0, 1]
    public func callAsFunction(_ x: Tensor, lip: Tensor, _ ctx: Context) -> Tensor {
        let n = x.shape[0], size = config.imageSize, s = config.bottleneckSide
        precondition(x.shape == [n, Self.inputChannels, size, size] && lip.shape == [n, config.lipDim],
                     "generator input \(x.shape) with lip units \(lip.shape)")
        var skips: [Tensor] = []
        var h = x
        for block in down { h = block(h, ctx); skips.append(h) }
        let lipMap = relu(lipBN(lipProj(lip).reshaped([n, config.lipChannels, s, s]), ctx))
        h = fuse(concat([h, lipMap], axis: 1), ctx)
        for (j, block) in up.enumerated() { h = block(h, skip: skips[skips.count - 2 - j], ctx) }
        let o = out(head(h, skip: x, ctx))                                                    // [N, 4 or 6, S, S]
        let colour = sigmoid(o.slice(axis: 1, 0..<3)), alpha = sigmoid(o.slice(axis: 1, 3..<4))
        let reference = config.warpsReference == true
            ? warpBilinear(x.slice(axis: 1, 0..<3), flow: o.slice(axis: 1, 4..<6)) : x.slice(axis: 1, 0..<3)
        let painted = colour + alpha * (reference - colour)
        return x.slice(axis: 1, 3..<6) * Self.rowMask(size: size, lower: false) + painted * Self.rowMask(size: size, lower: true)
    }

    /// [1, 1, S, 1] (broadcast over channels and columns): 1 on the rows of the lower half
    /// (S/2…S−1) or of the upper half, 0 elsewhere.
    static func rowMask(size: Int, lower: Bool) -> Tensor {
        Tensor(shape: [1, 1, size, 1], values: (0..<size).map { ($0 >= size / 2) == lower ? 1 : 0 })
    }

    public var parameters: [(String, Tensor)] {
        down.enumerated().flatMap { prefixed("down.\($0.offset)", $0.element.parameters) }
            + prefixed("lip_proj", lipProj.parameters) + prefixed("lip_bn", lipBN.parameters) + prefixed("fuse", fuse.parameters)
            + up.enumerated().flatMap { prefixed("up.\($0.offset)", $0.element.parameters) }
            + prefixed("head", head.parameters) + prefixed("out", out.parameters)
    }
    public var buffers: [(String, Tensor)] {
        down.enumerated().flatMap { prefixed("down.\($0.offset)", $0.element.buffers) }
            + prefixed("lip_bn", lipBN.buffers) + prefixed("fuse", fuse.buffers)
            + up.enumerated().flatMap { prefixed("up.\($0.offset)", $0.element.buffers) }
            + prefixed("head", head.buffers)
    }
}

/// One decoder level: nearest ×2 → conv 3×3 (padding 1, no bias) → BN → ReLU doubles the side
/// (the first two as one folded op, `upsampleConv3x3`), the skip is concatenated, conv 3×3 → BN →
/// ReLU mixes them.
///   x [N, inChannels, H, W], skip [N, skipChannels, 2H, 2W] → [N, outChannels, 2H, 2W]
public final class UpBlock: Module {
    public let up: Conv2d, upBN: BatchNorm2d
    public let mix: ConvBNReLU

    public init(_ inChannels: Int, _ outChannels: Int, skip skipChannels: Int, rng: inout RandomGenerator) {
        up = Conv2d(inChannels, outChannels, kernel: 3, padding: 1, bias: false, rng: &rng)
        upBN = BatchNorm2d(outChannels)
        mix = ConvBNReLU(outChannels + skipChannels, outChannels, stride: 1, residual: false, rng: &rng)
    }

    public func callAsFunction(_ x: Tensor, skip: Tensor, _ ctx: Context) -> Tensor {
        let h = relu(upBN(upsampleConv3x3(x, weight: up.weight), ctx))
        return mix(concat([h, skip], axis: 1), ctx)
    }

    public var parameters: [(String, Tensor)] {
        prefixed("up", up.parameters) + prefixed("up_bn", upBN.parameters) + mix.parameters
    }
    public var buffers: [(String, Tensor)] { prefixed("up_bn", upBN.buffers) + mix.buffers }
}

extension Generator {
    /// The identity input of one window: target frames [T, S, S, 3] uint8 and reference frames
    /// (same layout) → [T, 6, S, S] in 0…1: channels 0…2 the reference, 3…5 the target with its
    /// lower half (rows S/2…S−1) zeroed.
    public static func identityInput(target: UnsafeBufferPointer<UInt8>, reference: UnsafeBufferPointer<UInt8>,
                                     size: Int = 128) -> Tensor {
        precondition(reference.count == target.count, "identity input: \(reference.count) reference bytes for \(target.count) target bytes")
        return withoutGrad {
            hidingTargetLowerHalf(concat([imageTensor(reference, size: size), imageTensor(target, size: size)], axis: 1))
        }
    }

    /// pair [T, 6, S, S] (reference ++ whole target) → the identity input: the same with rows
    /// S/2…S−1 of channels 3…5 zeroed.
    public static func hidingTargetLowerHalf(_ pair: Tensor) -> Tensor {
        let size = pair.shape[2]
        precondition(pair.rank == 4 && pair.shape[1] == inputChannels, "pair \(pair.shape) is not [T, 6, S, S]")
        let mask = (0..<inputChannels).flatMap { ch in (0..<size).map { ch < 3 || $0 < size / 2 ? Float(1) : 0 } }
        return pair * Tensor(shape: [1, inputChannels, size, 1], values: mask)
    }

    /// Frames [T, S, S, 3] uint8 → [T, 3, S, S] in 0…1 (the L1 target and the discriminator's real input).
    public static func imageTensor(_ frames: UnsafeBufferPointer<UInt8>, size: Int = 128) -> Tensor {
        let frameBytes = size * size * 3, t = frames.count / frameBytes
        precondition(t > 0 && frames.count == t * frameBytes, "frames are not [T, \(size), \(size), 3]")
        let plane = size * size
        let out = Tensor(shape: [t, 3, size, size])
        out.withUnsafeMutableBufferPointer { outBuffer in
            let F = frames.baseAddress!, Y = outBuffer.baseAddress!
            parallelItems(t) { i in
                let dst = Y + i * 3 * plane, src = F + i * frameBytes
                for p in 0..<plane { for ch in 0..<3 { dst[ch * plane + p] = Float(src[3 * p + ch]) / 255 } }
            }
        }
        return out
    }
}

/// Faces [N, 3, S, S] in 0…1 → frames [N, S, S, 3] uint8 (rounded).
public func quantisedFrames(_ faces: Tensor) -> [UInt8] {
    let n = faces.shape[0], s = faces.shape[2], plane = s * s
    var out = [UInt8](repeating: 0, count: n * plane * 3)
    faces.withUnsafeBufferPointer { X in
        for i in 0..<n { for ch in 0..<3 { for p in 0..<plane {
            out[(i * plane + p) * 3 + ch] = UInt8(max(0, min(255, (X[(i * 3 + ch) * plane + p] * 255).rounded())))
        } } }
    }
    return out
}
