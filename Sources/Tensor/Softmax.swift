import Foundation

// Softmax and log-softmax over the last dimension.

/// Row softmax: y = e^(x − max) / Σ e^(x − max). Backward: dx = y ⊙ (g − Σ g⊙y).
public func softmax(_ x: Tensor) -> Tensor {
    let n = x.shape.last ?? 1, rows = x.count / n
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data
    parallelRows(rows, width: n) { r in softmaxRow(X + r * n, Y + r * n, n) }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer(), Y = out.data
        parallelRows(rows, width: n) { r in
            let g = G + r * n, y = Y + r * n, dx = DX + r * n
            var dot: Float = 0
            for j in 0..<n { dot += g[j] * y[j] }
            for j in 0..<n { dx[j] += y[j] * (g[j] - dot) }
        }
    }
    return out
}

/// Numerically stable softmax of one row of n values.
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var mx = -Float.infinity
    for j in 0..<n { mx = max(mx, x[j]) }
    for j in 0..<n { y[j] = vectorExp(x[j] - mx) }
    var sum: Float = 0
    for j in 0..<n { sum += y[j] }
    let inv = 1 / sum
    for j in 0..<n { y[j] *= inv }
}

/// Row log-softmax: y = x − max − log Σ e^(x − max). Backward: dx = g − e^y Σ g.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let n = x.shape.last ?? 1, rows = x.count / n
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data
    parallelRows(rows, width: n) { r in
        let x = X + r * n, y = Y + r * n
        var mx = -Float.infinity
        for j in 0..<n { mx = max(mx, x[j]) }
        var sum: Float = 0
        for j in 0..<n { sum += expf(x[j] - mx) }
        let lse = mx + logf(sum)
        for j in 0..<n { y[j] = x[j] - lse }
    }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer(), Y = out.data
        parallelRows(rows, width: n) { r in
            let g = G + r * n, y = Y + r * n, dx = DX + r * n
            var gsum: Float = 0
            for j in 0..<n { gsum += g[j] }
            for j in 0..<n { dx[j] += g[j] - expf(y[j]) * gsum }
        }
    }
    return out
}
