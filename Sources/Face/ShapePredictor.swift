// dlib's shape_predictor (Kazemi & Sullivan 2014, "One millisecond face alignment with an
// ensemble of regression trees"): the model file reader and the inference, computed the way
// dlib computes it so the points agree with dlib's.
import Common
import Foundation

/// A face-landmark predictor: a cascade of forests of regression trees over pixel-difference
/// features, loaded from a dlib `shape_predictor` file (e.g. the 68-point
/// `shape_predictor_68_face_landmarks.dat`). Immutable after loading; safe to share.
///
/// Inference for a face box: the shape starts as the model's mean shape in box-normalised
/// coordinates ([0, 1]² over the box). Each cascade level reads its feature pixels (each an
/// anchor landmark plus an offset, the offset turned and scaled by the similarity transform
/// that maps the mean shape onto the current shape, then mapped into the box), and every tree
/// of the level walks its splits on differences of two feature pixels to a leaf whose shape
/// update is added to the current shape.
public final class ShapePredictor: Sendable {
    public static let modelFileName = "shape_predictor_68_face_landmarks.dat"

    /// The 68-point model where `make landmarks` puts it (relative to the repository root), or
    /// `$CALS_LANDMARK_MODEL`.
    public static var defaultModelPath: String {
        if let path = ProcessInfo.processInfo.environment["CALS_LANDMARK_MODEL"], !path.isEmpty { return path }
        return "data/models/" + modelFileName
    }

    /// Landmarks per shape (68 for the iBUG 300-W scheme).
    public let landmarkCount: Int

    /// The mean shape, box-normalised: [L, 2].
    private let initialShape: [Float]
    private let levels: [Level]
    /// The most feature pixels of a level.
    private let maxFeatureCount: Int

    /// One cascade level: its feature pixels and its forest, flattened.
    private struct Level {
        /// [F] landmark each feature pixel hangs on.
        var anchors: [Int32] = []
        /// [F, 2] offset of each feature pixel from its anchor, in mean-shape units.
        var deltas: [Float] = []
        /// [trees + 1] start of each tree's splits in the split arrays (tree t has
        /// splitStart[t+1] − splitStart[t] splits and one more leaf, its leaves starting at leaf
        /// splitStart[t] + t).
        var splitStart: [Int] = [0]
        /// [splits] the two feature pixels each split compares, and its threshold: go left
        /// (child 2i+1) when pixel1 − pixel2 > threshold, else right (2i+2).
        var pixel1: [Int32] = [], pixel2: [Int32] = [], thresholds: [Float] = []
        /// [leaves, L, 2] shape updates.
        var leaves: [Float] = []

        var treeCount: Int { splitStart.count - 1 }
    }

