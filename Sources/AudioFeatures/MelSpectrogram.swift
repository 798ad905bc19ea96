import CFFTW
import COpenBLAS
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
    /// Complex outputs per frame in the work buffer: 257 rounded up so every frame starts on a
    /// 32-byte boundary (FFTW's new-array execute needs the plan's alignment).
    static let outStride = 264
    /// Frames transformed per block (bounds the work buffers to ~0.3 MB).
    static let blockFrames = 64

    /// FFTW planning (and plan destruction) is not thread-safe; execution is.
    static let planLock = NSLock()

    private let plan: fftwf_plan
    /// [512] periodic Hann(400) zero-padded 56 samples on each side.
    private let window: [Float]
    /// [80, 257] row-major Slaney filterbank, identical to librosa.filters.mel(sr=16000,
    /// n_fft=512, n_mels=80, fmin=55, fmax=7600).
    public let filterbank: [Float]

    public init() {
        let n = Self.fftSize
        window = Self.paddedHann()
        filterbank = Self.slaneyFilterbank()
        // FFTW_ESTIMATE: the same plan (so bit-identical output) on every run, whatever the load.
        let input = fftwf_alloc_real(n)!
        let output = fftwf_alloc_complex(Self.outStride)!
        Self.planLock.lock()
        plan = fftwf_plan_dft_r2c_1d(Int32(n), input, output, UInt32(FFTW_ESTIMATE))
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
    /// F = 1 + ⌊samples.count/160⌋.
    public func logMel(_ samples: [Float]) -> [Float] {
        samples.withUnsafeBufferPointer { logMel($0) }
    }

    public func logMel(_ samples: UnsafeBufferPointer<Float>) -> [Float] {
        let n = Self.fftSize, bins = Self.binCount, mels = Self.melBinCount
        let frames = Self.frameCount(sampleCount: samples.count)
        let block = Self.blockFrames
        var result = [Float](repeating: 0, count: frames * mels)
        // Work buffers: windowed frames [block, 512], spectra [block, 264] complex, magnitudes
        // [block, 257]. fftwf_alloc keeps them SIMD-aligned like the planning arrays.
        let frameBuf = fftwf_alloc_real(block * n)!
        let specBuf = fftwf_alloc_complex(block * Self.outStride)!
        let magBuf = UnsafeMutablePointer<Float>.allocate(capacity: block * bins)
        defer { fftwf_free(frameBuf); fftwf_free(specBuf); magBuf.deallocate() }
        let len = samples.count
        window.withUnsafeBufferPointer { win in
        filterbank.withUnsafeBufferPointer { fb in
        result.withUnsafeMutableBufferPointer { out in
            var f0 = 0
            while f0 < frames {
                let count = min(block, frames - f0)
                for b in 0..<count {
                    // Frame f covers original samples [160f − 256, 160f + 256) (zeros outside);
                    // pre-emphasis y[t] = x[t] − 0.97·x[t−1] with x[−1] = 0.
                    let dst = frameBuf + b * n
                    let start = (f0 + b) * Self.hopLength - n / 2
                    for i in 0..<n {
                        let t = start + i
                        var y: Float = 0
                        if t >= 0 && t < len {
                            y = samples[t] - (t > 0 ? Self.preemphasis * samples[t - 1] : 0)
                        }
                        dst[i] = y * win[i]
                    }
                    let spec = specBuf + b * Self.outStride
                    fftwf_execute_dft_r2c(plan, dst, spec)
                    // fftwf_complex is a (Float, Float) tuple: read it as interleaved floats.
                    let c = UnsafeMutableRawPointer(spec).assumingMemoryBound(to: Float.self)
                    let mag = magBuf + b * bins
                    for k in 0..<bins {
                        let re = c[2 * k], im = c[2 * k + 1]
                        mag[k] = (re * re + im * im).squareRoot()
                    }
                }
                // mel[count, 80] = mag[count, 257] · filterbankᵀ[257, 80]
                let dst = out.baseAddress! + f0 * mels
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(mels), Int32(bins),
                            1, magBuf, Int32(bins), fb.baseAddress!, Int32(bins), 0, dst, Int32(mels))
                for i in 0..<(count * mels) {
                    let db = 20 * log10f(max(1e-5, dst[i])) - 20
                    dst[i] = min(4, max(-4, 8 * (db + 100) / 100 - 4))
                }
                f0 += count
            }
        }}}
        return result
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

    /// [512] periodic Hann of 400 (w[i] = 0.5 − 0.5·cos(2πi/400)) centred in 512 zeros.
    static func paddedHann() -> [Float] {
        let pad = (fftSize - windowLength) / 2
        var w = [Float](repeating: 0, count: fftSize)
        for i in 0..<windowLength {
            w[pad + i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(windowLength)))
        }
        return w
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
