import NN
import Tensor

/// The two-stream sync encoder (SPEC §3). Both streams are stacks of conv 3×3 → BN → ReLU blocks
/// (the first of each stage strided, optional stride-1 residual blocks after it), flattened into a
/// linear layer → ReLU → L2 normalisation, so embeddings are non-negative unit vectors and a dot
/// product is a cosine similarity.
///   visual: 5 lower-half crops [B, 15, 64, 128] (RGB of frame k in channels 3k…3k+2, 0…1)
///   audio:  mel of 0.2 s       [B, 1, 80, 20]   (5 audio units of 80×4 side by side)
/// State-dict names (Tests/TrainingTests/golden/sync_reference.py builds the same modules):
///   visual.blocks.<i>.conv.weight, visual.blocks.<i>.bn.*, visual.fc.*, and audio.… alike.
public final class SyncEncoder: Module {
    public struct Config: Codable, Equatable, Sendable {
        /// Output channels of each stage of the visual stream (one strided block per stage).
        public var visualChannels = [16, 32, 64, 96, 128]
        public var visualStrides = [2, 2, 2, 2, 2]
        public var audioChannels = [16, 32, 64, 96, 128]
        public var audioStrides = [2, 2, 2, 2, 2]
        /// Stride-1 residual blocks after each stage from this index on (where the maps are small
        /// and the blocks cheap); nil = none.
        public var residualFrom: Int? = 3
        public var outputDim = 1024
        public init() {}

        /// The same stages with every width multiplied by `factor` (rounded, at least 1).
        public func scaled(_ factor: Double) -> Config {
            var c = self
            c.visualChannels = visualChannels.map { max(1, Int((Double($0) * factor).rounded())) }
            c.audioChannels = audioChannels.map { max(1, Int((Double($0) * factor).rounded())) }
            return c
        }
    }

    public static let windowFrames = 5                  // video frames (and audio units) per window
    public static let cropHeight = 64, cropWidth = 128
    public static let visualShape = [3 * windowFrames, cropHeight, cropWidth]
    public static let audioShape = [1, 80, 4 * windowFrames]

    public let config: Config
    public let visual: SyncStream, audio: SyncStream

    public init(_ config: Config = Config(), rng: inout RandomGenerator) {
        precondition(config.visualChannels.count == config.visualStrides.count
                     && config.audioChannels.count == config.audioStrides.count, "one stride per stage")
        self.config = config
        visual = SyncStream(input: Self.visualShape, channels: config.visualChannels, strides: config.visualStrides,
                            residualFrom: config.residualFrom, outputDim: config.outputDim, rng: &rng)
        audio = SyncStream(input: Self.audioShape, channels: config.audioChannels, strides: config.audioStrides,
                           residualFrom: config.residualFrom, outputDim: config.outputDim, rng: &rng)
    }

    /// [B, 15, 64, 128] → unit vectors [B, outputDim]
    public func embedVisual(_ x: Tensor, _ ctx: Context) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == Self.visualShape, "visual input \(x.shape) is not [B, 15, 64, 128]")
        return visual(x, ctx)
    }

    /// [B, 1, 80, 20] → unit vectors [B, outputDim]
    public func embedAudio(_ x: Tensor, _ ctx: Context) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == Self.audioShape, "audio input \(x.shape) is not [B, 1, 80, 20]")
        return audio(x, ctx)
    }

    public var parameters: [(String, Tensor)] { prefixed("visual", visual.parameters) + prefixed("audio", audio.parameters) }
    public var buffers: [(String, Tensor)] { prefixed("visual", visual.buffers) + prefixed("audio", audio.buffers) }
}

