import ArgumentParser
import Common
import Face
import Foundation

/// `cals bench landmarks CROPS.rgb`: times the 68-point landmark predictor on raw 128×128 RGB
/// crops in the fixed LMD box (used by bench/landmarks.py, which times Python dlib on the same
/// crops and compares the points).
struct LandmarkBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landmarks", abstract: "Time the face-landmark predictor on raw 128×128 RGB crops.")

    @Argument(help: "Raw crops: N × 128 × 128 × 3 bytes.")
    var crops: String

    @Option(help: "dlib 68-point landmark model.")
    var model = ShapePredictor.defaultModelPath

    @Option(help: "Timed passes over the crops (the best is reported).")
    var repeats = 3

    @Option(help: "Write the points here: float64 [N, 68, 2].")
    var points: String?

    func run() throws {
        let side = 128, frameBytes = side * side * 3
        guard let data = FileManager.default.contents(atPath: crops), data.count % frameBytes == 0, !data.isEmpty else {
            throw InputError(crops, "not a whole number of 128×128 RGB crops")
        }
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let predictor = try ShapePredictor(contentsOfFile: model)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let bytes = [UInt8](data)
        let images = (0..<(bytes.count / frameBytes)).map {
            RGBImage(width: side, height: side, pixels: Array(bytes[($0 * frameBytes)..<(($0 + 1) * frameBytes)]))
        }
        let box = FaceLandmarks.cropBox(side: side)
        var best = Double.infinity, shapes: [[SIMD2<Double>]] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            shapes = images.map { predictor.landmarks(in: $0, box: box) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        if let points {
            let flat = shapes.flatMap { $0.flatMap { [$0.x, $0.y] } }
            try flat.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: points))
        }
        print(String(format: "%.6f %d %.3f", best, images.count, loadSeconds))
    }
}
