import Foundation

// MARK: - Layer norm over the last dimension

/// y = (x − μ) / √(σ² + ε) · weight + bias per row of the last dimension (biased variance).
/// x [..., C], weight [C], bias [C].
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last ?? 1, rows = x.count / c
    precondition(weight.shape == [c] && bias.shape == [c], "layerNorm of \(x.shape) with weight \(weight.shape)")
    let out = Tensor(shape: x.shape)
    let mean = Storage(count: rows), rstd = Storage(count: rows)   // saved for backward
    let X = x.data, Y = out.data, W = weight.data, B = bias.data, M = mean.pointer, R = rstd.pointer
    parallelRanges(rows, grain: 16) { range in
        for r in range {
            let x = X + r * c, y = Y + r * c
            var m: Float = 0
            for j in 0..<c { m += x[j] }
            m /= Float(c)
            var v: Float = 0
            for j in 0..<c { let d = x[j] - m; v += d * d }
            let s = 1 / (v / Float(c) + eps).squareRoot()
            for j in 0..<c { y[j] = (x[j] - m) * s * W[j] + B[j] }
            M[r] = m; R[r] = s
        }
    }
    out.record([x, weight, bias]) { out in
        let M = mean.pointer, R = rstd.pointer   // saved statistics, kept alive by this closure
        let G = out.grad!.pointer
        let DW = weight.requiresGrad ? weight.gradPointer() : nil, DB = bias.requiresGrad ? bias.gradPointer() : nil
        // dx = s · (g·w − mean(g·w) − x̂ · mean(g·w · x̂)), x̂ = (x − μ)·s
        if x.requiresGrad {
            let (DX, fresh) = x.gradForWriting()
            parallelRanges(rows, grain: 16) { range in
                for r in range {
                    let x = X + r * c, g = G + r * c, dx = DX + r * c, m = M[r], s = R[r]
                    var sumG: Float = 0, sumGX: Float = 0
                    for j in 0..<c { let gw = g[j] * W[j]; sumG += gw; sumGX += gw * (x[j] - m) * s }
                    sumG /= Float(c); sumGX /= Float(c)
                    store(dx, fresh: fresh, 0..<c) { j in s * (g[j] * W[j] - sumG - (x[j] - m) * s * sumGX) }
                }
            }
        }
        // dweight = Σ_rows g · x̂, dbias = Σ_rows g (threads take ranges of columns; rows in order)
        parallelRanges(c, grain: 64) { cols in
            for r in 0..<rows {
                let x = X + r * c, g = G + r * c, m = M[r], s = R[r]
                if let DW { for j in cols { DW[j] += g[j] * (x[j] - m) * s } }
                if let DB { for j in cols { DB[j] += g[j] } }
            }
        }
    }
    return out
}

// MARK: - Batch norm over (N, H, W) per channel

/// Adds up per-channel batch statistics over the processes of a data-parallel run, in place
/// (sync batch norm): every process calls it at the same points with the same count.
public protocol BatchStatisticsSum: AnyObject {
    func sumAcrossProcesses(_ values: UnsafeMutableBufferPointer<Double>)
}

