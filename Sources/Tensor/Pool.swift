// Max pooling (PyTorch's MaxPool2d without padding, floor or ceil mode) and the per-channel PReLU,
// the two ops MTCNN's networks add to the engine.

/// PyTorch MaxPool2d(kernel, stride, ceil_mode): x [N, C, H, W] → [N, C, Ho, Wo],
/// Ho = ⌊(H − k) / s⌋ + 1 (floor) or ⌈(H − k) / s⌉ + 1 (ceil, minus one when the last window would
/// start past the input); windows that reach past the edge take the max of the part inside.
/// Ties keep the first maximum in row-major order (as PyTorch does).
///   backward: dx[argmax of each window] += dy
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, ceilMode: Bool = false) -> Tensor {
    precondition(x.rank == 4 && kernel >= 1 && stride >= 1 && x.shape[2] >= kernel && x.shape[3] >= kernel,
                 "maxPool2d of \(x.shape) with kernel \(kernel)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    func outSize(_ size: Int) -> Int {
        let o = (size - kernel + (ceilMode ? stride - 1 : 0)) / stride + 1
        return (o - 1) * stride >= size ? o - 1 : o
    }
    let (ho, wo) = (outSize(h), outSize(w))
    let out = Tensor(shape: [n, c, ho, wo])
    // The flat index in its plane of each output's maximum, kept only for backward.
    var argmax = [Int32](repeating: 0, count: Tensor.recordsGradient(from: [x]) ? out.count : 0)
    let X = x.data, Y = out.data
    argmax.withUnsafeMutableBufferPointer { A in
        let keep = !A.isEmpty
        parallelItems(n * c) { plane in
            let src = X + plane * h * w
            for oy in 0..<ho { for ox in 0..<wo {
                let y0 = oy * stride, x0 = ox * stride
                var best = -Float.infinity, at = y0 * w + x0
                for y in y0..<min(h, y0 + kernel) { for xx in x0..<min(w, x0 + kernel) {
                    let v = src[y * w + xx]
                    if v > best || v.isNaN { best = v; at = y * w + xx }
                } }
                let o = (plane * ho + oy) * wo + ox
                Y[o] = best
                if keep { A[o] = Int32(at) }
            } }
        }
    }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer()
        parallelItems(n * c) { plane in
            for k in plane * ho * wo..<(plane + 1) * ho * wo { DX[plane * h * w + Int(argmax[k])] += G[k] }
        }
    }
    return out
}

/// PyTorch PReLU(C): x [N, C, ...], weight [C] → y = x where x > 0, weight[c]·x elsewhere.
///   backward: dx = dy (x > 0) or weight[c]·dy;  dweight[c] += Σ dy·x over x ≤ 0 of channel c
public func prelu(_ x: Tensor, weight: Tensor) -> Tensor {
    precondition(x.rank >= 2 && weight.shape == [x.shape[1]], "prelu of \(x.shape) with weight \(weight.shape)")
    let c = x.shape[1], inner = x.count / max(1, x.shape[0] * c)
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data, W = weight.data
    parallelRows(x.shape[0] * c, width: inner) { row in
        let a = W[row % c], p = row * inner
        for i in p..<p + inner { Y[i] = X[i] > 0 ? X[i] : a * X[i] }
    }
    out.record([x, weight]) { out in
        let G = out.grad!.pointer
        if x.requiresGrad {
            let DX = x.gradPointer()
            parallelRows(x.shape[0] * c, width: inner) { row in
                let a = W[row % c], p = row * inner
                for i in p..<p + inner { DX[i] += X[i] > 0 ? G[i] : a * G[i] }
            }
        }
        if weight.requiresGrad {
            let DW = weight.gradPointer()
            for row in 0..<x.shape[0] * c {
                var s: Float = 0
                for i in row * inner..<(row + 1) * inner where X[i] <= 0 { s += G[i] * X[i] }
                DW[row % c] += s
            }
        }
    }
    return out
}
