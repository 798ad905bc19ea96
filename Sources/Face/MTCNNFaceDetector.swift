// The CNN face detector (`detector: cnn`): MTCNN (Zhang et al. 2016, "Joint Face Detection and
// Alignment using Multi-task Cascaded Convolutional Networks") with facenet-pytorch's weights, run
// on our tensor engine and computed the way facenet-pytorch's `MTCNN.detect` computes it, so the
// boxes, scores and five landmarks agree with it (the golden test).
import Common
import Foundation
import NN
import Tensor

/// MTCNN: P-Net proposes faces on an image pyramid, R-Net (24×24 crops) and O-Net (48×48 crops,
/// with five landmarks) refine and score them. Weights: `mtcnn.safetensors`, converted from the
/// facenet-pytorch wheel by `make setup` (tools/mtcnn_weights.py). Not thread-safe: give each
/// thread its own detector.
public final class MTCNNFaceDetector: FaceDetecting {
    public static let name = "cnn"

    public struct Parameters: FaceDetectorParameters {
        /// Smallest face searched for, in pixels of the frame's analysis copy (facenet-pytorch: 20).
        public var minFaceSize = 20
        /// Scale step between pyramid levels, in (0, 1) (facenet-pytorch: 0.709).
        public var pyramidFactor = 0.709
        /// Face probabilities a candidate needs after P-Net, R-Net and O-Net.
        public var proposalThreshold = 0.6
        public var refineThreshold = 0.7
        public var outputThreshold = 0.7

        public init() {}

        public func validate() throws {
            guard minFaceSize >= 12 else { throw FaceParameterError("minFaceSize must be >= 12") }
            guard pyramidFactor > 0 && pyramidFactor < 1 else { throw FaceParameterError("pyramidFactor must be in (0, 1)") }
            for (name, t) in [("proposalThreshold", proposalThreshold), ("refineThreshold", refineThreshold),
                              ("outputThreshold", outputThreshold)] {
                guard t >= 0 && t < 1 else { throw FaceParameterError("\(name) must be in [0, 1)") }
            }
        }
    }

    public static let modelFileName = "mtcnn.safetensors"

    /// The weights where `make setup` puts them (relative to the repository root), or
    /// `$CALS_MTCNN_MODEL`.
    public static var defaultModelPath: String {
        if let path = ProcessInfo.processInfo.environment["CALS_MTCNN_MODEL"], !path.isEmpty { return path }
        return "data/models/" + modelFileName
    }

    public let parameters: Parameters
    private let weights: [String: Tensor]

    public convenience init(parameters: Parameters) throws {
        try self.init(modelPath: MTCNNFaceDetector.defaultModelPath, parameters: parameters)
    }