/// Multi-way matching loss. video [N, D] and audio [C, V + 2M, D] are unit embeddings: clip c
/// contributes V video windows with consecutive centres t0…t0+V−1 (rows c·V …) and the audio
/// windows centred on t0−M … t0+V−1+M. Video window v of clip c is matched against the audio
/// windows at offsets k ∈ −M…M (audio row v + M + k), leaving out 0 < |k| ≤ `excludingNear`:
///   logits[n, i] = cos(video_n, audio_{c, v+M+k_i}) / temperature,   target i: k_i = 0
///   loss = mean_n cross-entropy(logits_n, target)
/// Excluding near offsets stops the loss from pushing the embeddings of windows one or two
/// frames apart away from each other. Returns the loss, the logits (for accuracy) and the target.
public func syncMatchingLoss(video: Tensor, audio: Tensor, offsets m: Int, temperature: Float,
                             excludingNear near: Int = 0) -> (loss: Tensor, logits: Tensor, target: Int) {
    let c = audio.shape[0], d = audio.shape[2], v = audio.shape[1] - 2 * m
    precondition(audio.rank == 3 && v > 0 && video.shape == [c * v, d] && near >= 0 && near < m,
                 "matching loss of video \(video.shape) with audio \(audio.shape), ±\(m) without ±\(near)")
    // audio rows (relative to v) of the kept offsets −M…−near−1, 0, near+1…M
    let kept = [0..<(m - near), m..<(m + 1), (m + near + 1)..<(2 * m + 1)]
    let k = 2 * (m - near) + 1
    // candidates [C, V·K, D] → [N, K, D]: row (c, v, i) = audio[c, v + kept_i]
    let candidates = concat((0..<v).flatMap { w in kept.map { audio.slice(axis: 1, (w + $0.lowerBound)..<(w + $0.upperBound)) } },
                            axis: 1).reshaped([c * v, k, d])
    let cosines = matmul(candidates, video.reshaped([c * v, d, 1])).reshaped([c * v, k])   // unit vectors: dot = cos
    let logits = cosines * (1 / temperature)
    let target = m - near
    return (crossEntropyLoss(logits, labels: [Int](repeating: target, count: c * v)), logits, target)
}

/// One stream: stages of [conv 3×3 (stride s) → BN → ReLU] (+ a residual block), flatten,
/// linear → ReLU → L2 normalisation.
public final class SyncStream: Module {
    public let blocks: [ConvBNReLU]
    public let fc: Linear

    init(input: [Int], channels: [Int], strides: [Int], residualFrom: Int?, outputDim: Int, rng: inout RandomGenerator) {
        var blocks: [ConvBNReLU] = []
        var (c, h, w) = (input[0], input[1], input[2])
        for (stage, (out, s)) in zip(channels, strides).enumerated() {
            blocks.append(ConvBNReLU(c, out, stride: s, residual: false, rng: &rng))
            (c, h, w) = (out, (h - 1) / s + 1, (w - 1) / s + 1)   // 3×3, padding 1
            if let r = residualFrom, stage >= r { blocks.append(ConvBNReLU(c, c, stride: 1, residual: true, rng: &rng)) }
        }
        self.blocks = blocks
        fc = Linear(c * h * w, outputDim, rng: &rng)
    }

    /// [B, C, H, W] → [B, outputDim], non-negative, unit length
    public func callAsFunction(_ x: Tensor, _ ctx: Context) -> Tensor {
        var h = x
        for block in blocks { h = block(h, ctx) }
        return l2Normalized(relu(fc(h.reshaped([x.shape[0], -1]))))
    }

    public var parameters: [(String, Tensor)] {
        blocks.enumerated().flatMap { prefixed("blocks.\($0.offset)", $0.element.parameters) } + prefixed("fc", fc.parameters)
    }
    public var buffers: [(String, Tensor)] {
        blocks.enumerated().flatMap { prefixed("blocks.\($0.offset)", $0.element.buffers) }
    }
}

/// conv 3×3 (padding 1, no bias) → BN → ReLU; residual: ReLU(BN(conv(x)) + x) (Wav2Lip's SyncNet block).
public final class ConvBNReLU: Module {
    public let conv: Conv2d, bn: BatchNorm2d
    public let residual: Bool

