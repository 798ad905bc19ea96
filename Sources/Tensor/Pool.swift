// Max pooling (PyTorch's MaxPool2d without padding, floor or ceil mode) and the per-channel PReLU,
// the two ops MTCNN's networks add to the engine.

/// PyTorch MaxPool2d(kernel, stride, ceil_mode): x [N, C, H, W] → [N, C, Ho, Wo],
/// Ho = ⌊(H − k) / s⌋ + 1 (floor) or ⌈(H − k) / s⌉ + 1 (ceil, minus one when the last window would
/// start past the input); windows that reach past the edge take the max of the part inside.
/// Computed separably: per output row the max over its k input rows (column by column), then
/// over k columns of that. NaN propagates, as in PyTorch.
///   backward: dx[first maximum of each window in row-major order (PyTorch's choice)] += dy
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, ceilMode: Bool = false) -> Tensor {
    precondition(x.rank == 4 && kernel >= 1 && stride >= 1 && x.shape[2] >= kernel && x.shape[3] >= kernel,
                 "maxPool2d of \(x.shape) with kernel \(kernel)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    func outSize(_ size: Int) -> Int {
        let o = (size - kernel + (ceilMode ? stride - 1 : 0)) / stride + 1
        return (o - 1) * stride >= size ? o - 1 : o
    }
    let (ho, wo) = (outSize(h), outSize(w))
    // `b != b` rather than `b.isNaN`: Swift's isNaN tests the bits with a branch, which kept the
    // select from compiling to branch-free SSE (a mispredicted branch per element).
    @inline(__always) func larger(_ a: Float, _ b: Float) -> Float { b > a || b != b ? b : a }
    let out = Tensor(shape: [n, c, ho, wo])
    let X = x.data, Y = out.data
    // Planes in runs of at least ~16K floats per thread (MTCNN's maps are small: one plane is
    // less work than handing it to another thread), each run with one scratch row.
    parallelRanges(n * c, grain: max(1, (1 << 14) / (h * w))) { planes in
        let m = UnsafeMutablePointer<Float>.allocate(capacity: w)
        defer { m.deallocate() }
        for plane in planes {
            let src = X + plane * h * w, dst = Y + plane * ho * wo
            for oy in 0..<ho {
                let y0 = oy * stride
                m.update(from: src + y0 * w, count: w)
                for y in y0 + 1..<min(h, y0 + kernel) { let r = src + y * w; for xx in 0..<w { m[xx] = larger(m[xx], r[xx]) } }
                for ox in 0..<wo {
                    let x0 = ox * stride
                    var best = m[x0]
                    for xx in x0 + 1..<min(w, x0 + kernel) { best = larger(best, m[xx]) }
                    dst[oy * wo + ox] = best
                }
            }
        }
    }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer()
        parallelItems(n * c) { plane in
            let src = X + plane * h * w, dx = DX + plane * h * w, y = Y + plane * ho * wo, g = G + plane * ho * wo
            for oy in 0..<ho { for ox in 0..<wo {
                let best = y[oy * wo + ox]
                search: for yy in oy * stride..<min(h, oy * stride + kernel) {
                    for xx in ox * stride..<min(w, ox * stride + kernel) where src[yy * w + xx] == best || src[yy * w + xx].isNaN {
                        dx[yy * w + xx] += g[oy * wo + ox]
                        break search
                    }
                }
            } }
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
