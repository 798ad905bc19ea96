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

/// PyTorch BatchNorm2d on x [N, C, H, W]. Training: normalises with the batch statistics (biased
/// variance) and updates the running ones with `momentum` (unbiased variance), outside the graph.
/// Eval: normalises with the running statistics.
public func batchNorm2d(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank == 4 && weight.shape == [x.shape[1]], "batchNorm2d of \(x.shape) with weight \(weight.shape)")
    let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3], per = n * hw
    let mean = Storage(count: c), rstd = Storage(count: c)
    let X = x.data, M = mean.pointer, R = rstd.pointer
    parallelItems(c) { ch in
        if training {
            var m: Double = 0, v: Double = 0
            for i in 0..<n { m += contiguousSum(X + (i * c + ch) * hw, hw) }
            m /= Double(per)
            let mf = Float(m), mv = SIMD8(repeating: mf)
            for i in 0..<n {
                let p = X + (i * c + ch) * hw
                v += laneSum(hw, { let d = vector8(p + $0) - mv; return d * d }, { let d = p[$0] - mf; return d * d })
            }
            M[ch] = Float(m); R[ch] = Float(1 / (v / Double(per) + Double(eps)).squareRoot())
            runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(m)
            runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(v / Double(max(per - 1, 1)))
        } else {
            M[ch] = runningMean.data[ch]; R[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
        }
    }
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
        parallelItems(c) { ch in
            let m = M[ch], s = R[ch]
            var sumG: Float = 0, sumGX: Float = 0   // Σ g, Σ g·x̂
            for i in 0..<n {
                let g = G + (i * c + ch) * hw, x = X + (i * c + ch) * hw
                for j in 0..<hw { sumG += g[j]; sumGX += g[j] * (x[j] - m) * s }
            }
            DW?[ch] += sumGX
            DB?[ch] += sumG
            guard let DX else { return }
            let w = W[ch]
            if training {   // dx = w·s · (g − mean(g) − x̂ · mean(g·x̂))
                let mg = sumG / Float(per), mgx = sumGX / Float(per)
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