    /// Loads a dlib shape_predictor file; throws `InputError(path, reason)` when the file is
    /// missing, unreadable, truncated or not a shape_predictor.
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(path, FileManager.default.fileExists(atPath: path)
                             ? "cannot read the landmark model" : "landmark model not found (run `make landmarks`)")
        }
        do {
            (initialShape, levels) = try data.withUnsafeBytes { try ShapePredictor.parse($0) }
        } catch let error as DlibFormatError {
            throw InputError(path, "not a valid dlib shape_predictor file: \(error.reason) (at byte \(error.offset))")
        }
        landmarkCount = initialShape.count / 2
        maxFeatureCount = levels.map(\.anchors.count).max() ?? 0
    }

    /// The model at `path`, or nil when there is no file there (optional metrics skip it); a file
    /// that is there but not a valid model throws as `init(contentsOfFile:)` does.
    public static func loadIfPresent(_ path: String) throws -> ShapePredictor? {
        FileManager.default.fileExists(atPath: path) ? try ShapePredictor(contentsOfFile: path) : nil
    }

    /// Reads version, initial_shape, forests, anchor_idx and deltas (dlib's serialize order)
    /// and checks every index the inference will follow.
    private static func parse(_ bytes: UnsafeRawBufferPointer) throws -> ([Float], [Level]) {
        var reader = DlibDeserializer(bytes)
        let version = try reader.integer(maxBytes: 4)
        guard version == 1 else { throw reader.error("shape_predictor version \(version), expected 1") }
        let initialShape = try reader.floatColumn()
        let shapeSize = initialShape.count, landmarks = shapeSize / 2
        guard shapeSize >= 4, shapeSize % 2 == 0 else {
            throw reader.error("initial shape of \(shapeSize) numbers (an even count of at least 4 expected)")
        }
        guard initialShape.allSatisfy({ $0.isFinite }), meanSpread(initialShape) > 0 else {
            throw reader.error("initial shape is not a finite, spread-out set of points")
        }

        // forests: vector<vector<regression_tree>>; a tree is (vector<split>, vector<matrix>).
        var levels = [Level](repeating: Level(), count: try reader.count(minimumElementBytes: 2))
        for l in levels.indices {
            let trees = try reader.count(minimumElementBytes: 4)
            levels[l].splitStart.reserveCapacity(trees + 1)
            for _ in 0..<trees {
                let splits = try reader.count(minimumElementBytes: 8)
                for _ in 0..<splits {
                    levels[l].pixel1.append(Int32(try reader.unsignedInteger(limit: Int(Int32.max))))
                    levels[l].pixel2.append(Int32(try reader.unsignedInteger(limit: Int(Int32.max))))
                    levels[l].thresholds.append(try reader.float())
                }
                levels[l].splitStart.append(levels[l].pixel1.count)
                let leaves = try reader.count(minimumElementBytes: 4)
                guard leaves == splits + 1 else {
                    throw reader.error("a tree with \(splits) splits has \(leaves) leaves (\(splits + 1) expected)")
                }
                for _ in 0..<leaves {
                    let update = try reader.floatColumn()
                    guard update.count == shapeSize else {
                        throw reader.error("leaf of \(update.count) numbers in a shape of \(shapeSize)")
                    }
                    levels[l].leaves += update
                }
            }
        }
        // anchor_idx: vector<vector<unsigned long>>
        guard try reader.count(minimumElementBytes: 2) == levels.count else {
            throw reader.error("anchor lists do not match the \(levels.count) cascade levels")
        }
        for l in levels.indices {
            levels[l].anchors = try (0..<reader.count(minimumElementBytes: 2)).map { _ in
                Int32(try reader.unsignedInteger(limit: landmarks - 1))
            }
        }
        // deltas: vector<vector<dlib::vector<float,2>>>
        guard try reader.count(minimumElementBytes: 2) == levels.count else {
            throw reader.error("offset lists do not match the \(levels.count) cascade levels")
        }
        for l in levels.indices {
            let features = try reader.count(minimumElementBytes: 8)
            guard features == levels[l].anchors.count else {
                throw reader.error("level \(l): \(features) pixel offsets for \(levels[l].anchors.count) anchors")
            }
            levels[l].deltas = try (0..<(2 * features)).map { _ in try reader.float() }
            guard levels[l].pixel1.allSatisfy({ Int($0) < features }) && levels[l].pixel2.allSatisfy({ Int($0) < features }) else {
                throw reader.error("level \(l): a split reads a feature pixel beyond its \(features)")
            }
        }
        guard reader.remaining == 0 else { throw reader.error("\(reader.remaining) bytes after the model") }
        return (initialShape, levels)
    }

    /// Σ |p − mean|² / L over the points of a [L, 2] shape, in Double (dlib's sigma_from).
    private static func meanSpread(_ shape: [Float]) -> Double {
        let n = shape.count / 2
        var mx = 0.0, my = 0.0
        for i in 0..<n { mx += Double(shape[2 * i]); my += Double(shape[2 * i + 1]) }
        mx /= Double(n); my /= Double(n)
        var s = 0.0
        for i in 0..<n {
            let dx = Double(shape[2 * i]) - mx, dy = Double(shape[2 * i + 1]) - my
            s += dx * dx + dy * dy
        }
        return s / Double(n)
    }

    /// The landmarks of the face in `box` (dlib's rectangle(x, y, x+width−1, y+height−1)), in
    /// image pixels, unrounded ([L] points; dlib's Python API returns them rounded with
    /// floor(v + 0.5)). Pixels are read as dlib reads an RGB image: (R + G + B) / 3, truncated;
    /// feature pixels outside the image read 0.
    public func landmarks(in image: RGBImage, box: FaceBox) -> [SIMD2<Double>] {
        landmarks(in: GreyImage(dlibIntensityOf: image), box: box)
    }

    func landmarks(in image: GreyImage, box: FaceBox) -> [SIMD2<Double>] {
        let shapeSize = initialShape.count
        // Box-normalised → image pixels: (0,0) → top-left, (1,1) → bottom-right pixel.
        let left = Double(box.x), top = Double(box.y)
        let spanX = Double(box.width) - 1, spanY = Double(box.height) - 1
        var shape = initialShape
        var features = [Float](repeating: 0, count: maxFeatureCount)
        shape.withUnsafeMutableBufferPointer { current in
            features.withUnsafeMutableBufferPointer { values in
                image.pixels.withUnsafeBufferPointer { pixels in
                    initialShape.withUnsafeBufferPointer { mean in
                        for level in levels {
                            // Feature pixels: anchor + (similarity mean → current) · delta.
                            let m = ShapePredictor.similarity(from: mean, to: UnsafeBufferPointer(current))
                            level.anchors.withUnsafeBufferPointer { anchors in
                                level.deltas.withUnsafeBufferPointer { deltas in
                                    for i in 0..<anchors.count {
                                        let a = Int(anchors[i]), dx = deltas[2 * i], dy = deltas[2 * i + 1]
                                        let px = (m.0 * dx + m.1 * dy) + current[2 * a]
                                        let py = (m.2 * dx + m.3 * dy) + current[2 * a + 1]
                                        let x = (spanX * Double(px) + left + 0.5).rounded(.down)
                                        let y = (spanY * Double(py) + top + 0.5).rounded(.down)
                                        if x >= 0 && y >= 0 && x < Double(image.width) && y < Double(image.height) {
                                            values[i] = Float(pixels[Int(y) * image.width + Int(x)])
                                        } else {
                                            values[i] = 0
                                        }
                                    }
                                }
                            }
                            ShapePredictor.addTreeUpdates(level, features: UnsafeBufferPointer(values), to: current)
                        }
                    }
                }
            }
        }
        return (0..<(shapeSize / 2)).map { i in
            SIMD2(spanX * Double(shape[2 * i]) + left, spanY * Double(shape[2 * i + 1]) + top)
        }
    }

    /// Walks every tree of `level` on the feature pixels and adds its leaf to `shape` [L, 2].
    private static func addTreeUpdates(_ level: Level, features: UnsafeBufferPointer<Float>,
                                       to shape: UnsafeMutableBufferPointer<Float>) {
        let shapeSize = shape.count
        level.pixel1.withUnsafeBufferPointer { p1 in
            level.pixel2.withUnsafeBufferPointer { p2 in
                level.thresholds.withUnsafeBufferPointer { thresholds in
                    level.leaves.withUnsafeBufferPointer { leaves in
                        // Walk all trees first (the features do not change within a level), then
                        // add the leaves four at a time: each element still gets the leaves in
                        // tree order, so the sums are dlib's, with fewer passes over `shape`.
                        let chosen = [UnsafePointer<Float>](unsafeUninitializedCapacity: level.treeCount) { out, count in
                            for t in 0..<level.treeCount {
                                let first = level.splitStart[t], splits = level.splitStart[t + 1] - first
                                var node = 0
                                while node < splits {
                                    let s = first + node
                                    node = features[Int(p1[s])] - features[Int(p2[s])] > thresholds[s] ? 2 * node + 1 : 2 * node + 2
                                }
                                out[t] = leaves.baseAddress! + (first + t + node - splits) * shapeSize
                            }
                            count = level.treeCount
                        }
                        var t = 0
                        while t + 4 <= chosen.count {
                            let (a, b, c, d) = (chosen[t], chosen[t + 1], chosen[t + 2], chosen[t + 3])
                            for j in 0..<shapeSize { shape[j] = shape[j] + a[j] + b[j] + c[j] + d[j] }
                            t += 4
                        }
                        for leaf in chosen[t...] {
                            for j in 0..<shapeSize { shape[j] += leaf[j] }
                        }
                    }
                }
            }
        }
    }

    /// The 2×2 part (m00, m01, m10, m11) of the least-squares similarity transform (Umeyama)
    /// taking shape `from` onto shape `to` (both [L, 2]), as dlib's find_similarity_transform
    /// computes it in Double, rounded to Float. For 2-D points the SVD solution has a closed
    /// form: with C = Σ (to − mean_to)(from − mean_from)ᵀ and σ = Σ |from − mean_from|²,
    /// c·R = [[p, −q], [q, p]] / σ where p = C00 + C11 and q = C10 − C01.
    private static func similarity(from: UnsafeBufferPointer<Float>, to: UnsafeBufferPointer<Float>)
        -> (Float, Float, Float, Float) {
        let n = from.count / 2
        var fx = 0.0, fy = 0.0, tx = 0.0, ty = 0.0
        for i in 0..<n {
            fx += Double(from[2 * i]); fy += Double(from[2 * i + 1])
            tx += Double(to[2 * i]); ty += Double(to[2 * i + 1])
        }
        fx /= Double(n); fy /= Double(n); tx /= Double(n); ty /= Double(n)
        var sigma = 0.0, c00 = 0.0, c01 = 0.0, c10 = 0.0, c11 = 0.0
        for i in 0..<n {
            let ax = Double(from[2 * i]) - fx, ay = Double(from[2 * i + 1]) - fy
            let bx = Double(to[2 * i]) - tx, by = Double(to[2 * i + 1]) - ty
            sigma += ax * ax + ay * ay
            c00 += bx * ax; c01 += bx * ay; c10 += by * ax; c11 += by * ay
        }
        let p = (c00 + c11) / sigma, q = (c10 - c01) / sigma
        return (Float(p), Float(-q), Float(q), Float(p))
    }
}

