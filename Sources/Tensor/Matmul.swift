// Matrix products through cblas_sgemm.

/// Batched matrix product: a [..., M, K] · b [..., K, N] → [..., M, N]. The batch dimensions of
/// a and b must match, or b is a plain [K, N] matrix shared by every batch item.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul of shapes \(a.shape) and \(b.shape)")
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    let batch = a.shape.dropLast(2).reduce(1, *)
    let sharedB = b.rank == 2
    precondition(b.shape[b.rank - 2] == k && (sharedB || b.shape.dropLast(2) == a.shape.dropLast(2)),
                 "matmul of shapes \(a.shape) and \(b.shape)")
    let out = Tensor(shape: Array(a.shape.dropLast(2)) + [m, n])
    let bStride = sharedB ? 0 : k * n
    if sharedB {   // one GEMM over all rows: [batch·M, K] · [K, N]
        gemm(false, false, batch * m, n, k, 1, a.data, b.data, 0, out.data)
    } else {
        for i in 0..<batch { gemm(false, false, m, n, k, 1, a.data + i * m * k, b.data + i * bStride, 0, out.data + i * m * n) }
    }
    out.record([a, b]) { out in
        let G = out.grad!.pointer
        // Each GEMM writes its block of the gradient once: β = 0 into a fresh gradient.
        if a.requiresGrad {   // dA = dY · Bᵀ
            let (DA, fresh) = a.gradForWriting(), beta: Float = fresh ? 0 : 1
            if sharedB { gemm(false, true, batch * m, k, n, 1, G, b.data, beta, DA) } else {
                for i in 0..<batch { gemm(false, true, m, k, n, 1, G + i * m * n, b.data + i * bStride, beta, DA + i * m * k) }
            }
        }
        if b.requiresGrad {   // dB = Aᵀ · dY (summed over the batch when B is shared)
            let (DB, fresh) = b.gradForWriting(), beta: Float = fresh ? 0 : 1
            if sharedB { gemm(true, false, k, n, batch * m, 1, a.data, G, beta, DB) } else {
                for i in 0..<batch { gemm(true, false, k, n, m, 1, a.data + i * m * k, G + i * m * n, beta, DB + i * bStride) }
            }
        }
    }
    return out
}

/// y = x · Wᵀ + b, PyTorch's nn.Linear: x [..., in], weight [out, in], bias [out] → [..., out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let nOut = weight.shape[0], nIn = weight.shape[1]
    precondition(weight.rank == 2 && x.shape.last == nIn, "linear of \(x.shape) with weight \(weight.shape)")
    precondition(bias == nil || bias!.shape == [nOut], "linear bias \(bias!.shape) for \(nOut) outputs")
    let rows = x.count / nIn
    let out = Tensor(shape: Array(x.shape.dropLast()) + [nOut])
    let Y = out.data
    if let bias {   // Y = bias broadcast, then Y += X · Wᵀ
        parallelRows(rows, width: nOut) { r in (Y + r * nOut).update(from: bias.data, count: nOut) }
        gemm(false, true, rows, nOut, nIn, 1, x.data, weight.data, 1, Y)
    } else {
        gemm(false, true, rows, nOut, nIn, 1, x.data, weight.data, 0, Y)
    }
    out.record([x, weight] + (bias.map { [$0] } ?? [])) { out in
        let G = out.grad!.pointer
        if x.requiresGrad {   // dX = dY · W (β = 0 into a fresh gradient)
            let (DX, fresh) = x.gradForWriting()
            gemm(false, false, rows, nIn, nOut, 1, G, weight.data, fresh ? 0 : 1, DX)
        }
        if weight.requiresGrad {   // dW = dYᵀ · X
            let (DW, fresh) = weight.gradForWriting()
            gemm(true, false, nOut, nIn, rows, 1, G, x.data, fresh ? 0 : 1, DW)
        }
        if let bias, bias.requiresGrad {   // db = Σ_rows dY (threads take ranges of columns)
            let DB = bias.gradPointer()
            parallelRanges(nOut, grain: 64) { cols in
                for r in 0..<rows { let g = G + r * nOut; for j in cols { DB[j] += g[j] } }
            }
        }
    }
    return out
}
