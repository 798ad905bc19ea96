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

/// An elementwise function of two floats and its partial derivatives, given the output's
/// gradient g. Ops are generic over it, so each specialises into its own vectorised loops.
private protocol BinaryFunction {
    static func value(_ a: Float, _ b: Float) -> Float
    static func gradA(_ g: Float, _ a: Float, _ b: Float) -> Float
    static func gradB(_ g: Float, _ a: Float, _ b: Float) -> Float
}

private enum Sum: BinaryFunction {
    static func value(_ a: Float, _ b: Float) -> Float { a + b }
    static func gradA(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
    static func gradB(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
}
private enum Difference: BinaryFunction {
    static func value(_ a: Float, _ b: Float) -> Float { a - b }
    static func gradA(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
    static func gradB(_ g: Float, _ a: Float, _ b: Float) -> Float { -g }
}
private enum Product: BinaryFunction {
    static func value(_ a: Float, _ b: Float) -> Float { a * b }
    static func gradA(_ g: Float, _ a: Float, _ b: Float) -> Float { g * b }
    static func gradB(_ g: Float, _ a: Float, _ b: Float) -> Float { g * a }
}
private enum Quotient: BinaryFunction {
    static func value(_ a: Float, _ b: Float) -> Float { a / b }
    static func gradA(_ g: Float, _ a: Float, _ b: Float) -> Float { g / b }
    static func gradB(_ g: Float, _ a: Float, _ b: Float) -> Float { -g * a / (b * b) }
}

/// out = F(a, b) with broadcasting; backward adds F.gradA into a.grad and F.gradB into b.grad,
/// summing over broadcast dimensions.
private func broadcastBinary<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _: F.Type) -> Tensor {
    let A = a.data, B = b.data
    if a.shape == b.shape {   // fast path: same shape, flat and parallel
        let out = Tensor(shape: a.shape)
        let Y = out.data
        parallelRanges(a.count) { r in for i in r { Y[i] = F.value(A[i], B[i]) } }
        out.record([a, b]) { out in
            let G = out.grad!.pointer
            if a.requiresGrad {
                let (DA, fresh) = a.gradForWriting()
                parallelRanges(a.count) { r in store(DA, fresh: fresh, r) { F.gradA(G[$0], A[$0], B[$0]) } }
            }
            if b.requiresGrad {
                let (DB, fresh) = b.gradForWriting()
                parallelRanges(b.count) { r in store(DB, fresh: fresh, r) { F.gradB(G[$0], A[$0], B[$0]) } }
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
        for j in 0..<n { Y[o + j] = F.value(A[ao + j * ia], B[bo + j * ib]) }
    }
    out.record([a, b]) { out in
        let G = out.grad!.pointer
        let DA = a.requiresGrad ? a.gradPointer() : nil, DB = b.requiresGrad ? b.gradPointer() : nil
        forEachBroadcastRow(shape, sa, sb) { o, ao, bo in
            for j in 0..<n {
                let g = G[o + j], x = A[ao + j * ia], y = B[bo + j * ib]
                DA?[ao + j * ia] += F.gradA(g, x, y)
                DB?[bo + j * ib] += F.gradB(g, x, y)
            }
        }
    }
    return out
}

public func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, Sum.self) }
public func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, Difference.self) }
public func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, Product.self) }
public func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, Quotient.self) }

// MARK: - Scalar affine: y = scale · x + shift

public func affine(_ x: Tensor, scale: Float, shift: Float = 0) -> Tensor {
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data
    parallelRanges(x.count) { r in for i in r { Y[i] = scale * X[i] + shift } }
    out.record([x]) { out in
        let G = out.grad!.pointer, (DX, fresh) = x.gradForWriting()
        parallelRanges(x.count) { r in store(DX, fresh: fresh, r) { scale * G[$0] } }
    }
    return out
}
public func * (x: Tensor, s: Float) -> Tensor { affine(x, scale: s) }
public func * (s: Float, x: Tensor) -> Tensor { affine(x, scale: s) }
public func + (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: s) }
public func - (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: -s) }
public prefix func - (x: Tensor) -> Tensor { affine(x, scale: -1) }

// MARK: - Activations (forward and backward per function)

/// An elementwise function with its derivative at x: (y, dy/dx). Activations are generic over
/// it, so each specialises into its own loop with the math inlined (vectorised where it can be).
private protocol UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float)
}

