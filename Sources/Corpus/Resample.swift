import Common
import Foundation

/// Band-limited resampling by a Hann-windowed sinc (16 zero crossings each side, cut-off at
/// 0.95 × the lower Nyquist frequency). Used for espeak-ng's 22050 Hz speech → 16 kHz; Media's
/// libswresample path is for decoded files, this one keeps the corpus free of FFmpeg types.
/// out[n] = Σ_k x[k] · h(n·from/to − k), out.count = ⌊x.count · to / from⌋.
/// With from/to = M/L in lowest terms, output n sits at phase (n·M mod L)/L between input
/// samples, so the kernel is tabulated once per phase: kernel[phase][tap], taps k − centre in
/// (−halfWidth, halfWidth].
func resample(_ input: [Float], from: Int, to: Int) -> [Float] {
    if from == to || input.isEmpty { return input }
    let g = greatestCommonDivisor(from, to), M = from / g, L = to / g
    let cutoff = 0.95 * min(1.0, Double(to) / Double(from)) // cycles per input sample × 2
    let halfWidth = Int((16.0 / cutoff).rounded(.up))        // taps each side
    let taps = 2 * halfWidth
    var kernel = [Float](repeating: 0, count: L * taps)      // [L, taps]
    for phase in 0..<L {
        let frac = Double(phase) / Double(L)
        for j in 0..<taps {
            let d = frac - Double(j - halfWidth + 1)              // t − k
            let arg = Double.pi * cutoff * d
            let sinc = abs(arg) < 1e-9 ? 1.0 : sin(arg) / arg
            let window = 0.5 + 0.5 * cos(Double.pi * d / Double(halfWidth))
            kernel[phase * taps + j] = Float(cutoff * sinc * window)
        }
    }
    let count = input.count * to / from
    var output = [Float](repeating: 0, count: count)
    input.withUnsafeBufferPointer { x in
    kernel.withUnsafeBufferPointer { h in
    output.withUnsafeMutableBufferPointer { y in
        for n in 0..<count {
            let centre = n * M / L, phase = n * M % L
            let first = centre - halfWidth + 1                   // input index of tap 0
            var sum: Float = 0
            for j in max(0, -first)..<min(taps, x.count - first) {
                sum += x[first + j] * h[phase * taps + j]
            }
            y[n] = sum
        }
    }}}
    return output
}
