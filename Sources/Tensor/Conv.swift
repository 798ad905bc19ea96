// 2-D convolution and transposed convolution: im2col + GEMM per image, col2im for the adjoint.

/// Geometry of a convolution window sliding over an image.
struct ConvGeometry {
    let channels: Int, height: Int, width: Int      // the image side ([C, H, W])
    let kernelH: Int, kernelW: Int, stride: Int, padding: Int
    let outH: Int, outW: Int                        // the grid of window positions
    var rows: Int { channels * kernelH * kernelW }  // col is [rows, outH·outW]
    var cols: Int { outH * outW }

    /// The window positions ox whose column x = ox·s − p + kj lies inside the image.
    @inline(__always)
    func validColumns(_ kj: Int) -> Range<Int> {
        let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))   // ceil((p − kj) / s), ≥ 0
        let last = width - 1 + padding - kj                                 // ox·s ≤ last
        return lo..<(last < 0 ? lo : max(lo, min(outW, last / stride + 1)))
    }

    /// col[(c, ki, kj), (oy, ox)] = image[c, oy·s − p + ki, ox·s − p + kj] (0 outside).
    func im2col(_ image: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        for c in 0..<channels { for ki in 0..<kernelH { for kj in 0..<kernelW {
            let row = col + ((c * kernelH + ki) * kernelW + kj) * cols
            let valid = validColumns(kj), shift = kj - padding
            for oy in 0..<outH {
                let y = oy * stride - padding + ki
                let dst = row + oy * outW
                guard y >= 0 && y < height else { dst.update(repeating: 0, count: outW); continue }
                let src = image + (c * height + y) * width + shift
                dst.update(repeating: 0, count: valid.lowerBound)
                for ox in valid { dst[ox] = src[ox * stride] }
                (dst + valid.upperBound).update(repeating: 0, count: outW - valid.upperBound)
            }
        } } }
    }

    /// The adjoint of im2col: image[c, y, x] += every col entry that im2col read from it.
    func col2im(_ col: UnsafePointer<Float>, _ image: UnsafeMutablePointer<Float>) {
        for c in 0..<channels { for ki in 0..<kernelH { for kj in 0..<kernelW {
            let row = col + ((c * kernelH + ki) * kernelW + kj) * cols
            let valid = validColumns(kj), shift = kj - padding
            for oy in 0..<outH {
                let y = oy * stride - padding + ki
                guard y >= 0 && y < height else { continue }
                let src = row + oy * outW, dst = image + (c * height + y) * width + shift
                for ox in valid { dst[ox * stride] += src[ox] }
            }
        } } }
    }
}

/// Adds bias[o] to every element of channel o of y [N, O, HW], or (backward) sums g into db.
private func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, n: Int, o: Int, hw: Int) {
    parallelItems(n * o) { no in let b = bias[no % o], p = y + no * hw; for j in 0..<hw { p[j] += b } }
}
private func sumChannels(_ g: UnsafePointer<Float>, into db: UnsafeMutablePointer<Float>, n: Int, o: Int, hw: Int) {
    for no in 0..<(n * o) { var s: Float = 0; let p = g + no * hw; for j in 0..<hw { s += p[j] }; db[no % o] += s }
}

/// PyTorch Conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] → [N, O, Ho, Wo],
/// Ho = (H + 2p − kh) / s + 1.
///   forward:  col_n = im2col(x_n) [C·kh·kw, Ho·Wo];  y_n = W [O, C·kh·kw] · col_n
///   backward: dW += dy_n · col_nᵀ;  dx_n += col2im(Wᵀ · dy_n);  db += Σ dy
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[1],
                 "conv2d of \(x.shape) with weight \(weight.shape)")
    let n = x.shape[0], o = weight.shape[0]
    let hOut = (x.shape[2] + 2 * padding - weight.shape[2]) / stride + 1
    let wOut = (x.shape[3] + 2 * padding - weight.shape[3]) / stride + 1
    precondition(hOut > 0 && wOut > 0, "conv2d kernel \(weight.shape) larger than padded input \(x.shape)")
    let g = ConvGeometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3],
                         kernelH: weight.shape[2], kernelW: weight.shape[3], stride: stride, padding: padding,
                         outH: hOut, outW: wOut)
    let imageSize = g.channels * g.height * g.width, colSize = g.rows * g.cols
    let cols = Storage(count: n * colSize)   // saved for backward
    let out = Tensor(shape: [n, o, hOut, wOut])
    let X = x.data, C = cols.pointer, Y = out.data, W = weight.data
    parallelItems(n) { i in g.im2col(X + i * imageSize, C + i * colSize) }
    for i in 0..<n { gemm(false, false, o, g.cols, g.rows, 1, W, C + i * colSize, 0, Y + i * o * g.cols) }
    if let bias { addChannelBias(Y, bias.data, n: n, o: o, hw: g.cols) }

    out.record([x, weight] + (bias.map { [$0] } ?? [])) { out in
        let C = cols.pointer   // saved im2col buffer, kept alive by this closure
        let G = out.grad!.pointer
        if weight.requiresGrad {
            let DW = weight.gradPointer()
            for i in 0..<n { gemm(false, true, o, g.rows, g.cols, 1, G + i * o * g.cols, C + i * colSize, 1, DW) }
        }
        if let bias, bias.requiresGrad { sumChannels(G, into: bias.gradPointer(), n: n, o: o, hw: g.cols) }
        if x.requiresGrad {
            let DX = x.gradPointer()
            let dcols = Storage(count: n * colSize)
            for i in 0..<n { gemm(true, false, g.rows, g.cols, o, 1, W, G + i * o * g.cols, 0, dcols.pointer + i * colSize) }
            parallelItems(n) { i in g.col2im(dcols.pointer + i * colSize, DX + i * imageSize) }
        }
    }
    return out
}

/// Nearest-neighbour upsampling by 2 (nn.Upsample(scale_factor=2, mode="nearest")):
/// x [N, C, H, W] → [N, C, 2H, 2W], y[.., i, j] = x[.., i/2, j/2].
///   backward: dx[.., i, j] += the sum of dy over its 2×2 block
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "upsampleNearest2x of \(x.shape)")
    let rows = x.shape[0] * x.shape[1] * x.shape[2], w = x.shape[3], w2 = 2 * w
    let out = Tensor(shape: [x.shape[0], x.shape[1], 2 * x.shape[2], w2])
    let X = x.data, Y = out.data
    // Input row r (plane p, row i) becomes output rows 2i and 2i + 1 of plane p: offset r · 2 · w2.
    parallelRows(rows, width: 2 * w2) { r in
        let src = X + r * w, dst = Y + r * 2 * w2
        for j in 0..<w { dst[2 * j] = src[j]; dst[2 * j + 1] = src[j] }
        (dst + w2).update(from: dst, count: w2)
    }
    out.record([x]) { out in
        let G = out.grad!.pointer, D = x.gradPointer()
        parallelRows(rows, width: 2 * w2) { r in
            let g = G + r * 2 * w2, d = D + r * w
            for j in 0..<w { d[j] += g[2 * j] + g[2 * j + 1] + g[w2 + 2 * j] + g[w2 + 2 * j + 1] }
        }
    }
    return out
}
