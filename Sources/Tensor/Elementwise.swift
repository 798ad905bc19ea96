import Foundation

// MARK: - Broadcasting binary ops (add, sub, mul, div)

/// NumPy broadcasting of two shapes (aligned at the trailing dimension).
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let r = max(a.count, b.count)
    return (0..<r).map { i -> Int in
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
        return max(da, db)
    }
}

/// Element strides of `shape` seen inside `outShape`: 0 along broadcast (size-1 or missing) dims.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let pad = outShape.count - shape.count
    var strides = [Int](repeating: 0, count: outShape.count)
    var s = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[d + pad] = shape[d] == 1 ? 0 : s
        s *= shape[d]
    }
    return strides
}

/// Walks the rows (last dimension) of `outShape`, calling body(outOffset, aOffset, bOffset) with
/// the offsets of each row's first element in the output and in the two broadcast inputs.
func forEachBroadcastRow(_ outShape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let r = outShape.count
    let n = outShape.last ?? 1
    let rows = outShape.reduce(1, *) / max(n, 1)
    var index = [Int](repeating: 0, count: max(r - 1, 0))
    var ao = 0, bo = 0
    for row in 0..<rows {
        body(row * n, ao, bo)
        var d = r - 2
        while d >= 0 {
            index[d] += 1; ao += sa[d]; bo += sb[d]
            if index[d] < outShape[d] { break }
            ao -= sa[d] * outShape[d]; bo -= sb[d] * outShape[d]; index[d] = 0
            d -= 1
        }
    }
}

/// out = f(a, b) with broadcasting; backward adds dfa(g, a, b) into a.grad and dfb(g, a, b)
/// into b.grad, summing over broadcast dimensions.
@inline(__always)
private func broadcastBinary(_ a: Tensor, _ b: Tensor,
                             _ f: @escaping (Float, Float) -> Float,
                             _ dfa: @escaping (Float, Float, Float) -> Float,
                             _ dfb: @escaping (Float, Float, Float) -> Float) -> Tensor {
    let A = a.data, B = b.data
    if a.shape == b.shape {   // fast path: same shape, flat and parallel
        let out = Tensor(shape: a.shape)
        let Y = out.data
        parallelRanges(a.count) { r in for i in r { Y[i] = f(A[i], B[i]) } }
        out.record([a, b]) { out in
            let G = out.grad!.pointer
            if a.requiresGrad {
                let DA = a.gradPointer()
                parallelRanges(a.count) { r in for i in r { DA[i] += dfa(G[i], A[i], B[i]) } }
            }
            if b.requiresGrad {
                let DB = b.gradPointer()
                parallelRanges(b.count) { r in for i in r { DB[i] += dfb(G[i], A[i], B[i]) } }
            }
        }
        return out
    }
    let shape = broadcastShape(a.shape, b.shape)
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    let n = shape.last ?? 1, ia = sa.last ?? 0, ib = sb.last ?? 0
    let out = Tensor(shape: shape)
    let Y = out.data
    forEachBroadcastRow(shape, sa, sb) { o, ao, bo in
        for j in 0..<n { Y[o + j] = f(A[ao + j * ia], B[bo + j * ib]) }
    }
    out.record([a, b]) { out in
        let G = out.grad!.pointer
        let DA = a.requiresGrad ? a.gradPointer() : nil, DB = b.requiresGrad ? b.gradPointer() : nil
        forEachBroadcastRow(shape, sa, sb) { o, ao, bo in
            for j in 0..<n {
                let g = G[o + j], x = A[ao + j * ia], y = B[bo + j * ib]
                DA?[ao + j * ia] += dfa(g, x, y)
                DB?[bo + j * ib] += dfb(g, x, y)
            }
        }
    }
    return out
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    broadcastBinary(a, b, { $0 + $1 }, { g, _, _ in g }, { g, _, _ in g })
}
public func - (a: Tensor, b: Tensor) -> Tensor {
    broadcastBinary(a, b, { $0 - $1 }, { g, _, _ in g }, { g, _, _ in -g })
}
public func * (a: Tensor, b: Tensor) -> Tensor {
    broadcastBinary(a, b, { $0 * $1 }, { g, _, y in g * y }, { g, x, _ in g * x })
}
public func / (a: Tensor, b: Tensor) -> Tensor {
    broadcastBinary(a, b, { $0 / $1 }, { g, _, y in g / y }, { g, x, y in -g * x / (y * y) })
}

