import Foundation
import Tensor
import TestSupport
import Training
import XCTest

/// PSNR / SSIM / mouth PSNR against scikit-image on random frames (golden/metrics_reference.py).
final class MetricsTests: XCTestCase {
    /// A random frame and a noisy copy of it (so SSIM is neither ~0 nor 1).
    func framePair(width: Int, height: Int, noise: Float, seed: UInt64) -> ([UInt8], [UInt8]) {
        var rng = RandomGenerator(seed: seed)
        let n = width * height * 3
        // smooth-ish content: a gradient plus noise, so local statistics vary across the frame
        let a = (0..<n).map { i -> UInt8 in
            let x = (i / 3) % width, y = i / 3 / width
            return UInt8(clamping: Int(Float(2 * x + y) + 40 * rng.normal()))
        }
        let b = a.map { UInt8(clamping: Int(Float($0) + noise * rng.normal())) }
        return (a, b)
    }

    func testMetricsMatchScikitImage() throws {
        let dir = ScratchDir("metrics")
        for (case_, (width, height, noise)) in [(128, 128, Float(12)), (40, 29, 60), (128, 128, 2)].enumerated() {
            let (a, b) = framePair(width: width, height: height, noise: noise, seed: UInt64(10 + case_))
            let region = ImageMetrics.Region.mouth(side: min(width, height))
            try Data(a).write(to: URL(fileURLWithPath: dir.path("a.raw")))
            try Data(b).write(to: URL(fileURLWithPath: dir.path("b.raw")))
            let out = try runPython("Tests/TrainingTests/golden/metrics_reference.py",
                                    [dir.path("a.raw"), dir.path("b.raw"), "\(height)", "\(width)",
                                     "\(region.rows.lowerBound)", "\(region.rows.upperBound)",
                                     "\(region.columns.lowerBound)", "\(region.columns.upperBound)"])
            let reference = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Double]
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                let psnr = ImageMetrics.psnr(pa, pb, width: width, height: height)
                let ssim = ImageMetrics.ssim(pa, pb, width: width, height: height)
                let mouth = ImageMetrics.psnr(pa, pb, width: width, height: height, region: region)
                print("metrics \(width)x\(height) noise \(noise): PSNR \(psnr) SSIM \(ssim) mouth PSNR \(mouth); skimage \(reference)")
                XCTAssertEqual(psnr, reference["psnr"]!, accuracy: 1e-9)
                XCTAssertEqual(ssim, reference["ssim"]!, accuracy: 1e-9)
                XCTAssertEqual(mouth, reference["region_psnr"]!, accuracy: 1e-9)
            } }
        }
    }

    func testRealVersusRealIsInfinitePSNRAndSSIMOne() {
        let (a, _) = framePair(width: 128, height: 128, noise: 0, seed: 3)
        a.withUnsafeBufferPointer { p in
            XCTAssertEqual(ImageMetrics.psnr(p, p, width: 128, height: 128), .infinity)
            XCTAssertEqual(ImageMetrics.psnr(p, p, width: 128, height: 128, region: .mouth(side: 128)), .infinity)
            XCTAssertEqual(ImageMetrics.ssim(p, p, width: 128, height: 128), 1, accuracy: 1e-12)
        }
    }
}
