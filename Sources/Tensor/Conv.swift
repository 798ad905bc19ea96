// 2-D convolution by im2col + GEMM (col2im for the adjoint), and the resize-convolution
// nearest ×2 → conv 3×3 as one folded 2×2 convolution.

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

    /// col[(c, ki, kj), (oy, ox)] = image[c, oy·s − p + ki, ox·s − p + kj] (0 outside), for the
    /// window rows oy in `band` (default all); col's rows are `rowStride` floats apart (default
    /// band.count · outW; larger when several images share one col).
    func im2col(_ image: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, rowStride: Int? = nil,
                band: Range<Int>? = nil) {
        let band = band ?? 0..<outH, ld = rowStride ?? band.count * outW
        for c in 0..<channels { for ki in 0..<kernelH { for kj in 0..<kernelW {
            let row = col + ((c * kernelH + ki) * kernelW + kj) * ld
            let valid = validColumns(kj), shift = kj - padding
            for oy in band {
                let y = oy * stride - padding + ki
                let dst = row + (oy - band.lowerBound) * outW
                guard y >= 0 && y < height else { dst.update(repeating: 0, count: outW); continue }
                let src = image + (c * height + y) * width + shift
                dst.update(repeating: 0, count: valid.lowerBound)
                if stride == 1 { (dst + valid.lowerBound).update(from: src + valid.lowerBound, count: valid.count) }
                else { for ox in valid { dst[ox] = src[ox * stride] } }
                (dst + valid.upperBound).update(repeating: 0, count: outW - valid.upperBound)
            }
        } } }
    }

    /// The adjoint of im2col: image[c, y, x] += every col entry that im2col read from it.
    func col2im(_ col: UnsafePointer<Float>, _ image: UnsafeMutablePointer<Float>, rowStride: Int? = nil,
                band: Range<Int>? = nil) {
        let band = band ?? 0..<outH, ld = rowStride ?? band.count * outW
        for c in 0..<channels { for ki in 0..<kernelH { for kj in 0..<kernelW {
            let row = col + ((c * kernelH + ki) * kernelW + kj) * ld
            let valid = validColumns(kj), shift = kj - padding
            for oy in band {
                let y = oy * stride - padding + ki
                guard y >= 0 && y < height else { continue }
                let src = row + (oy - band.lowerBound) * outW, dst = image + (c * height + y) * width + shift
                if stride == 1 {   // a separate loop the compiler vectorises
                    let d = dst + valid.lowerBound, s = src + valid.lowerBound
                    for k in 0..<valid.count { d[k] += s[k] }
                } else { for ox in valid { dst[ox * stride] += src[ox] } }
            }
        } } }
    }
}

/// dst [B, A, P] = src [A, B, P]: the blocks of P floats change order.
private func swapOuterAxes(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int, _ p: Int) {
    parallelRows(a * b, width: p) { row in (dst + (row % b * a + row / b) * p).update(from: src + row * p, count: p) }
}

/// Adds bias[o] to every element of channel o of y [N, O, HW], or (backward) sums g into db.
private func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, n: Int, o: Int, hw: Int) {
    parallelItems(n * o) { no in let b = bias[no % o], p = y + no * hw; for j in 0..<hw { p[j] += b } }
}
private func sumChannels(_ g: UnsafePointer<Float>, into db: UnsafeMutablePointer<Float>, n: Int, o: Int, hw: Int) {
    for no in 0..<(n * o) { var s: Float = 0; let p = g + no * hw; for j in 0..<hw { s += p[j] }; db[no % o] += s }
}

/// PyTorch Conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] → [N, O, Ho, Wo],
/// Ho = (H + 2p − kh) / s + 1, P = Ho·Wo, by im2col + GEMM in one of two layouts:
/// - one col for all N images, one GEMM per pass (`conv2dBatched`): small maps, where per-image
///   GEMMs are too small to use the cores;
/// - per image, in bands of window rows whose col stays in cache (`conv2dBanded`): large maps, where
///   a whole col is tens of MB (at 128×128 with 22 channels, 13 MB per image) and every pass over it
///   goes to memory.
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
    let out = Tensor(shape: [n, o, hOut, wOut])
    let banded = g.rows * g.cols > ConvGeometry.bandFloats && n >= Engine.threads
    let backward = (banded ? conv2dBanded : conv2dBatched)(x, weight, out.data, g)
    if let bias { addChannelBias(out.data, bias.data, n: n, o: o, hw: g.cols) }
    out.record([x, weight] + (bias.map { [$0] } ?? [])) { out in
        let G = out.grad!.pointer
        backward(G)
        if let bias, bias.requiresGrad { sumChannels(G, into: bias.gradPointer(), n: n, o: o, hw: g.cols) }
    }
    return out
}