/// Applies y = f(x) elementwise. When a gradient will be needed, the slope dy/dx is computed in
/// the same forward pass and saved, so backward is one multiply: x.grad += g · slope.
private func unary<F: UnaryFunction>(_ x: Tensor, _ f: F) -> Tensor {
    let out = Tensor(shape: x.shape)
    let X = x.data, Y = out.data, n = x.count
    guard Tensor.recordsGradient(from: [x]) else {
        parallelRanges(n, grain: 1 << 14) { r in for i in r { Y[i] = f(X[i]).value } }
        return out
    }
    let slope = Storage(count: n)
    let D = slope.pointer
    parallelRanges(n, grain: 1 << 14) { r in
        for i in r { let (y, dydx) = f(X[i]); Y[i] = y; D[i] = dydx }
    }
    out.record([x]) { out in
        let G = out.grad!.pointer, (DX, fresh) = x.gradForWriting(), D = slope.pointer   // slope kept alive by this closure
        parallelRanges(n, grain: 1 << 14) { r in store(DX, fresh: fresh, r) { G[$0] * D[$0] } }
    }
    return out
}

private struct ReLU: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { (max(x, 0), x > 0 ? 1 : 0) }
}
private struct LeakyReLU: UnaryFunction {
    let negativeSlope: Float
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) {
        (x > 0 ? x : negativeSlope * x, x > 0 ? 1 : negativeSlope)
    }
}
private struct GELU: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { geluWithSlope(x) }
}
private struct Sigmoid: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { let y = 1 / (1 + expf(-x)); return (y, y * (1 - y)) }
}
private struct Tanh: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { let y = tanhf(x); return (y, 1 - y * y) }
}
private struct Exp: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { let y = expf(x); return (y, y) }
}
private struct Log: UnaryFunction {
    func callAsFunction(_ x: Float) -> (value: Float, slope: Float) { (logf(x), 1 / x) }
}

/// max(x, 0)
public func relu(_ x: Tensor) -> Tensor { unary(x, ReLU()) }

/// x for x > 0, slope · x otherwise (PyTorch default slope 0.01).
public func leakyRelu(_ x: Tensor, slope: Float = 0.01) -> Tensor { unary(x, LeakyReLU(negativeSlope: slope)) }

/// GELU, exact erf form (PyTorch's default): y = x · Φ(x), Φ(x) = ½(1 + erf(x/√2)), with
/// dy/dx = Φ(x) + x · φ(x) (see geluWithSlope).
public func gelu(_ x: Tensor) -> Tensor { unary(x, GELU()) }

/// 1 / (1 + e^−x); dy/dx = y (1 − y).
public func sigmoid(_ x: Tensor) -> Tensor { unary(x, Sigmoid()) }

/// tanh x; dy/dx = 1 − y².
public func tanh(_ x: Tensor) -> Tensor { unary(x, Tanh()) }

/// e^x; dy/dx = y.
public func exp(_ x: Tensor) -> Tensor { unary(x, Exp()) }

/// ln x; dy/dx = 1/x.
public func log(_ x: Tensor) -> Tensor { unary(x, Log()) }

// MARK: - Dropout

extension Tensor {
    /// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p).
    /// The mask is a hash of (key, index in the global batch) (see DropoutMask, BatchPositions:
    /// dimension 0 is the batch): backward recomputes it. Draw `key` from the run's RandomGenerator.
    public func dropout(p: Float, key: UInt64, positions: BatchPositions = .whole) -> Tensor {
        let x = self
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        let scale = 1 / (1 - p), mask = DropoutMask(p: p, key: key)
        let perSample = max(1, x.rank == 0 ? 1 : x.count / max(1, x.shape[0]))
        let out = Tensor(shape: x.shape)
        let X = x.data, Y = out.data
        parallelRanges(x.count) { r in
            DropoutMask.runs(r, perSample: perSample, positions: positions) { run, shift in
                for i in run { Y[i] = X[i] * mask.factor(i + shift, scale) }
            }
        }
        out.record([x]) { out in
            let G = out.grad!.pointer, (DX, fresh) = x.gradForWriting()
            parallelRanges(x.count) { r in
                DropoutMask.runs(r, perSample: perSample, positions: positions) { run, shift in
                    store(DX, fresh: fresh, run) { G[$0] * mask.factor($0 + shift, scale) }
                }
            }
        }
        return out
    }
}