    init(_ inChannels: Int, _ outChannels: Int, stride: Int, residual: Bool, rng: inout RandomGenerator) {
        conv = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng)
        bn = BatchNorm2d(outChannels)
        self.residual = residual
    }

    public func callAsFunction(_ x: Tensor, _ ctx: Context) -> Tensor {
        let y = bn(conv(x), ctx)
        return relu(residual ? y + x : y)
    }

    public var parameters: [(String, Tensor)] { prefixed("conv", conv.parameters) + prefixed("bn", bn.parameters) }
    public var buffers: [(String, Tensor)] { prefixed("bn", bn.buffers) }
}

// MARK: - Inputs from shard rows

extension SyncEncoder {
    /// Visual windows centred on `centres`: frames [T, 128, 128, 3] uint8 → [W, 15, 64, 128] in
    /// 0…1, the lower half (rows 64…127) of frames c−2 … c+2, RGB of frame k in channels 3k…3k+2.
    /// Frame indices outside 0..<T repeat the edge frame.
    public static func visualInput(frames: UnsafeBufferPointer<UInt8>, centres: [Int]) -> Tensor {
        let size = 128, frameBytes = size * size * 3, t = frames.count / frameBytes
        precondition(t > 0 && frames.count == t * frameBytes, "frames are not [T, 128, 128, 3]")
        let plane = cropHeight * cropWidth, windowSize = 3 * windowFrames * plane
        let out = Tensor(shape: [centres.count] + visualShape)
        out.withUnsafeMutableBufferPointer { outBuffer in
            let F = frames.baseAddress!, Y = outBuffer.baseAddress!
            parallelItems(centres.count * windowFrames) { wk in
                let (w, k) = (wk / windowFrames, wk % windowFrames)
                let f = min(max(centres[w] - 2 + k, 0), t - 1)
                let src = F + f * frameBytes + (size - cropHeight) * size * 3     // lower half
                let dst = Y + w * windowSize + 3 * k * plane
                for i in 0..<plane {
                    dst[i] = Float(src[3 * i]) / 255
                    dst[plane + i] = Float(src[3 * i + 1]) / 255
                    dst[2 * plane + i] = Float(src[3 * i + 2]) / 255
                }
            }
        }
        return out
    }

    /// Audio windows centred on `centres`: mel units [T, 80, 4] → [W, 1, 80, 20], units c−2 … c+2
    /// side by side in time. Unit indices outside 0..<T repeat the edge unit.
    public static func audioInput(mel: UnsafeBufferPointer<Float>, centres: [Int]) -> Tensor {
        let bins = 80, sub = 4, unitSize = bins * sub, t = mel.count / unitSize
        precondition(t > 0 && mel.count == t * unitSize, "mel is not [T, 80, 4]")
        let width = sub * windowFrames
        let out = Tensor(shape: [centres.count] + audioShape)
        out.withUnsafeMutableBufferPointer { outBuffer in
            let M = mel.baseAddress!, Y = outBuffer.baseAddress!
            parallelItems(centres.count) { w in
                let dst = Y + w * bins * width
                for k in 0..<windowFrames {
                    let u = M + min(max(centres[w] - 2 + k, 0), t - 1) * unitSize
                    for b in 0..<bins { for j in 0..<sub { dst[b * width + sub * k + j] = u[b * sub + j] } }
                }
            }
        }
        return out
    }
}

/// Visual embeddings (eval mode) of the windows centred on `centres`: [centres.count, D] flat.
public func embedVisualInChunks(_ model: SyncEncoder, frames: UnsafeBufferPointer<UInt8>, centres: [Int], chunk: Int) -> [Float] {
    let ctx = Context(training: false)
    return embedInChunks(centres, chunk) { model.embedVisual(SyncEncoder.visualInput(frames: frames, centres: $0), ctx) }
}

/// Runs `embed` on `centres` in chunks without recording gradients: [centres.count, D] flat.
public func embedInChunks(_ centres: [Int], _ chunk: Int, _ embed: ([Int]) -> Tensor) -> [Float] {
    var out: [Float] = []
    withoutGrad {
        for start in stride(from: 0, to: centres.count, by: chunk) {
            out += embed(Array(centres[start..<min(start + chunk, centres.count)])).values
        }
    }
    return out
}