    /// Loads the weights at `modelPath`; a missing file, or one without every tensor at its shape,
    /// throws one InputError naming the file and `make setup`.
    public init(modelPath: String, parameters: Parameters = Parameters()) throws {
        try parameters.validate()
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw InputError(modelPath, "MTCNN weights not found (run `make setup`)")
        }
        let tensors: [String: Tensor]
        do { tensors = try Safetensors.read(modelPath).tensors } catch let error as InputError {
            throw InputError(modelPath, "\(error.reason) (damaged MTCNN weights: run `make setup` again)")
        }
        for (name, shape) in MTCNNFaceDetector.networks.flatMap({ $0.weightShapes }) {
            guard let t = tensors[name] else { throw InputError(modelPath, "missing tensor \(name) (run `make setup` again)") }
            guard t.shape == shape else {
                throw InputError(modelPath, "tensor \(name) has shape \(t.shape), expected \(shape) (run `make setup` again)")
            }
        }
        self.parameters = parameters
        self.weights = tensors
    }

    /// Faces on `frame` in source pixels, largest first. The pyramid starts at the analysis copy's
    /// scale (`minFaceSize` is in its pixels); with `search`, P-Net runs only inside the square
    /// around its box and at those of the whole frame's pyramid levels that can give its sizes.
    /// A whole-frame search that finds no face tries turned copies of the frame (`turnedFaces`).
    public func detect(in frame: FaceFrame, near search: FaceSearch?) throws -> [FaceDetection] {
        let image = frame.image
        let analysisScale = Double(frame.grey.width) / Double(image.width)
        let minFace = Double(parameters.minFaceSize) / analysisScale
        var window: Region? = nil
        var sizes = 0...Double.infinity
        if let search {
            let box = search.box, side = (box.width + box.height) / 2, half = side * search.regionScale / 2
            let cx = box.x + box.width / 2, cy = box.y + box.height / 2
            let x0 = max(0, Int((cx - half).rounded(.down))), y0 = max(0, Int((cy - half).rounded(.down)))
            let x1 = min(image.width, Int((cx + half).rounded(.up))), y1 = min(image.height, Int((cy + half).rounded(.up)))
            guard x1 > x0, y1 > y0 else { return [] }
            window = Region(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
            // A face of those sizes can come from levels whose window is half the smallest to twice
            // the largest: P-Net's, R-Net's and O-Net's regressions grow and shrink the boxes.
            sizes = side / (2 * search.sizeRatio)...2 * side * search.sizeRatio
        }
        let found = faces(in: image, window: window, minFace: minFace, sizes: sizes)
        guard search == nil, found.isEmpty else { return found }
        return try turnedFaces(in: frame)
    }

    /// O-Net alone on `box` grown to a square (as the cascade squares R-Net's boxes before O-Net):
    /// between frames a face moves little, and O-Net's regression and landmarks follow it from
    /// the last box at the cost of one 48×48 crop, against P-Net's levels and R-Net's crops of
    /// a search. The face if O-Net scores it above `outputThreshold`, else nil.
    public func face(near box: Box, in frame: FaceFrame) throws -> FaceDetection? {
        let last = Candidate(x1: Float(box.x), y1: Float(box.y), x2: Float(box.x + box.width), y2: Float(box.y + box.height), score: 0)
        guard let start = last.finite?.square else { return nil }
        let refined = refine([start], frame.image, network: MTCNNFaceDetector.onet, size: 48,
                             threshold: Float(parameters.outputThreshold)).compactMap { $0.regressed.finite }
        return refined.first.map(detection)
    }

    /// facenet-pytorch's detect_face on `image`, with P-Net at the pyramid levels
    /// 12/minFace · pyramidFactor^k whose window side 12/scale (the face size the level finds)
    /// lies in `sizes`, and only on the part of each level inside `window` (source pixels; nil:
    /// everywhere). There P-Net's outputs are those of the whole level, so a face inside gets the
    /// whole image's proposals, and R-Net and O-Net refine the same boxes. Results in image
    /// pixels, largest box first.
    func faces(in image: RGBImage, window: Region? = nil, minFace: Double, sizes: ClosedRange<Double> = 0...Double.infinity)
        -> [FaceDetection] {
        let p = parameters
        // Stage 1: P-Net on the pyramid; NMS per level (IoU 0.5), then over all levels (IoU 0.7).
        var scales: [Double] = []
        var scale = 12 / minFace, shortSide = Double(min(image.width, image.height)) * scale
        while shortSide >= 12 && 12 / scale <= sizes.upperBound {
            if 12 / scale >= sizes.lowerBound { scales.append(scale) }
            scale *= p.pyramidFactor
            shortSide *= p.pyramidFactor
        }
        var boxes: [Candidate] = []
        for scale in scales {
            boxes += nms(proposals(image, window, scale: scale), threshold: 0.5, overlap: .union)
        }
        boxes = nms(boxes, threshold: 0.7, overlap: .union).compactMap { b in
            let w = b.x2 - b.x1, h = b.y2 - b.y1   // P-Net's regression uses x2 − x1 (no +1)
            return Candidate(x1: b.x1 + b.reg[0] * w, y1: b.y1 + b.reg[1] * h, x2: b.x2 + b.reg[2] * w,
                             y2: b.y2 + b.reg[3] * h, score: b.score).finite?.square
        }
        // Stage 2: R-Net on 24×24 crops.
        boxes = refine(boxes, image, network: MTCNNFaceDetector.rnet, size: 24, threshold: Float(p.refineThreshold))
        boxes = nms(boxes, threshold: 0.7, overlap: .union).compactMap { $0.regressed.finite?.square }
        // Stage 3: O-Net on 48×48 crops: score, regression and landmarks (relative to the box
        // before regression), then NMS by intersection over the smaller box.
        boxes = refine(boxes, image, network: MTCNNFaceDetector.onet, size: 48, threshold: Float(p.outputThreshold))
            .compactMap { $0.regressed.finite }
        boxes = nms(boxes, threshold: 0.7, overlap: .minimum)
        func area(_ b: Candidate) -> Float { (b.x2 - b.x1) * (b.y2 - b.y1) }
        return boxes.sorted { area($0) > area($1) }.map(detection)
    }

    /// An O-Net candidate as a face in source pixels.
    private func detection(_ b: Candidate) -> FaceDetection {
        let box = Box(x: Double(b.x1), y: Double(b.y1), width: Double(b.x2 - b.x1), height: Double(b.y2 - b.y1))
        let landmarks = b.points.map { points in points.map { SIMD2<Double>(Double($0.x), Double($0.y)) } }
        return FaceDetection(box: box, score: Double(b.score), landmarks: landmarks)
    }

    // MARK: The networks

    /// One layer of a network.
    private enum Layer {
        case conv(String, outputs: Int, inputs: Int, kernel: Int)
        case prelu(String, channels: Int)
        case maxPool(kernel: Int, stride: Int)   // ceil mode
        /// [N, C, H, W] → [N, W·H·C], PyTorch's x.permute(0, 3, 2, 1) flattened.
        case flatten
        case dense(String, outputs: Int, inputs: Int)
    }

    /// A network: its body, then heads (probabilities, box regression, landmarks) on the body's output.
    private struct Network {
        let name: String
        let body: [Layer]
        let heads: [Layer]

        /// Every weight tensor's name and shape.
        var weightShapes: [(String, [Int])] {
            (body + heads).flatMap { layer -> [(String, [Int])] in
                switch layer {
                case let .conv(n, o, i, k): return [("\(name).\(n).weight", [o, i, k, k]), ("\(name).\(n).bias", [o])]
                case let .prelu(n, c): return [("\(name).\(n).weight", [c])]
                case let .dense(n, o, i): return [("\(name).\(n).weight", [o, i]), ("\(name).\(n).bias", [o])]
                case .maxPool, .flatten: return []
                }
            }
        }
    }

    private static let pnet = Network(name: "pnet", body: [
        .conv("conv1", outputs: 10, inputs: 3, kernel: 3), .prelu("prelu1", channels: 10), .maxPool(kernel: 2, stride: 2),
        .conv("conv2", outputs: 16, inputs: 10, kernel: 3), .prelu("prelu2", channels: 16),
        .conv("conv3", outputs: 32, inputs: 16, kernel: 3), .prelu("prelu3", channels: 32),
    ], heads: [.conv("conv4_1", outputs: 2, inputs: 32, kernel: 1), .conv("conv4_2", outputs: 4, inputs: 32, kernel: 1)])

    private static let rnet = Network(name: "rnet", body: [
        .conv("conv1", outputs: 28, inputs: 3, kernel: 3), .prelu("prelu1", channels: 28), .maxPool(kernel: 3, stride: 2),
        .conv("conv2", outputs: 48, inputs: 28, kernel: 3), .prelu("prelu2", channels: 48), .maxPool(kernel: 3, stride: 2),
        .conv("conv3", outputs: 64, inputs: 48, kernel: 2), .prelu("prelu3", channels: 64),
        .flatten, .dense("dense4", outputs: 128, inputs: 576), .prelu("prelu4", channels: 128),
    ], heads: [.dense("dense5_1", outputs: 2, inputs: 128), .dense("dense5_2", outputs: 4, inputs: 128)])

    private static let onet = Network(name: "onet", body: [
        .conv("conv1", outputs: 32, inputs: 3, kernel: 3), .prelu("prelu1", channels: 32), .maxPool(kernel: 3, stride: 2),
        .conv("conv2", outputs: 64, inputs: 32, kernel: 3), .prelu("prelu2", channels: 64), .maxPool(kernel: 3, stride: 2),
        .conv("conv3", outputs: 64, inputs: 64, kernel: 3), .prelu("prelu3", channels: 64), .maxPool(kernel: 2, stride: 2),
        .conv("conv4", outputs: 128, inputs: 64, kernel: 2), .prelu("prelu4", channels: 128),
        .flatten, .dense("dense5", outputs: 256, inputs: 1152), .prelu("prelu5", channels: 256),
    ], heads: [.dense("dense6_1", outputs: 2, inputs: 256), .dense("dense6_2", outputs: 4, inputs: 256),
               .dense("dense6_3", outputs: 10, inputs: 256)])

    private static let networks = [pnet, rnet, onet]

    /// The network's heads on input x [N, 3, H, W] (weights as loaded and checked at init).
    private func run(_ network: Network, _ x: Tensor) -> [Tensor] {
        func weight(_ layer: String, _ kind: String) -> Tensor { weights["\(network.name).\(layer).\(kind)"]! }
        func apply(_ layer: Layer, _ x: Tensor) -> Tensor {
            switch layer {
            case let .conv(n, _, _, _): return conv2d(x, weight: weight(n, "weight"), bias: weight(n, "bias"))
            case let .prelu(n, _): return prelu(x, weight: weight(n, "weight"))
            case let .maxPool(k, s): return maxPool2d(x, kernel: k, stride: s, ceilMode: true)
            case .flatten: return x.permuted([0, 3, 2, 1]).reshaped([x.shape[0], x.count / x.shape[0]])
            case let .dense(n, _, _): return linear(x, weight: weight(n, "weight"), bias: weight(n, "bias"))
            }
        }
        let body = network.body.reduce(x) { apply($1, $0) }
        return network.heads.map { apply($0, body) }
    }

    // MARK: The stages

    /// A face candidate in image pixels (corners), with P-Net's or the last network's regression
    /// and, after O-Net, its five landmarks.
    private struct Candidate {
        var x1, y1, x2, y2, score: Float
        var reg = SIMD4<Float>(repeating: 0)
        var points: [SIMD2<Float>]? = nil

        /// nil when a coordinate is not finite (weights from a file may hold anything).
        var finite: Candidate? {
            [x1, y1, x2, y2, score].allSatisfy({ $0.isFinite }) && (points ?? []).allSatisfy({ $0.x.isFinite && $0.y.isFinite })
                ? self : nil
        }

        /// Grown to a square about its centre (facenet-pytorch's rerec).
        var square: Candidate {
            var c = self
            let w = x2 - x1, h = y2 - y1, l = max(w, h)
            c.x1 = x1 + w * 0.5 - l * 0.5
            c.y1 = y1 + h * 0.5 - l * 0.5
            c.x2 = c.x1 + l
            c.y2 = c.y1 + l
            return c
        }

        /// Moved by `reg` in units of the box's inclusive size (facenet-pytorch's bbreg).
        var regressed: Candidate {
            var c = self
            let w = x2 - x1 + 1, h = y2 - y1 + 1
            c.x1 = x1 + reg[0] * w
            c.y1 = y1 + reg[1] * h
            c.x2 = x2 + reg[2] * w
            c.y2 = y2 + reg[3] * h
            return c
        }
    }

    /// P-Net at one pyramid scale: every 12×12 window (stride 2 in the scaled image) whose face
    /// probability reaches the threshold, as a box in image pixels with its regression; with
    /// `window`, only the windows of the scaled image's part that covers it.
    private func proposals(_ image: RGBImage, _ window: Region?, scale: Double) -> [Candidate] {
        let h = Int(Double(image.height) * scale + 1), w = Int(Double(image.width) * scale + 1)
        guard h >= 12 && w >= 12 else { return [] }
        // The part P-Net runs on, in scaled pixels: its first row and column even (P-Net's stride
        // is 2, so its outputs there are the whole level's), its size even unless it reaches the
        // level's edge (so no output reads past it: the ceil-mode pooling's partial window).
        func span(_ start: Int, _ length: Int, _ limit: Int) -> Range<Int> {
            let lo = max(0, Int((Double(start) * scale).rounded(.down)) / 2 * 2)
            var hi = min(limit, Int((Double(start + length) * scale).rounded(.up)))
            if hi < limit && (hi - lo) % 2 == 1 { hi += 1 }
            return lo..<max(lo, hi)
        }
        let rows = window.map { span($0.y, $0.height, h) } ?? 0..<h
        let columns = window.map { span($0.x, $0.width, w) } ?? 0..<w
        guard rows.count >= 12 && columns.count >= 12 else { return [] }
        let x = Tensor(shape: [1, 3, rows.count, columns.count])
        x.withUnsafeMutableBufferPointer {
            areaResample(image, Region(x: 0, y: 0, width: image.width, height: image.height), width: w, height: h,
                         rows: rows, columns: columns, into: $0.baseAddress!)
        }
        let out = run(MTCNNFaceDetector.pnet, x)
        let (probs, reg) = (out[0].values, out[1].values)   // [1, 2, oh, ow], [1, 4, oh, ow]
        let oh = out[0].shape[2], ow = out[0].shape[3], plane = oh * ow
        let threshold = Float(parameters.proposalThreshold), s = Float(scale)
        var found: [Candidate] = []
        for y in 0..<oh { for xx in 0..<ow {
            let score = faceProbability(probs[y * ow + xx], probs[plane + y * ow + xx])
            guard score >= threshold else { continue }
            let fx = Float(xx + columns.lowerBound / 2), fy = Float(y + rows.lowerBound / 2)
            var c = Candidate(x1: ((2 * fx + 1) / s).rounded(.down), y1: ((2 * fy + 1) / s).rounded(.down),
                              x2: ((2 * fx + 12) / s).rounded(.down), y2: ((2 * fy + 12) / s).rounded(.down), score: score)
            for k in 0..<4 { c.reg[k] = reg[k * plane + y * ow + xx] }
            if c.finite != nil { found.append(c) }
        }}
        return found
    }

    /// R-Net or O-Net on `size`×`size` crops of the boxes (clipped to the image, as
    /// facenet-pytorch's pad does): the boxes whose face probability exceeds `threshold`, with
    /// their new score, regression and (O-Net) landmarks.
    private func refine(_ boxes: [Candidate], _ image: RGBImage, network: Network, size: Int,
                        threshold: Float) -> [Candidate] {
        // pad: truncated corners, 1-based, clipped to [1, width] × [1, height]; the crop is
        // rows y−1..<ey, columns x−1..<ex.
        let crops: [(Candidate, Region)] = boxes.compactMap { b in
            func clip(_ v: Float, _ limit: Int) -> Int { Int(max(-1, min(Float(limit), v.rounded(.towardZero)))) }
            let x = max(1, clip(b.x1, image.width)), y = max(1, clip(b.y1, image.height))
            let ex = min(image.width, clip(b.x2, image.width)), ey = min(image.height, clip(b.y2, image.height))
            guard ex > x - 1 && ey > y - 1 else { return nil }
            return (b, Region(x: x - 1, y: y - 1, width: ex - x + 1, height: ey - y + 1))
        }
        // The crops go through the network in batches of at most `batchSize`, not all at once: the
        // engine's buffer pool keeps freed buffers by size class, and one batch of as many crops
        // as a frame has candidates would leave another set of buffers in the pool for almost
        // every count (hundreds of MB over a video); 8 sizes of batch leave at most 8.
        let batchSize = 8, plane = 3 * size * size
        var kept: [Candidate] = []
        for start in stride(from: 0, to: crops.count, by: batchSize) {
            let batch = crops[start..<min(crops.count, start + batchSize)]
            let input = Tensor(shape: [batch.count, 3, size, size])
            input.withUnsafeMutableBufferPointer { buffer in
                for (i, crop) in batch.enumerated() {
                    areaResample(image, crop.1, width: size, height: size, into: buffer.baseAddress! + i * plane)
                }
            }
            let out = run(network, input).map(\.values)   // probabilities logits [n, 2], regression [n, 4], (landmarks [n, 10])
            for (i, (box, _)) in batch.enumerated() {
                let score = faceProbability(out[0][2 * i], out[0][2 * i + 1])
                guard score > threshold else { continue }
                var c = box
                c.score = score
                for k in 0..<4 { c.reg[k] = out[1][4 * i + k] }
                if out.count > 2 {
                    let p = Array(out[2][(10 * i)..<(10 * i + 10)]), w = box.x2 - box.x1 + 1, h = box.y2 - box.y1 + 1
                    c.points = (0..<5).map { SIMD2(w * p[$0] + box.x1 - 1, h * p[5 + $0] + box.y1 - 1) }
                }
                kept.append(c)
            }
        }
        return kept
    }

    /// softmax([background, face])[1].
    private func faceProbability(_ background: Float, _ face: Float) -> Float { 1 / (1 + Foundation.exp(background - face)) }

    /// How NMS measures overlap: IoU of the corner boxes (torchvision's nms), or intersection over
    /// the smaller box with inclusive pixel sizes (facenet-pytorch's NumPy "Min" NMS).
    private enum Overlap { case union, minimum }

    /// Greedy non-maximum suppression: highest score first, dropping every box that overlaps a
    /// kept one by more than `threshold`; the kept boxes by descending score.
    private func nms(_ boxes: [Candidate], threshold: Float, overlap: Overlap) -> [Candidate] {
        let one: Float = overlap == .minimum ? 1 : 0
        func area(_ b: Candidate) -> Float { (b.x2 - b.x1 + one) * (b.y2 - b.y1 + one) }
        var kept: [Candidate] = []
        for b in boxes.sorted(by: { $0.score > $1.score }) {
            let suppressed = kept.contains { k in
                let w = max(0, min(k.x2, b.x2) - max(k.x1, b.x1) + one), h = max(0, min(k.y2, b.y2) - max(k.y1, b.y1) + one)
                let inter = w * h
                let o = overlap == .minimum ? inter / min(area(k), area(b)) : inter / (area(k) + area(b) - inter)
                return o > threshold
            }
            if !suppressed { kept.append(b) }
        }
        return kept
    }

    /// PyTorch's interpolate(mode: "area") (adaptive average pooling) of `region` of `image` to
    /// width × height, normalised to (v − 127.5) / 128: its rows `rows` and columns `columns`
    /// (default all), written planar [3, rows.count, columns.count] at `out`. Output row i averages
    /// the rows ⌊i·H/height⌋ ..< ⌈(i+1)·H/height⌉ (columns alike), summed in the same order
    /// whatever part is asked for.
    private func areaResample(_ image: RGBImage, _ region: Region, width: Int, height: Int,
                              rows: Range<Int>? = nil, columns: Range<Int>? = nil, into out: UnsafeMutablePointer<Float>) {
        let rows = rows ?? 0..<height, columns = columns ?? 0..<width
        let rw = region.width, rh = region.height
        let sx0 = columns.lowerBound * rw / width, sx1 = (columns.upperBound * rw + width - 1) / width   // source columns read
        let rowFloats = (sx1 - sx0) * 3
        var means = [Float](repeating: 0, count: rows.count * rowFloats)   // [rows, sx1 − sx0, 3]: vertical means
        image.pixels.withUnsafeBufferPointer { px in means.withUnsafeMutableBufferPointer { means in
            for i in rows {
                let y0 = i * rh / height, y1 = ((i + 1) * rh + height - 1) / height
                let dst = means.baseAddress! + (i - rows.lowerBound) * rowFloats
                for y in y0..<y1 {
                    let src = px.baseAddress! + ((region.y + y) * image.width + region.x + sx0) * 3
                    for k in 0..<rowFloats { dst[k] += Float(src[k]) }
                }
                let inv = 1 / Float(y1 - y0)
                for k in 0..<rowFloats { dst[k] *= inv }
            }
            for j in columns {
                let x0 = j * rw / width - sx0, x1 = ((j + 1) * rw + width - 1) / width - sx0, inv = 1 / Float(x1 - x0)
                for i in 0..<rows.count {
                    let row = means.baseAddress! + i * rowFloats
                    for c in 0..<3 {
                        var s: Float = 0
                        for x in x0..<x1 { s += row[x * 3 + c] }
                        out[(c * rows.count + i) * columns.count + j - columns.lowerBound] = (s * inv - 127.5) * 0.0078125
                    }
                }
            }
        } }
    }
}
