// Reductions: sum and mean over one axis or over everything.

extension Tensor {
    /// Sum over `axis` ([outer, n, inner] → [outer, inner]); the axis stays as size 1 when `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        reduce(axis: axis, keepDims: keepDims, scale: 1)
    }

    /// Mean over `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        reduce(axis: axis, keepDims: keepDims, scale: 1 / Float(shape[axis]))
    }

    /// Sum of all elements (shape []).
    public func sum() -> Tensor { reshaped([count]).reduce(axis: 0, keepDims: false, scale: 1) }

    /// Mean of all elements (shape []).
    public func mean() -> Tensor { reshaped([count]).reduce(axis: 0, keepDims: false, scale: 1 / Float(count)) }

    private func reduce(axis: Int, keepDims: Bool, scale: Float) -> Tensor {
        precondition(axis >= 0 && axis < rank, "axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[axis] = 1 } else { outShape.remove(at: axis) }
        let out = Tensor(shape: outShape, zeroed: true)
        let X = data, Y = out.data
        if inner == 1 && outer == 1 {   // everything: blocks in parallel
            Y[0] = scale * Float(blockedSum(n, { vector8(X + $0) }, { X[$0] }))
        } else if inner == 1 {          // contiguous rows
            parallelItems(outer) { o in Y[o] = scale * Float(contiguousSum(X + o * n, n)) }
        } else {
            parallelItems(outer) { o in
                for k in 0..<n { for i in 0..<inner { Y[o * inner + i] += X[(o * n + k) * inner + i] } }
                for i in 0..<inner { Y[o * inner + i] *= scale }
            }
        }
        out.record([self]) { [self] out in
            let G = out.grad!.pointer, (D, fresh) = self.gradForWriting()
            if outer == 1 && inner == 1 {   // every element gets scale · g
                let g = scale * G[0]
                parallelRanges(n) { r in store(D, fresh: fresh, r) { _ in g } }
                return
            }
            parallelItems(outer) { o in
                for k in 0..<n {
                    store(D + (o * n + k) * inner, fresh: fresh, 0..<inner) { scale * G[o * inner + $0] }
                }
            }
        }
        return out
    }
}

/// Σ x² over a buffer in Double (see blockedSum): the same result for any thread count.
public func sumOfSquares(_ x: UnsafeBufferPointer<Float>) -> Double {
    guard let p = x.baseAddress else { return 0 }
    return blockedSum(x.count, { let v = vector8(p + $0); return v * v }, { p[$0] * p[$0] })
}

/// laneSum over 0..<n in fixed blocks of 2¹⁵ terms summed in parallel, then added in block order.
@inline(__always)
func blockedSum(_ n: Int, _ block: (Int) -> SIMD8<Float>, _ term: (Int) -> Float) -> Double {
    let size = 1 << 15, blocks = (n + size - 1) / size
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { S in
        parallelItems(blocks) { b in
            let start = b * size
            S[b] = laneSum(min(size, n - start), { block(start + $0) }, { term(start + $0) })
        }
    }
    return partial.reduce(0, +)
}

/// Σ x[0..<n] (see laneSum).
@inline(__always)
func contiguousSum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    laneSum(n, { vector8(x + $0) }, { x[$0] })
}

/// Σ term(j) over j in 0..<n in eight interleaved Double partial sums (PyTorch's accumulation
/// type for float on CPU): vectorised, and the same order on every run. `block(j)` returns terms
/// j..<j+8 as one vector; `term(j)` one term (for the tail).
@inline(__always)
func laneSum(_ n: Int, _ block: (Int) -> SIMD8<Float>, _ term: (Int) -> Float) -> Double {
    var lanes = SIMD8<Double>()
    var j = 0
    while j + 8 <= n { lanes += SIMD8<Double>(block(j)); j += 8 }
    var total = lanes.sum()
    while j < n { total += Double(term(j)); j += 1 }
    return total
}

/// The eight floats at p.
@inline(__always)
func vector8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
