import XCTest
import Tensor

/// Finite-difference gradient check.
///
/// L(inputs) = Σ_i R_i · f(inputs)_i with fixed random weights R (so every output element
/// matters). The analytic gradient comes from backward(); the numeric one from central
/// differences (L(x+ε) − L(x−ε)) / 2ε, with L summed in Double from the float32 outputs.
/// Tolerance: |numeric − analytic| ≤ tol · max(1, |analytic|), ε = 1e-2, tol = 2e-3 by default:
/// the float32 rounding of L (≈1e-7·|L|) divided by 2ε gives ≲1e-4 noise, the O(ε²) truncation
/// ≲1e-4 for these smooth ops (worst seen: 4e-4, division); a wrong backward is off by O(1).
/// Returns the worst error seen (for reporting).
@discardableResult
public func checkGradients(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tol: Float = 2e-3,
                    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) -> Float {
    for t in inputs { t.requiresGrad = true; t.zeroGrad() }
    let out = f(inputs)
    var rng = RandomGenerator(seed: 99)
    let weights = Tensor(randomNormal: out.shape, rng: &rng)
    let w = weights.values
    (out * weights).sum().backward()
    func objective() -> Double {
        let y = withoutGrad { f(inputs) }.values
        return zip(y, w).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    var worst: Float = 0
    for (k, t) in inputs.enumerated() {
        guard let analytic = t.gradValues else { XCTFail("\(name): input \(k) got no gradient", file: file, line: line); continue }
        for i in 0..<t.count {
            let saved = t.values[i]
            t.withUnsafeMutableBufferPointer { $0[i] = saved + eps }
            let plus = objective()
            t.withUnsafeMutableBufferPointer { $0[i] = saved - eps }
            let minus = objective()
            t.withUnsafeMutableBufferPointer { $0[i] = saved }
            let numeric = Float((plus - minus) / Double(2 * eps))
            let err = abs(numeric - analytic[i]) / max(1, abs(analytic[i]))
            worst = max(worst, err)
            if err > tol {
                XCTFail("\(name): input \(k)[\(i)] analytic \(analytic[i]) numeric \(numeric)", file: file, line: line)
                return worst
            }
        }
    }
    print("gradient check \(name): worst relative error \(worst)")
    return worst
}

/// Random normal values of the given shape, nudged away from 0 (at least `gap` from it), so
/// kinked functions (ReLU, |x|) are not probed across their kink.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, gap: Float = 0) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let t = Tensor(randomNormal: shape, std: scale, rng: &rng)
    t.withUnsafeMutableBufferPointer { v in for i in v.indices where abs(v[i]) < gap { v[i] = v[i] < 0 ? -gap : gap } }
    return t
}

/// max |a − b| / max |b|: the relative error the golden tests bound.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "comparing \(a.shape) with \(b.shape)")
    var diff: Float = 0, size: Float = 0
    for (x, y) in zip(a.values, b.values) { diff = max(diff, abs(x - y)); size = max(size, abs(y)) }
    return diff / max(size, 1e-12)
}
