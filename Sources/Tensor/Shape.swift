// Shape ops: reshape shares storage; permute, slice and concat copy (tensors stay contiguous).

extension Tensor {
    /// Same data, new shape (one dimension may be −1). Shares storage; the gradient is reshaped back.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(self.shape) to \(newShape)")
            shape[i] = count / known
        }
        precondition(shape.reduce(1, *) == count, "cannot reshape \(self.shape) to \(newShape)")
        let out = Tensor(shape: shape, storage: storage)
        out.record([self]) { [self] out in
            let G = out.grad!.pointer, (D, fresh) = self.gradForWriting()
            parallelRanges(count) { r in store(D, fresh: fresh, r) { G[$0] } }
        }
        return out
    }

    /// Reorders dimensions: out.shape[i] = shape[dims[i]] (copies).
    public func permuted(_ dims: [Int]) -> Tensor {
        precondition(dims.sorted() == Array(0..<rank), "permutation \(dims) of a rank-\(rank) tensor")
        let outShape = dims.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        // Strides of the input walked in output order; the "b" operand of the row walker is unused.
        let s = dims.map { inStrides[$0] }
        let zeros = [Int](repeating: 0, count: rank)
        let out = Tensor(shape: outShape)
        let n = outShape.last ?? 1, inner = s.last ?? 0
        let X = data, Y = out.data
        forEachBroadcastRow(outShape, s, zeros) { o, xo, _ in
            for j in 0..<n { Y[o + j] = X[xo + j * inner] }
        }
        out.record([self]) { [self] out in
            let G = out.grad!.pointer, D = self.gradPointer()
            forEachBroadcastRow(outShape, s, zeros) { o, xo, _ in
                for j in 0..<n { D[xo + j * inner] += G[o + j] }
            }
        }
        return out
    }

    /// Swaps two dimensions.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var dims = Array(0..<rank)
        dims.swapAt(a, b)
        return permuted(dims)
    }

    /// The elements with index in `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice \(range) of axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = range.count
        let out = Tensor(shape: outShape)
        let chunk = range.count * inner, src = shape[axis] * inner, start = range.lowerBound * inner
        for o in 0..<outer { (out.data + o * chunk).update(from: data + o * src + start, count: chunk) }
        out.record([self]) { [self] out in
            let G = out.grad!.pointer, D = self.gradPointer()
            for o in 0..<outer { for i in 0..<chunk { D[o * src + start + i] += G[o * chunk + i] } }
        }
        return out
    }
}

/// Joins tensors along `axis` (other dimensions must agree).
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0].shape
    for t in tensors {
        precondition(t.rank == first.count && (0..<t.rank).allSatisfy { $0 == axis || t.shape[$0] == first[$0] },
                     "concat along \(axis) of shapes \(tensors.map(\.shape))")
    }
    let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
    var outShape = first
    outShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
    let out = Tensor(shape: outShape)
    let rowOut = outShape[axis] * inner
    var start = 0
    var starts: [Int] = []
    for t in tensors {
        let chunk = t.shape[axis] * inner
        for o in 0..<outer { (out.data + o * rowOut + start).update(from: t.data + o * chunk, count: chunk) }
        starts.append(start)
        start += chunk
    }
    out.record(tensors) { out in
        let G = out.grad!.pointer
        for (t, start) in zip(tensors, starts) where t.requiresGrad {
            let chunk = t.shape[axis] * inner, D = t.gradPointer()
            for o in 0..<outer { for i in 0..<chunk { D[o * chunk + i] += G[o * rowOut + start + i] } }
        }
    }
    return out
}
