import Foundation

/// Band-limited resampling by a Hann-windowed sinc (16 zero crossings each side, cut-off at
/// 0.95 × the lower Nyquist frequency). Used for espeak-ng's 22050 Hz speech → 16 kHz; Media's
/// libswresample path is for decoded files, this one keeps the corpus free of FFmpeg types.
/// out[n] = Σ_k x[k] · h(n·from/to − k), out.count = ⌊x.count · to / from⌋.
func resample(_ input: [Float], from: Int, to: Int) -> [Float] {
    if from == to || input.isEmpty { return input }
    let ratio = Double(from) / Double(to)            // input samples per output sample
    let cutoff = 0.95 * min(1.0, 1.0 / ratio)        // in cycles per input sample × 2
    let halfWidth = Int((16.0 / cutoff).rounded(.up)) // taps each side, in input samples
    let count = input.count * to / from
    var output = [Float](repeating: 0, count: count)
    input.withUnsafeBufferPointer { x in
        output.withUnsafeMutableBufferPointer { y in
            for n in 0..<count {
                let t = Double(n) * ratio
                let center = Int(t)
                let lo = max(0, center - halfWidth + 1), hi = min(x.count - 1, center + halfWidth)
                var sum = 0.0
                if lo <= hi {
                    for k in lo...hi {
                        let d = t - Double(k)
                        let arg = Double.pi * cutoff * d
                        let sinc = abs(arg) < 1e-9 ? 1.0 : sin(arg) / arg
                        let window = 0.5 + 0.5 * cos(Double.pi * d / Double(halfWidth))
                        sum += Double(x[k]) * cutoff * sinc * window
                    }
                }
                y[n] = Float(sum)
            }
        }
    }
    return output
}
