import NN
import Tensor

/// Audio-to-lip transformer (SPEC §3): audio units [B, T, 320] (80 mel × 4 sub-frames) →
/// linear d + sinusoidal positions → N pre-norm encoder layers → final layer norm → linear 1024.
/// State-dict names: input_proj.*, layers.<i>.*, norm.*, output_proj.* (the PyTorch reference in
/// Tests/TensorTests/golden/reference.py uses the same).
public final class A2L: Module {
    public struct Config: Codable, Equatable, Sendable {
        public var inputDim = 320, dim = 512, layers = 6, heads = 8, feedForward = 2048, outputDim = 1024
        public var dropout: Float = 0.1
        /// Receptive field of ±context frames (nil = everything): band masks split over the layers
        /// (`layerBands`), so that stacking layers does not widen it.
        public var context: Int? = nil
        public init() {}
    }

    public let config: Config
    public let inputProj: Linear
    public let layers: [TransformerEncoderLayer]
    public let norm: LayerNorm
    public let outputProj: Linear

    public init(_ config: Config = Config(), rng: inout RandomGenerator) {
        self.config = config
        inputProj = Linear(config.inputDim, config.dim, rng: &rng)
        layers = (0..<config.layers).map { _ in
            TransformerEncoderLayer(dim: config.dim, heads: config.heads, feedForward: config.feedForward,
                                    dropout: config.dropout, rng: &rng)
        }
        norm = LayerNorm(config.dim)
        outputProj = Linear(config.dim, config.outputDim, rng: &rng)
    }

    /// units [B, T, inputDim] → lip units [B, T, outputDim]; keyMask [B, T] marks real (1) vs
    /// padded (0) steps.
    public func callAsFunction(_ units: Tensor, keyMask: Tensor? = nil, _ ctx: Context) -> Tensor {
        precondition(units.rank == 3 && units.shape[2] == config.inputDim,
                     "A2L input \(units.shape) is not [B, T, \(config.inputDim)]")
        let positions = sinusoidalPositions(units.shape[1], config.dim)   // [T, d], broadcast over B
        var h = ctx.dropout(inputProj(units) + positions, p: config.dropout)
        let bands = Self.layerBands(context: config.context, layers: layers.count, frames: units.shape[1])
        for (layer, band) in zip(layers, bands) { h = layer(h, keyMask: keyMask, band: band, ctx) }
        return outputProj(norm(h))
    }

    /// The band of each layer for a receptive field of ±K frames: ⌈K/L⌉ per layer until K is used
    /// up (later layers attend to their own step only), since stacked bands add up (L layers of ±K
    /// would see ±L·K). Nil for every layer when K is nil or K ≥ T − 1 (every pair is in reach of
    /// one layer). K = 2 is then a true 0.2 s window whatever the depth.
    public static func layerBands(context: Int?, layers: Int, frames t: Int) -> [Int?] {
        guard let k = context, k < t - 1 else { return [Int?](repeating: nil, count: layers) }
        let each = (k + layers - 1) / layers
        return (0..<layers).map { min(each, max(0, k - $0 * each)) }
    }

    /// Mean squared error on the masked steps only (mask [B, T], 1 = masked and scored).
    public func loss(_ predicted: Tensor, _ target: Tensor, mask: Tensor) -> Tensor {
        maskedMSELoss(predicted, target, mask: mask)
    }

    public var parameters: [(String, Tensor)] {
        prefixed("input_proj", inputProj.parameters)
            + layers.enumerated().flatMap { prefixed("layers.\($0.offset)", $0.element.parameters) }
            + prefixed("norm", norm.parameters) + prefixed("output_proj", outputProj.parameters)
    }
}
