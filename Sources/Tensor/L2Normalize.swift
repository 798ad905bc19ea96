import Foundation

/// PyTorch F.normalize(x, p=2, dim=-1): each row of the last dimension divided by its L2 norm,
/// y = x / max(‖x‖, ε). x [..., D] → [..., D].
/// Backward (‖x‖ > ε): dx = (g − y · (g·y)) / ‖x‖;  (‖x‖ ≤ ε): dx = g / ε.
public func l2Normalized(_ x: Tensor, eps: Float = 1e-12) -> Tensor {
    precondition(x.rank >= 1, "l2Normalized of a scalar")
    let d = x.shape.last!, rows = x.count / max(d, 1)
    let out = Tensor(shape: x.shape)
    let norms = Storage(count: rows)   // max(‖x‖, ε) per row, saved for backward
    let X = x.data, Y = out.data, N = norms.pointer
    parallelItems(rows) { r in
        var ss: Float = 0
        for j in 0..<d { ss += X[r * d + j] * X[r * d + j] }
        let n = max(ss.squareRoot(), eps)
        N[r] = n
        for j in 0..<d { Y[r * d + j] = X[r * d + j] / n }
    }
    out.record([x]) { out in
        let N = norms.pointer   // saved norms, kept alive by this closure (not by the forward's pointer)
        let G = out.grad!.pointer, DX = x.gradPointer(), Y = out.data
        parallelItems(rows) { r in
            let g = G + r * d, y = Y + r * d, dx = DX + r * d, n = N[r]
            guard n > eps else { for j in 0..<d { dx[j] += g[j] / n }; return }
            var gy: Float = 0
            for j in 0..<d { gy += g[j] * y[j] }
            for j in 0..<d { dx[j] += (g[j] - y[j] * gy) / n }
        }
    }
    return out
}