/// Mouth landmarks of the 68-point scheme (points 49–68, 1-based) and the landmark distance
/// metric of SPEC §4.
public enum FaceLandmarks {
    /// Indices 48..<68 of a 68-point shape.
    public static let mouth = 48..<68

    /// The fixed face box for a face crop of side S (the `crop` stage's square: 1.15 face sides,
    /// top half a side above the face centre): x, y = 12/128·S, 13/128·S, side 99/128·S, the
    /// mean box dlib's own HOG face detector finds on the demo corpus's 128×128 crops (over its
    /// four speakers the mouth points from this box lie 0.48 px on average from those from each
    /// frame's detected box). Fixed, so a generated frame is measured exactly as its real frame.
    public static func cropBox(side: Int) -> FaceBox {
        FaceBox(x: Int32(side * 12 / 128), y: Int32(side * 13 / 128), width: Int32(side * 99 / 128), height: Int32(side * 99 / 128))
    }

    /// Mean Euclidean distance between corresponding points `indices` of two shapes.
    public static func meanDistance(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>], indices: Range<Int> = mouth) -> Double {
        precondition(indices.upperBound <= min(a.count, b.count) && !indices.isEmpty,
                     "landmark distance over points \(indices) of shapes of \(a.count) and \(b.count)")
        var sum = 0.0
        for i in indices {
            let d = a[i] - b[i]
            sum += (d.x * d.x + d.y * d.y).squareRoot()
        }
        return sum / Double(indices.count)
    }
}

extension GreyImage {
    /// dlib's intensity of an RGB image: (R + G + B) / 3 per pixel, truncated.
    init(dlibIntensityOf image: RGBImage) {
        let count = image.width * image.height
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            image.pixels.withUnsafeBufferPointer { rgb in
                for i in 0..<count {
                    out[i] = UInt8((UInt16(rgb[3 * i]) + UInt16(rgb[3 * i + 1]) + UInt16(rgb[3 * i + 2])) / 3)
                }
            }
            initialized = count
        }
        self.init(width: image.width, height: image.height, pixels: pixels)
    }
}
