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
        parallelItems(outer) { o in
            for k in 0..<n { for i in 0..<inner { Y[o * inner + i] += X[(o * n + k) * inner + i] } }
            for i in 0..<inner { Y[o * inner + i] *= scale }
        }
        out.record([self]) { [self] out in
            let G = out.grad!.pointer, D = self.gradPointer()
            parallelItems(outer) { o in
                for k in 0..<n { for i in 0..<inner { D[(o * n + k) * inner + i] += scale * G[o * inner + i] } }
            }
        }
        return out
    }
}
