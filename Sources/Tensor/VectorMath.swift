// Scalar math written so that loops calling it vectorise: no libm calls, no branches (selects
// only), no trapping float → int conversions. libm's expf/erff are one call per element.

#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// √v in every lane (IEEE, the same bits as Float.squareRoot). On Linux Float.squareRoot keeps a
/// libm fallback call (for errno), which stops loops from vectorising; SSE's sqrtps has none.
@inlinable @inline(__always)
public func squareRoot(_ v: SIMD4<Float>) -> SIMD4<Float> {
    #if arch(x86_64)
    return _mm_sqrt_ps(v)
    #else
    return v.squareRoot()
    #endif
}

/// e^x with relative error ≤ 2e-7 (Cephes expf): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a
/// degree-6 polynomial, 2^n built in the exponent bits. Exactly 0 for x < −87.3 (and −∞);
/// arguments above 88.3 are clamped to 88.3 (callers pass x ≤ 0).
@inline(__always)
func vectorExp(_ x: Float) -> Float {
    let xc = min(max(x, -87.3), 88.3)
    // n = round(x / ln2): adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    let shifted = xc * 1.44269504088896341 + 12_582_912
    let n = shifted - 12_582_912
    let r = xc - n * 0.693359375 + n * 2.12194440e-4   // ln2 split in two for an exact product
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r * r + r + 1
    let twoToN = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23)
    return x < -87.3 ? 0 : p * twoToN
}

/// GELU (exact erf form) and its derivative at x: y = x·Φ(x), dy/dx = Φ(x) + x·φ(x), with
/// Φ(x) = ½(1 + erf(x/√2)) and φ(x) = e^(−x²/2)/√(2π). erf by Abramowitz & Stegun 7.1.26
/// (|error| ≤ 1.5e-7, so |Δy| ≤ 0.75e-7·|x|; the form PyTorch's vectorised CPU erf uses); the
/// tail ½·erfc(|x|/√2) is computed directly (no 1 − erf cancellation), and the one e^(−x²/2)
/// serves both Φ and φ.
@inline(__always)
func geluWithSlope(_ x: Float) -> (value: Float, slope: Float) {
    let u = abs(x) * 0.70710678118654752   // |x|/√2
    let t = 1 / (1 + 0.3275911 * u)
    let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    let gauss = vectorExp(-u * u)          // e^(−x²/2)
    let tail = 0.5 * poly * gauss          // ½·erfc(|x|/√2) = Φ(−|x|)
    let cdf = x < 0 ? tail : 1 - tail      // Φ(x)
    return (x * cdf, cdf + x * gauss * 0.39894228040143268)
}
