import Foundation

/// Image-quality metrics of SPEC §4 on 8-bit RGB frames [H, W, 3] (row-major, interleaved), the
/// way scikit-image computes them (`skimage.metrics.peak_signal_noise_ratio` and
/// `structural_similarity(..., channel_axis=-1, data_range=255)`), in Double.
public enum ImageMetrics {
    /// A rectangle of a frame: rows × columns.
    public struct Region: Equatable, Sendable {
        public var rows: Range<Int>, columns: Range<Int>
        public init(rows: Range<Int>, columns: Range<Int>) { self.rows = rows; self.columns = columns }

        /// The whole frame.
        public static func full(width: Int, height: Int) -> Region { Region(rows: 0..<height, columns: 0..<width) }

        /// The mouth of a face crop of side S: rows S/2 ..< 7S/8, columns S/4 ..< 3S/4 (the lower
        /// half the generator paints, without the chin margin and the cheeks).
        public static func mouth(side: Int) -> Region {
            Region(rows: (side / 2)..<(7 * side / 8), columns: (side / 4)..<(3 * side / 4))
        }
    }

    /// PSNR = 10·log10(255² / MSE) over the pixels of `region` (all channels); +∞ when equal.
    public static func psnr(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                            region: Region? = nil) -> Double {
        psnr(meanSquaredError: meanSquaredError(a, b, width: width, height: height, region: region))
    }

    /// 10·log10(255² / mse); +∞ for 0.
    public static func psnr(meanSquaredError mse: Double) -> Double {
        mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Mean of (a − b)² over the pixels of `region` (all channels), in 8-bit units.
    public static func meanSquaredError(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                                        region: Region? = nil) -> Double {
        precondition(a.count == width * height * 3 && b.count == a.count, "MSE of frames that are not [\(height), \(width), 3]")
        let r = region ?? .full(width: width, height: height)
        precondition(r.rows.lowerBound >= 0 && r.rows.upperBound <= height && r.columns.lowerBound >= 0
                     && r.columns.upperBound <= width && !r.rows.isEmpty && !r.columns.isEmpty, "MSE region \(r)")
        var sum: Double = 0
        for y in r.rows {
            let row = y * width * 3
            for i in (row + 3 * r.columns.lowerBound)..<(row + 3 * r.columns.upperBound) {
                let d = Double(a[i]) - Double(b[i])
                sum += d * d
            }
        }
        return sum / Double(r.rows.count * r.columns.count * 3)
    }

    /// Mean SSIM (Wang et al. 2004) as skimage's default: 7×7 uniform windows, sample covariances
    /// (×49/48), K1 = 0.01, K2 = 0.03, L = 255; the mean over window centres at least 3 pixels from
    /// the border, then over the three channels. 1 for identical frames.
    public static func ssim(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, width: Int, height: Int) -> Double {
        precondition(a.count == width * height * 3 && b.count == a.count, "SSIM of frames that are not [\(height), \(width), 3]")
        let win = 7, np = Double(win * win), covNorm = np / (np - 1)
        precondition(width >= win && height >= win, "SSIM needs frames of at least \(win)×\(win)")
        let c1 = (0.01 * 255.0) * (0.01 * 255.0), c2 = (0.03 * 255.0) * (0.03 * 255.0)
        // Summed-area tables of x, y, x², y², xy for one channel: [(H+1), (W+1)] each.
        let stride = width + 1, tableSize = (height + 1) * stride
        var tables = [Double](repeating: 0, count: 5 * tableSize)
        var total: Double = 0
        tables.withUnsafeMutableBufferPointer { t in
            let T = t.baseAddress!
            for ch in 0..<3 {
                for y in 0..<height {
                    var run = (0.0, 0.0, 0.0, 0.0, 0.0)
                    for x in 0..<width {
                        let p = Double(a[(y * width + x) * 3 + ch]), q = Double(b[(y * width + x) * 3 + ch])
                        run.0 += p; run.1 += q; run.2 += p * p; run.3 += q * q; run.4 += p * q
                        let at = (y + 1) * stride + x + 1, above = y * stride + x + 1
                        T[at] = T[above] + run.0
                        T[tableSize + at] = T[tableSize + above] + run.1
                        T[2 * tableSize + at] = T[2 * tableSize + above] + run.2
                        T[3 * tableSize + at] = T[3 * tableSize + above] + run.3
                        T[4 * tableSize + at] = T[4 * tableSize + above] + run.4
                    }
                }
                // mean over windows [y, y+7) × [x, x+7)
                func windowMean(_ k: Int, _ y: Int, _ x: Int) -> Double {
                    let s = T + k * tableSize
                    return (s[(y + win) * stride + x + win] - s[y * stride + x + win]
                            - s[(y + win) * stride + x] + s[y * stride + x]) / np
                }
                var sum: Double = 0
                for y in 0...(height - win) {
                    for x in 0...(width - win) {
                        let ux = windowMean(0, y, x), uy = windowMean(1, y, x)
                        let vx = covNorm * (windowMean(2, y, x) - ux * ux)
                        let vy = covNorm * (windowMean(3, y, x) - uy * uy)
                        let vxy = covNorm * (windowMean(4, y, x) - ux * uy)
                        sum += (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
                    }
                }
                total += sum / Double((height - win + 1) * (width - win + 1))
            }
        }
        return total / 3
    }
}