// MARK: - Scalar affine: y = scale · x + shift

public func affine(_ x: Tensor, scale: Float, shift: Float = 0) -> Tensor {
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data
    parallelRanges(x.count) { r in for i in r { Y[i] = scale * X[i] + shift } }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer()
        parallelRanges(x.count) { r in for i in r { DX[i] += scale * G[i] } }
    }
    return out
}
public func * (x: Tensor, s: Float) -> Tensor { affine(x, scale: s) }
public func * (s: Float, x: Tensor) -> Tensor { affine(x, scale: s) }
public func + (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: s) }
public func - (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: -s) }
public prefix func - (x: Tensor) -> Tensor { affine(x, scale: -1) }

// MARK: - Activations (forward and backward per function; y is the forward output)

/// Applies y = f(x) elementwise; backward adds g · dydx(x, y) into x.grad.
@inline(__always)
private func unary(_ x: Tensor, _ f: @escaping (Float) -> Float,
                   _ dydx: @escaping (Float, Float) -> Float) -> Tensor {
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data
    parallelRanges(x.count, grain: 1 << 14) { r in for i in r { Y[i] = f(X[i]) } }
    out.record([x]) { out in
        let G = out.grad!.pointer, DX = x.gradPointer(), Y = out.data
        parallelRanges(x.count, grain: 1 << 14) { r in for i in r { DX[i] += G[i] * dydx(X[i], Y[i]) } }
    }
    return out
}

/// max(x, 0)
public func relu(_ x: Tensor) -> Tensor {
    unary(x, { max($0, 0) }, { x, _ in x > 0 ? 1 : 0 })
}

/// x for x > 0, slope · x otherwise (PyTorch default slope 0.01).
public func leakyRelu(_ x: Tensor, slope: Float = 0.01) -> Tensor {
    unary(x, { $0 > 0 ? $0 : slope * $0 }, { x, _ in x > 0 ? 1 : slope })
}

/// GELU, exact erf form (PyTorch's default): x · Φ(x), Φ(x) = ½(1 + erf(x/√2)).
/// dy/dx = Φ(x) + x · φ(x), φ(x) = exp(−x²/2)/√(2π).
public func gelu(_ x: Tensor) -> Tensor {
    let invSqrt2: Float = 0.70710678118654752, invSqrt2Pi: Float = 0.39894228040143268
    return unary(x, { 0.5 * $0 * (1 + erff($0 * invSqrt2)) }, { x, _ in
        0.5 * (1 + erff(x * invSqrt2)) + x * expf(-0.5 * x * x) * invSqrt2Pi
    })
}

/// 1 / (1 + e^−x); dy/dx = y (1 − y).
public func sigmoid(_ x: Tensor) -> Tensor {
    unary(x, { 1 / (1 + expf(-$0)) }, { _, y in y * (1 - y) })
}

/// tanh x; dy/dx = 1 − y².
public func tanh(_ x: Tensor) -> Tensor {
    unary(x, { tanhf($0) }, { _, y in 1 - y * y })
}

/// e^x; dy/dx = y.
public func exp(_ x: Tensor) -> Tensor { unary(x, { expf($0) }, { _, y in y }) }

/// ln x; dy/dx = 1/x.
public func log(_ x: Tensor) -> Tensor { unary(x, { logf($0) }, { x, _ in 1 / x }) }

// MARK: - Dropout

extension Tensor {
    /// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p).
    /// The mask is a hash of (key, index), so backward recomputes it instead of storing it and the
    /// pattern does not depend on threading. Draw `key` from the run's RandomGenerator.
    public func dropout(p: Float, key: UInt64) -> Tensor {
        let x = self
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        let scale = 1 / (1 - p)
        let out = Tensor(shape: x.shape)
        let X = x.data, Y = out.data
        parallelRanges(x.count) { r in for i in r { Y[i] = hashUniform(key, i) < p ? 0 : X[i] * scale } }
        out.record([x]) { out in
            let G = out.grad!.pointer, DX = x.gradPointer()
            parallelRanges(x.count) { r in for i in r where hashUniform(key, i) >= p { DX[i] += G[i] * scale } }
        }
        return out
    }
}