extension ConvGeometry {
    /// A band's col holds at most this many floats (512 KB: in L2 beside the GEMM's packed panels).
    static let bandFloats = 1 << 17
}

/// y [N, O, P] = conv(x, weight) with one col for all images; returns the backward pass (dy → dW, dx).
///   forward:  col [C·kh·kw, N·P] = im2col of every image;  r [O, N·P] = W · col;  y = r
///   backward: dr [O, N·P] = dy;  dW += dr · colᵀ;  dx += col2im(Wᵀ · dr)
private func conv2dBatched(_ x: Tensor, _ weight: Tensor, _ y: UnsafeMutablePointer<Float>,
                           _ g: ConvGeometry) -> (UnsafePointer<Float>) -> Void {
    let n = x.shape[0], o = weight.shape[0]
    let p = g.cols, ld = n * p, imageSize = g.channels * g.height * g.width
    let cols = Storage(count: g.rows * ld)   // saved for backward
    let X = x.data, C = cols.pointer, W = weight.data
    parallelItems(n) { i in g.im2col(X + i * imageSize, C + i * p, rowStride: ld) }
    let r = Storage(count: o * ld)
    gemm(false, false, o, ld, g.rows, 1, W, C, 0, r.pointer)
    swapOuterAxes(r.pointer, y, o, n, p)

    return { dy in
        let C = cols.pointer   // saved im2col buffer, kept alive by this closure
        let dr = Storage(count: o * ld)
        swapOuterAxes(dy, dr.pointer, n, o, p)
        if weight.requiresGrad { gemm(false, true, o, g.rows, ld, 1, dr.pointer, C, 1, weight.gradPointer()) }
        if x.requiresGrad {
            let DX = x.gradPointer()
            let dcols = Storage(count: g.rows * ld)
            gemm(true, false, g.rows, ld, o, 1, W, dr.pointer, 0, dcols.pointer)
            parallelItems(n) { i in g.col2im(dcols.pointer + i * p, DX + i * imageSize, rowStride: ld) }
        }
    }
}

/// y [N, O, P] = conv(x, weight) image by image (across threads), each in bands of window rows whose
/// col fits in cache; returns the backward pass, which builds each band's col again instead of keeping it.
///   forward:  per band b of image n: col_b = im2col(x_n, b);  y_n[:, b] = W · col_b
///   backward: dW_n = Σ_b dy_n[:, b] · col_bᵀ (dW += Σ_n dW_n);  dx_n += col2im(Wᵀ · dy_n[:, b], b)
private func conv2dBanded(_ x: Tensor, _ weight: Tensor, _ y: UnsafeMutablePointer<Float>,
                          _ g: ConvGeometry) -> (UnsafePointer<Float>) -> Void {
    let n = x.shape[0], o = weight.shape[0]
    let p = g.cols, imageSize = g.channels * g.height * g.width, weightSize = weight.count
    let bandRows = max(1, min(g.outH, ConvGeometry.bandFloats / (g.rows * g.outW)))
    let bands = stride(from: 0, to: g.outH, by: bandRows).map { $0..<min(g.outH, $0 + bandRows) }
    let X = x.data, W = weight.data
    parallelItems(n) { i in
        let col = Storage(count: g.rows * bandRows * g.outW)
        for band in bands {
            let width = band.count * g.outW
            g.im2col(X + i * imageSize, col.pointer, band: band)
            gemm(false, false, o, width, g.rows, 1, W, g.rows, col.pointer, width, 0,
                 y + i * o * p + band.lowerBound * g.outW, p, splitting: false)
        }
    }

    return { dy in
        let dWs = weight.requiresGrad ? Storage(count: n * weightSize, zeroed: true) : nil
        let DX = x.requiresGrad ? x.gradPointer() : nil   // allocated here, not by racing threads
        parallelItems(n) { i in
            let col = Storage(count: g.rows * bandRows * g.outW), dcol = Storage(count: col.count)
            for band in bands {
                let width = band.count * g.outW, dyBand = dy + i * o * p + band.lowerBound * g.outW   // [O, width], rows p apart
                if let dWs {
                    g.im2col(X + i * imageSize, col.pointer, band: band)
                    gemm(false, true, o, g.rows, width, 1, dyBand, p, col.pointer, width, 1, dWs.pointer + i * weightSize, g.rows,
                         splitting: false)
                }
                if let DX {
                    gemm(true, false, g.rows, width, o, 1, W, g.rows, dyBand, p, 0, dcol.pointer, width, splitting: false)
                    g.col2im(dcol.pointer, DX + i * imageSize, band: band)
                }
            }
        }
        if let dWs {
            let DW = weight.gradPointer()
            parallelRanges(weightSize, grain: 1 << 12) { range in
                for i in 0..<n { let src = dWs.pointer + i * weightSize; for k in range { DW[k] += src[k] } }
            }
        }
    }
}

