import CFFTW
import Common
import Foundation

/// Log-mel spectrogram of 16 kHz mono audio, exactly as SPEC §1 ("mel"):
/// pre-emphasis 0.97 (y[-1] = 0); n_fft 512; periodic Hann of 400 samples zero-padded equally on
/// both sides to 512; hop 160; centred frames (256 zeros at each end), so 1 + ⌊len/160⌋ frames;
/// magnitude; 80 Slaney mel bins (area norm) over 55–7600 Hz;
/// M_dB = 20·log10(max(1e-5, M)) − 20; out = clip(8·(M_dB + 100)/100 − 4, −4, 4).
///
/// The FFTW plan and the filterbank are made once per instance. `logMel` allocates its own work
/// buffers, so one instance may be used from several threads at once.
/// @unchecked Sendable: after `init` the plan and the tables are only read, and FFTW executes
/// one plan on separate arrays from several threads at once (only planning takes `planLock`).
public final class MelSpectrogram: @unchecked Sendable {
    public static let sampleRate = 16_000
    public static let fftSize = 512
    public static let windowLength = 400
    public static let hopLength = 160
    public static let melBinCount = 80
    public static let minFrequency = 55.0
    public static let maxFrequency = 7600.0
    public static let preemphasis: Float = 0.97
    /// Mel frames per audio unit (100 mel frames/s over 25 video frames/s).
    public static let framesPerUnit = 4
    /// The value of silence on the output scale (and the padding of missing unit frames).
    public static let floor: Float = -4

    static let binCount = fftSize / 2 + 1  // 257 frequency bins
    /// 1.6/ln 10: the output scale per natural-log unit of magnitude (see `logMel`).
    static let lnScale = Float(1.6 / log(10.0))
    /// Offset of the 400-sample window inside the 512-sample frame.
    static let windowOffset = (fftSize - windowLength) / 2

    /// FFTW planning (and plan destruction) is not thread-safe; execution is.
    static let planLock = NSLock()

    private let plan: fftwf_plan
    /// [400] periodic Hann: w[i] = 0.5 − 0.5·cos(2πi/400) (zero-padded by 56 on each side to 512).
    private let window: [Float]
    /// [2, 128]: cos(2πk/512) then sin(2πk/512) for k < 128, the twiddles joining the two half
    /// spectra (`compute`).
    private let twiddles: [Float]
    /// [80, 257] row-major Slaney filterbank, identical to librosa.filters.mel(sr=16000,
    /// n_fft=512, n_mels=80, fmin=55, fmax=7600).
    public let filterbank: [Float]
    /// The filterbank in 20 groups of 4 consecutive filters: group g spans the bins where any of
    /// its filters is non-zero (`groupBins[g]`, its length rounded up to a multiple of 4) and
    /// holds, per bin, the 4 filters' weights as one vector (zero outside a filter), concatenated
    /// over groups in `groupWeights`. So mel[4g ..< 4g+4] = Σ_k weights[k]·|X[k]| is one vector
    /// multiply-add per bin (~300 a frame instead of a dense 80×257).
    private let groupBins: [Range<Int>]
    private let groupWeights: [SIMD4<Float>]

