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
        if inner == 1 {   // sums of contiguous rows, in fixed blocks so long rows use every thread
            let block = 1 << 15, blocks = (n + block - 1) / block
            let partial = Storage(count: outer * blocks)
            let S = partial.pointer
            parallelItems(outer * blocks) { ob in
                let o = ob / blocks, start = (ob % blocks) * block
                S[ob] = Float(contiguousSum(X + o * n + start, min(block, n - start)))
            }
            for o in 0..<outer { Y[o] = scale * Float(contiguousSum(S + o * blocks, blocks)) }
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