/// PyTorch BatchNorm2d on x [N, C, H, W]. Training: normalises with the batch statistics (biased
/// variance) and updates the running ones with `momentum` (unbiased variance), outside the graph.
/// Eval: normalises with the running statistics. With `across` (training only), the batch is the
/// union of every process's x: the sums behind mean, variance and the backward's mean(g),
/// mean(g·x̂) are added up over the processes, so each normalises as one process with the whole
/// batch would, and the running statistics stay equal on all.
public func batchNorm2d(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, across: (any BatchStatisticsSum)? = nil) -> Tensor {
    precondition(x.rank == 4 && weight.shape == [x.shape[1]], "batchNorm2d of \(x.shape) with weight \(weight.shape)")
    let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
    let mean = Storage(count: c), rstd = Storage(count: c)
    let X = x.data, M = mean.pointer, R = rstd.pointer
    // Elements per channel over the whole batch (every process's share when `across`).
    var per = Double(n * hw)
    if training {
        // sums [Σx per channel, element count], then Σ(x − mean)² per channel
        var sums = [Double](repeating: 0, count: c + 1)
        sums.withUnsafeMutableBufferPointer { S in
            parallelItems(c) { ch in
                for i in 0..<n { S[ch] += contiguousSum(X + (i * c + ch) * hw, hw) }
            }
            S[c] = per
            across?.sumAcrossProcesses(S)
        }
        per = sums[c]
        for ch in 0..<c { M[ch] = Float(sums[ch] / per) }
        var squares = [Double](repeating: 0, count: c)
        squares.withUnsafeMutableBufferPointer { V in
            parallelItems(c) { ch in
                let mf = M[ch], mv = SIMD8(repeating: mf)
                for i in 0..<n {
                    let p = X + (i * c + ch) * hw
                    V[ch] += laneSum(hw, { let d = vector8(p + $0) - mv; return d * d }, { let d = p[$0] - mf; return d * d })
                }
            }
            across?.sumAcrossProcesses(V)
        }
        for ch in 0..<c {
            R[ch] = Float(1 / (squares[ch] / per + Double(eps)).squareRoot())
            runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * M[ch]
            runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(squares[ch] / max(per - 1, 1))
        }
    } else {
        for ch in 0..<c { M[ch] = runningMean.data[ch]; R[ch] = 1 / (runningVar.data[ch] + eps).squareRoot() }
    }
    let total = Float(per)
    let out = Tensor(shape: x.shape)
    let Y = out.data, W = weight.data, B = bias.data
    parallelItems(n * c) { nc in
        let ch = nc % c, s = R[ch] * W[ch], t = B[ch] - M[ch] * s
        let x = X + nc * hw, y = Y + nc * hw
        for j in 0..<hw { y[j] = x[j] * s + t }
    }
    out.record([x, weight, bias]) { out in
        let M = mean.pointer, R = rstd.pointer   // saved statistics, kept alive by this closure
        let G = out.grad!.pointer
        // Each channel's planes of dx are written by one item: stored when the gradient is fresh.
        let (DX, fresh) = x.requiresGrad ? x.gradForWriting() : (nil, false)
        let DW = weight.requiresGrad ? weight.gradPointer() : nil, DB = bias.requiresGrad ? bias.gradPointer() : nil
        // [Σ g, Σ g·x̂] per channel over this process's share
        var sums = [Float](repeating: 0, count: 2 * c)
        sums.withUnsafeMutableBufferPointer { S in
            parallelItems(c) { ch in
                let m = M[ch], s = R[ch]
                var sumG: Float = 0, sumGX: Float = 0
                for i in 0..<n {
                    let g = G + (i * c + ch) * hw, x = X + (i * c + ch) * hw
                    for j in 0..<hw { sumG += g[j]; sumGX += g[j] * (x[j] - m) * s }
                }
                (S[2 * ch], S[2 * ch + 1]) = (sumG, sumGX)
            }
        }
        // The gradients of weight and bias are this share's (the gradient hook averages them);
        // dx needs mean(g) and mean(g·x̂) over the whole batch.
        for ch in 0..<c {
            DW?[ch] += sums[2 * ch + 1]
            DB?[ch] += sums[2 * ch]
        }
        guard let DX else { return }
        var means = sums.map { Double($0) }
        if training, let across { means.withUnsafeMutableBufferPointer { across.sumAcrossProcesses($0) } }
        parallelItems(c) { ch in
            let m = M[ch], s = R[ch], w = W[ch]
            if training {   // dx = w·s · (g − mean(g) − x̂ · mean(g·x̂))
                let mg = Float(means[2 * ch]) / total, mgx = Float(means[2 * ch + 1]) / total
                for i in 0..<n {
                    let g = G + (i * c + ch) * hw, x = X + (i * c + ch) * hw, dx = DX + (i * c + ch) * hw
                    store(dx, fresh: fresh, 0..<hw) { w * s * (g[$0] - mg - (x[$0] - m) * s * mgx) }
                }
            } else {        // fixed statistics: dx = w·s · g
                for i in 0..<n {
                    let g = G + (i * c + ch) * hw, dx = DX + (i * c + ch) * hw
                    store(dx, fresh: fresh, 0..<hw) { w * s * g[$0] }
                }
            }
        }
    }
    return out
}