    public init() {
        window = (0..<Self.windowLength).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(Self.windowLength))) }
        let weights = Self.slaneyFilterbank()
        filterbank = weights
        let bins = Self.binCount
        groupBins = stride(from: 0, to: Self.melBinCount, by: 4).map { m in
            let used = (m * bins..<(m + 4) * bins).filter { weights[$0] != 0 }.map { $0 % bins }
            let first = used.min() ?? 0, count = (used.max() ?? -1) + 1 - first
            return first..<(first + (count + 3) / 4 * 4)
        }
        groupWeights = groupBins.enumerated().flatMap { g, range in
            range.map { k in SIMD4((0..<4).map { k < bins ? weights[(4 * g + $0) * bins + k] : 0 }) }
        }
        let angles = (0..<Self.fftSize / 4).map { 2 * Double.pi * Double($0) / Double(Self.fftSize) }
        twiddles = angles.map { Float(cos($0)) } + angles.map { Float(sin($0)) }
        // FFTW_ESTIMATE: the same plan (so bit-identical output) on every run, whatever the load.
        let half = Self.fftSize / 2
        let input = fftwf_alloc_complex(half)!
        let output = fftwf_alloc_complex(half)!
        Self.planLock.lock()
        plan = fftwf_plan_dft_1d(Int32(half), input, output, FFTW_FORWARD, UInt32(FFTW_ESTIMATE))
        Self.planLock.unlock()
        fftwf_free(input)
        fftwf_free(output)
    }

    deinit {
        Self.planLock.lock()
        fftwf_destroy_plan(plan)
        Self.planLock.unlock()
    }

    /// Number of mel frames for `sampleCount` samples: 1 + ⌊len/160⌋.
    public static func frameCount(sampleCount: Int) -> Int { 1 + sampleCount / hopLength }

    /// The log-mel spectrogram of 16 kHz mono samples, scaled to [−4, 4].
    /// Returns [F, 80] row-major (frame-major: the 80 bins of frame f are contiguous),
    /// F = 1 + ⌊samples.count/160⌋. With `threadCount` > 1 the frames are split into that many
    /// contiguous runs computed in parallel (same result, bit for bit).
    public func logMel(_ samples: [Float], threadCount: Int = 1) -> [Float] {
        samples.withUnsafeBufferPointer { logMel($0, threadCount: threadCount) }
    }

    public func logMel(_ samples: UnsafeBufferPointer<Float>, threadCount: Int = 1) -> [Float] {
        let frames = Self.frameCount(sampleCount: samples.count)
        let mels = Self.melBinCount
        // No samples: one frame of silence.
        guard samples.baseAddress != nil else { return [Float](repeating: Self.floor, count: mels) }
        // Every row is written by `compute`: no zero fill first.
        return [Float](unsafeUninitializedCapacity: frames * mels) { out, count in
            let runs = max(1, min(threadCount, frames / 256))
            if runs == 1 {
                compute(samples, frames: 0..<frames, into: out.baseAddress!)
            } else {
                concurrentPerform(runs) { r in
                    compute(samples, frames: (frames * r / runs)..<(frames * (r + 1) / runs), into: out.baseAddress!)
                }
            }
            count = frames * mels
        }
    }

    /// Log-mel of `frames` into `out` ([F, 80], rows of those frames only).
    ///
    /// The 512-point real FFT is done as a 256-point complex FFT of z[n] = y[2n] + i·y[2n+1]
    /// (the windowed frame y read as interleaved complex numbers), then split into even and odd
    /// halves: with Z = FFT₂₅₆(z), E[k] = (Z[k] + Z̄[256−k])/2, O[k] = (Z[k] − Z̄[256−k])/2i,
    /// X[k] = E[k] + e^(−2πik/512)·O[k] for k = 0…256. Debian's FFTW has AVX codelets for
    /// complex transforms but only SSE2/scalar ones for real input: the 256-point complex FFT
    /// takes ~0.2 µs a frame where fftwf_plan_dft_r2c_1d(512) took ~0.6 µs.
    private func compute(_ samples: UnsafeBufferPointer<Float>, frames: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = Self.fftSize, half = n / 2, bins = Self.binCount, mels = Self.melBinCount
        let width = Self.windowLength, a = Self.preemphasis
        let len = samples.count
        // Work buffers (per call, so calls may run in parallel): one windowed frame [512] whose
        // 56 + 56 padding samples stay zero, its half-length spectrum Z [256 + 1] complex (the
        // extra Z[256] = Z[0] makes the split below one loop), |X| [257 + 3].
        // fftwf_alloc gives them the SIMD alignment the plan was made with.
        let frame = fftwf_alloc_real(n)!
        let spectrum = fftwf_alloc_complex(half + 1)!
        let magnitude = UnsafeMutablePointer<Float>.allocate(capacity: bins + 3)
        defer { fftwf_free(frame); fftwf_free(spectrum); magnitude.deallocate() }
        frame.initialize(repeating: 0, count: n)
        magnitude.initialize(repeating: 0, count: bins + 3)  // 3 zeros past bin 256 for padded groups
        // fftwf_complex is a (Float, Float) tuple: read it as interleaved floats.
        let z = UnsafeMutableRawPointer(spectrum).assumingMemoryBound(to: Float.self)
        let x = samples.baseAddress!
        let dst = frame + Self.windowOffset
        window.withUnsafeBufferPointer { win in
        twiddles.withUnsafeBufferPointer { tw in
        groupBins.withUnsafeBufferPointer { groups in
        groupWeights.withUnsafeBufferPointer { groupWeight in
            let cosine = tw.baseAddress!, sine = tw.baseAddress! + half / 2
            for f in frames {
                // The window of frame f covers samples t0 ..< t0 + 400, t0 = 160f − 200 (the
                // centred 512 frame starts at 160f − 256); zeros outside the signal.
                // Pre-emphasis y[t] = x[t] − 0.97·x[t−1] with x[−1] = 0.
                let t0 = f * Self.hopLength - width / 2
                if t0 >= 1 && t0 + width <= len {
                    let src = x + t0
                    for i in 0..<width { dst[i] = (src[i] - a * src[i - 1]) * win[i] }
                } else {
                    for i in 0..<width {
                        let t = t0 + i
                        let y: Float = t < 0 || t >= len ? 0 : x[t] - (t > 0 ? a * x[t - 1] : 0)
                        dst[i] = y * win[i]
                    }
                }
                frame.withMemoryRebound(to: fftwf_complex.self, capacity: half) {
                    fftwf_execute_dft(plan, $0, spectrum)
                }
                // |X[k]| and |X[256−k]| from Z[k] = (ar, ai) and Z[256−k] = (br, bi):
                // 2E[k] = (ar + br, ai − bi), 2O[k] = (ai + bi, br − ar), X[k] = E[k] + (c − i·s)·O[k]
                // with c, s = cos, sin(2πk/512); for 256 − k, E and O are conjugated and c negated,
                // so with (p, q) = (c − i·s)·2O[k]: 2X[k] = 2E[k] + (p, q), 2X[256−k] = conj(2E[k]) − (p, −q).
                // Four k at a time, k = 0…127 (Z[256] = Z[0]); then X[128] = conj(Z[128]).
                z[n] = z[0]; z[n + 1] = z[1]
                for k in stride(from: 0, to: half / 2, by: 4) {
                    // z[2k ..< 2k+8] = ar0 ai0 … ar3 ai3; z[2(253−k) ..< 2(257−k)] = br3 bi3 … br0 bi0.
                    let a0 = Self.load(z + 2 * k), a1 = Self.load(z + 2 * k + 4)
                    let b0 = Self.load(z + n - 2 * k - 6), b1 = Self.load(z + n - 2 * k - 2)
                    let ar = SIMD4(a0[0], a0[2], a1[0], a1[2]), ai = SIMD4(a0[1], a0[3], a1[1], a1[3])
                    let br = SIMD4(b1[2], b1[0], b0[2], b0[0]), bi = SIMD4(b1[3], b1[1], b0[3], b0[1])
                    let c = Self.load(cosine + k), s = Self.load(sine + k)
                    let er = ar + br, ei = ai - bi, or = ai + bi, oi = br - ar
                    let p = c * or + s * oi, q = c * oi - s * or
                    let low = 0.5 * ((er + p) * (er + p) + (ei + q) * (ei + q)).squareRoot()
                    let high = 0.5 * ((er - p) * (er - p) + (q - ei) * (q - ei)).squareRoot()
                    Self.store(low, magnitude + k)
                    Self.store(SIMD4(high[3], high[2], high[1], high[0]), magnitude + half - k - 3)
                }
                magnitude[half / 2] = (z[half] * z[half] + z[half + 1] * z[half + 1]).squareRoot()
                // mel[m] = Σ_k filterbank[m, k]·|X[k]|, four filters at a time.
                let row = out + f * mels
                var weight = groupWeight.baseAddress!
                for (g, range) in groups.enumerated() {
                    // Four bins per step, in two sums so that two add chains are in flight.
                    var even = SIMD4<Float>(), odd = SIMD4<Float>()
                    for k in stride(from: range.lowerBound, to: range.upperBound, by: 4) {
                        let m = Self.load(magnitude + k)
                        even += weight[0] * m[0]; odd += weight[1] * m[1]
                        even += weight[2] * m[2]; odd += weight[3] * m[3]
                        weight += 4
                    }
                    Self.store(even + odd, row + 4 * g)
                }
                // dB and the [−4, 4] scale folded into one affine map of ln:
                // 8·(20·log10(M) − 20 + 100)/100 − 4 = (1.6/ln 10)·ln(M) + 2.4.
                for m in 0..<mels { row[m] = min(4, max(-4, Self.lnScale * Self.ln(max(1e-5, row[m])) + 2.4)) }
            }
        }}}}
    }

    /// Four floats from `p` (any alignment).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    /// Four floats to `p` (any alignment).
    @inline(__always)
    static func store(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }

    /// Natural log of a positive normal float, |error| ≲ 1e-6 (libm's logf is the slowest part
    /// otherwise): x = 2^e·m with m ∈ [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1), by its
    /// series to s⁹ (|s| < 0.172, so the first term left out is < 4e-10).
    @inline(__always)
    static func ln(_ x: Float) -> Float {
        // x's bits minus √½'s (0x3f3504f3): the exponent field of the difference is e (one less,
        // by the borrow, when x's mantissa is below √2's), and its mantissa field put back on top
        // of √½'s bits is m ∈ [√½, √2), x = 2^e·m.
        let shifted = Int32(bitPattern: x.bitPattern) &- 0x3f35_04f3
        let e = Float(shifted >> 23)
        let m = Float(bitPattern: UInt32(bitPattern: (shifted & 0x7f_ffff) &+ 0x3f35_04f3))
        let s = (m - 1) / (m + 1), s2 = s * s
        let series = s * (2 + s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7 + s2 * (2.0 / 9)))))
        return e * 0.693_147_18 + series
    }

    /// Audio units for `videoFrameCount` video frames from a [F, 80] log-mel: unit t is mel frames
    /// 4t…4t+3 as an 80×4 array; frames missing at the end are −4, extra ones are dropped.
    /// Returns [N, 80, 4] row-major (unit[t][m][j] = mel[4t + j][m]).
    public static func audioUnits(logMel mel: [Float], videoFrameCount count: Int) -> [Float] {
        let mels = melBinCount, k = framesPerUnit
        precondition(mel.count % mels == 0, "audioUnits: log-mel is not [F, 80]")
        let frames = mel.count / mels
        var units = [Float](repeating: floor, count: count * mels * k)
        mel.withUnsafeBufferPointer { src in
        units.withUnsafeMutableBufferPointer { dst in
            for t in 0..<count {
                let unit = dst.baseAddress! + t * mels * k
                for j in 0..<k where t * k + j < frames {
                    let row = src.baseAddress! + (t * k + j) * mels
                    for m in 0..<mels { unit[m * k + j] = row[m] }
                }
            }
        }}
        return units
    }

    /// Audio units of 16 kHz mono audio for `videoFrameCount` video frames: [N, 80, 4].
    public func audioUnits(_ audio: AudioClip, videoFrameCount: Int) throws -> [Float] {
        guard audio.sampleRate == Self.sampleRate else { throw MelError.sampleRate(audio.sampleRate) }
        return Self.audioUnits(logMel: logMel(audio.samples), videoFrameCount: videoFrameCount)
    }

    /// Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
    static let melStepHz = 200.0 / 3, logMinHz = 1000.0, logMinMel = 15.0, logStep = log(6.4) / 27

    static func hzToMel(_ hz: Double) -> Double {
        hz >= logMinHz ? logMinMel + log(hz / logMinHz) / logStep : hz / melStepHz
    }

    static func melToHz(_ mel: Double) -> Double {
        mel >= logMinMel ? logMinHz * exp(logStep * (mel - logMinMel)) : melStepHz * mel
    }

    /// [80, 257] triangular filters between 82 mel-spaced edges, each scaled by 2/(width in Hz)
    /// (librosa.filters.mel with htk=False, norm="slaney").
    static func slaneyFilterbank() -> [Float] {
        let mels = melBinCount, bins = binCount
        let lo = hzToMel(minFrequency), hi = hzToMel(maxFrequency)
        let edges = (0..<(mels + 2)).map { i in
            melToHz(i == mels + 1 ? hi : lo + Double(i) * (hi - lo) / Double(mels + 1))
        }
        var weights = [Float](repeating: 0, count: mels * bins)
        for m in 0..<mels {
            let norm = 2 / (edges[m + 2] - edges[m])
            for k in 0..<bins {
                let f = Double(k) * Double(sampleRate) / Double(fftSize)
                let lower = (f - edges[m]) / (edges[m + 1] - edges[m])
                let upper = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
                weights[m * bins + k] = Float(max(0, min(lower, upper)) * norm)
            }
        }
        return weights
    }
}

public enum MelError: Error, CustomStringConvertible {
    case sampleRate(Int)
    public var description: String {
        switch self {
        case .sampleRate(let rate): return "audio is \(rate) Hz; the mel spectrogram needs 16000 Hz"
        }
    }
}
