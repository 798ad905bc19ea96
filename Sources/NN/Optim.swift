import Foundation
import Tensor

/// torch.optim.Adam (not AdamW: weight decay is added to the gradient), per parameter p with
/// gradient g at step t:
///   g ← g + λ·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
///   p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
/// Parameters without a gradient this step are skipped (and their moments left alone).
public final class Adam {
    public let parameters: [(String, Tensor)]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// First and second moments, by parameter (same order as `parameters`).
    public let m: [Tensor], v: [Tensor]
    /// Steps taken so far.
    public var step = 0
    /// Each parameter's learning rate as a multiple of `learningRate` (same order as
    /// `parameters`; all 1 unless set): one optimiser for parts trained at different rates.
    public var rateScales: [Float]

    public init(_ parameters: [(String, Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9,
                beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = parameters.map { Tensor(shape: $0.1.shape, zeroed: true) }
        v = parameters.map { Tensor(shape: $0.1.shape, zeroed: true) }
        rateScales = [Float](repeating: 1, count: parameters.count)
    }

    /// One update of every parameter that has a gradient.
    public func update() {
        step += 1
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let stepSize = learningRate / bc1, bc2Root = bc2.squareRoot()
        let (b1, b2, eps, wd) = (beta1, beta2, self.eps, weightDecay)
        // All parameters' elements as one range split across threads (one concurrentPerform per
        // step, not one per parameter); each thread updates the parts of parameters in its range.
        let active = parameters.indices.filter { parameters[$0].1.grad != nil }
        var starts: [Int] = []
        var total = 0
        for i in active { starts.append(total); total += parameters[i].1.count }
        parallelRanges(total) { range in
            for (i, start) in zip(active, starts) {
                let lo = max(range.lowerBound, start) - start, hi = min(range.upperBound, start + parameters[i].1.count) - start
                guard lo < hi else { continue }
                let param = parameters[i].1, stepSize = stepSize * rateScales[i]
                param.withUnsafeMutableBufferPointer { pBuffer in param.grad!.withUnsafeBufferPointer { gBuffer in
                m[i].withUnsafeMutableBufferPointer { mBuffer in v[i].withUnsafeMutableBufferPointer { vBuffer in
                let P = pBuffer.baseAddress!, G = gBuffer.baseAddress!, M = mBuffer.baseAddress!, V = vBuffer.baseAddress!
                // Four elements at a time (the last group zero-padded: it updates to 0 and is
                // not stored back).
                for j in stride(from: lo, to: hi, by: 4) {
                    let lanes = min(4, hi - j)
                    let p = load4(P + j, lanes), g = load4(G + j, lanes) + wd * p
                    let m = b1 * load4(M + j, lanes) + (1 - b1) * g
                    let v = b2 * load4(V + j, lanes) + (1 - b2) * g * g
                    store4(m, M + j, lanes)
                    store4(v, V + j, lanes)
                    store4(p - stepSize * m / (squareRoot(v) / bc2Root + eps), P + j, lanes)
                }
                } } } }
            }
        }
    }

    public func zeroGrad() { for (_, p) in parameters { p.zeroGrad() } }

    /// The first `lanes` (≤ 4) floats at x, zero-padded.
    @inline(__always)
    private func load4(_ x: UnsafePointer<Float>, _ lanes: Int) -> SIMD4<Float> {
        if lanes == 4 { return UnsafeRawPointer(x).loadUnaligned(as: SIMD4<Float>.self) }
        var v = SIMD4<Float>()
        for k in 0..<lanes { v[k] = x[k] }
        return v
    }

    /// Stores the first `lanes` (≤ 4) floats of v at x.
    @inline(__always)
    private func store4(_ v: SIMD4<Float>, _ x: UnsafeMutablePointer<Float>, _ lanes: Int) {
        if lanes == 4 { UnsafeMutableRawPointer(x).storeBytes(of: v, as: SIMD4<Float>.self); return }
        for k in 0..<lanes { x[k] = v[k] }
    }

    /// Moments by name for checkpoints: `<prefix>m.<param>`, `<prefix>v.<param>`.
    public func state(prefix: String = "optimizer.") -> [(String, Tensor)] {
        zip(parameters, zip(m, v)).flatMap { param, mv in
            [("\(prefix)m.\(param.0)", mv.0), ("\(prefix)v.\(param.0)", mv.1)]
        }
    }
}

/// An exponential moving average of parameters (Polyak averaging), kept beside training for
/// evaluation, as GAN generators usually are. After the optimiser's update number t:
///   avg ← d·avg + (1−d)·p,   d = min(decay, (1 + t) / (10 + t))
/// (the warm-up of tf.train.ExponentialMovingAverage's num_updates, so early steps do not leave
/// the random initialisation in the average).
public final class ParameterAverage {
    public let parameters: [(String, Tensor)]
    /// The averages, by parameter (same order as `parameters`).
    public let averages: [Tensor]
    public let decay: Float

    /// Starts at the parameters' current values.
    public init(_ parameters: [(String, Tensor)], decay: Float = 0.999) {
        self.parameters = parameters
        self.decay = decay
        averages = parameters.map { Tensor(shape: $0.1.shape, zeroed: true) }
        restart()
    }

    /// Sets every average to its parameter's current value.
    public func restart() { for (average, (_, p)) in zip(averages, parameters) { average.assign(p) } }

    /// Folds in the parameters after update number `step` (counted from 1).
    public func update(step: Int) {
        let d = min(decay, Float(1 + step) / Float(10 + step))
        for (average, (_, p)) in zip(averages, parameters) {
            average.withUnsafeMutableBufferPointer { A in p.withUnsafeBufferPointer { P in
                parallelRanges(p.count) { r in for j in r { A[j] = d * A[j] + (1 - d) * P[j] } }
            } }
        }
    }

    /// The averages under their parameters' names.
    public var named: [(String, Tensor)] { zip(parameters, averages).map { ($0.0, $1) } }
}

/// torch.nn.utils.clip_grad_norm_: scales all gradients by maxNorm / (‖g‖ + 1e-6) when the
/// global L2 norm ‖g‖ exceeds maxNorm. Returns ‖g‖ before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [(String, Tensor)], maxNorm: Float) -> Float {
    var total: Double = 0
    for (_, p) in parameters { if let g = p.grad { total += g.withUnsafeBufferPointer(sumOfSquares) } }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for (_, p) in parameters {
            guard let g = p.grad else { continue }
            g.withUnsafeMutableBufferPointer { G in parallelRanges(g.count) { r in for j in r { G[j] *= coef } } }
        }
    }
    return norm
}

/// Linear learning-rate warm-up: base · min(1, step / warmupSteps), step counted from 1.
public func warmupLearningRate(base: Float, step: Int, warmupSteps: Int) -> Float {
    warmupSteps <= 0 ? base : base * min(1, Float(step) / Float(warmupSteps))
}

/// Cosine decay from `base` at step 1 to `base · floor` at step `total` (constant after it).
public func cosineLearningRate(base: Float, step: Int, total: Int, floor: Float) -> Float {
    let progress = Float(min(max(step - 1, 0), max(total - 1, 1))) / Float(max(total - 1, 1))
    return base * (floor + (1 - floor) * 0.5 * (1 + cos(Float.pi * progress)))
}