/// Nearest ×2 upsampling followed by a 3×3 convolution (padding 1, no bias), as one op:
/// x [N, C, H, W], weight [O, C, 3, 3] → [N, O, 2H, 2W], what nn.Upsample(scale_factor=2) then
/// nn.Conv2d(C, O, 3, padding=1, bias=False) compute.
/// Output pixel (2i + a, 2j + b) sees only a 2×2 block of x: along each axis the taps k = 0, 1, 2
/// land on input rows i−1, i, i (a = 0) or i, i, i+1 (a = 1). So the op is a 2×2 convolution of x
/// (padding 1, (H+1)×(W+1) positions) with four folded kernels, one per output parity (a, b):
/// 16·O·C multiply-adds per input pixel instead of 36, and a col 9× smaller than the upsampled
/// image's.
///   y = interleavingParities(conv2d(x, foldedUpsamplingKernels(weight), padding: 1))
public func upsampleConv3x3(_ x: Tensor, weight: Tensor) -> Tensor {
    precondition(x.rank == 4 && weight.shape.count == 4 && weight.shape[1] == x.shape[1] && weight.shape.suffix(2) == [3, 3],
                 "upsampleConv3x3 of \(x.shape) with weight \(weight.shape)")
    return interleavingParities(conv2d(x, weight: foldedUpsamplingKernels(weight), bias: nil, padding: 1))
}

/// w [O, C, 3, 3] → wf [4·O, C, 2, 2], one 2×2 kernel per output parity (a, b) of a nearest ×2
/// upsampling followed by w (see upsampleConv3x3):
///   wf[(a, b, o), c, ti, tj] = Σ w[o, c, ki, kj] over tap(a, ki) = ti, tap(b, kj) = tj,
///   tap(a, k) = (a + k + 1) / 2 − a   (a = 0: 0, 1, 1;  a = 1: 0, 0, 1)
///   backward: the fold is linear; dw[o, c, ki, kj] = Σ over the four parities of dwf at the same index pairs
func foldedUpsamplingKernels(_ w: Tensor) -> Tensor {
    let (o, c) = (w.shape[0], w.shape[1])
    func tap(_ a: Int, _ k: Int) -> Int { (a + k + 1) / 2 - a }
    /// Every (folded, original) index pair the fold adds.
    func eachFoldedTap(_ body: (_ folded: Int, _ original: Int) -> Void) {
        for a in 0..<2 { for b in 0..<2 { for oo in 0..<o { for cc in 0..<c { for ki in 0..<3 { for kj in 0..<3 {
            body((((a * 2 + b) * o + oo) * c + cc) * 4 + tap(a, ki) * 2 + tap(b, kj), ((oo * c + cc) * 3 + ki) * 3 + kj)
        } } } } } }
    }
    let out = Tensor(shape: [4 * o, c, 2, 2], zeroed: true)
    let F = out.data, W = w.data
    eachFoldedTap { F[$0] += W[$1] }
    out.record([w]) { out in
        let DF = out.grad!.pointer, DW = w.gradPointer()
        eachFoldedTap { DW[$1] += DF[$0] }
    }
    return out
}

/// r [N, 4·O, H+1, W+1] (the folded 2×2 convolution, one block of O channels per parity (a, b))
/// → y [N, O, 2H, 2W], y[n, o, 2i + a, 2j + b] = r[n, (a, b, o), i + a, j + b].
///   backward: dr = the adjoint of that gather (0 where no parity reads)
func interleavingParities(_ r: Tensor) -> Tensor {
    let (n, o, h, w) = (r.shape[0], r.shape[1] / 4, r.shape[2] - 1, r.shape[3] - 1)
    let planeIn = (h + 1) * (w + 1), planeOut = 4 * h * w
    /// Every (output, r) index pair of one (n, o) output plane.
    func eachParity(_ no: Int, _ body: (_ plane: Int, _ grid: Int) -> Void) {
        let (i, oo) = (no / o, no % o)
        for a in 0..<2 { for b in 0..<2 {
            let grid = (i * 4 * o + (a * 2 + b) * o + oo) * planeIn + a * (w + 1) + b
            for y in 0..<h { for xx in 0..<w { body(no * planeOut + (2 * y + a) * 2 * w + 2 * xx + b, grid + y * (w + 1) + xx) } }
        } }
    }
    let out = Tensor(shape: [n, o, 2 * h, 2 * w])
    let R = r.data, Y = out.data
    parallelItems(n * o) { no in eachParity(no) { Y[$0] = R[$1] } }
    out.record([r]) { out in
        let G = out.grad!.pointer, DR = r.gradPointer()
        parallelItems(n * o) { no in eachParity(no) { DR[$1] += G[$0] } }
    }
    return out
}
