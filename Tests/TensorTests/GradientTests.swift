import XCTest
import ModelTestSupport
import Tensor

/// One finite-difference check per op (see ModelTestSupport/GradCheck.swift for the tolerance).
final class GradientTests: XCTestCase {
    func testBroadcastingArithmetic() {
        checkGradients("add", [randomTensor([2, 3, 4], seed: 1), randomTensor([3, 1], seed: 2)]) { $0[0] + $0[1] }
        checkGradients("sub", [randomTensor([2, 3, 4], seed: 3), randomTensor([4], seed: 4)]) { $0[0] - $0[1] }
        checkGradients("mul", [randomTensor([2, 1, 4], seed: 5), randomTensor([3, 1], seed: 6)]) { $0[0] * $0[1] }
        let denominator = randomTensor([2, 3], seed: 8, gap: 0.5)
        checkGradients("div", [randomTensor([2, 3], seed: 7), denominator]) { $0[0] / $0[1] }
        checkGradients("same-shape mul", [randomTensor([3, 5], seed: 9), randomTensor([3, 5], seed: 10)]) { $0[0] * $0[1] }
        checkGradients("affine", [randomTensor([4], seed: 11)]) { affine($0[0], scale: -2, shift: 3) }
    }

    func testMatmulAndLinear() {
        checkGradients("batched matmul", [randomTensor([2, 3, 4], seed: 1), randomTensor([2, 4, 5], seed: 2)]) { matmul($0[0], $0[1]) }
        checkGradients("shared matmul", [randomTensor([2, 3, 4], seed: 3), randomTensor([4, 5], seed: 4)]) { matmul($0[0], $0[1]) }
        checkGradients("linear", [randomTensor([2, 3, 4], seed: 5), randomTensor([5, 4], seed: 6), randomTensor([5], seed: 7)]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
    }

    func testReductionsAndShapes() {
        checkGradients("sum axis", [randomTensor([2, 3, 4], seed: 1)]) { $0[0].sum(axis: 1) }
        checkGradients("mean axis keepDims", [randomTensor([2, 3, 4], seed: 2)]) { $0[0].mean(axis: 0, keepDims: true) }
        checkGradients("sum all", [randomTensor([2, 3], seed: 3)]) { $0[0].sum() }
        checkGradients("mean all", [randomTensor([2, 3], seed: 4)]) { $0[0].mean() }
        checkGradients("reshape+permute", [randomTensor([2, 3, 4], seed: 5)]) { $0[0].reshaped([6, 4]).reshaped([2, 3, 4]).permuted([2, 0, 1]) }
        checkGradients("transpose", [randomTensor([3, 4], seed: 6)]) { $0[0].transposed(0, 1) }
        checkGradients("slice", [randomTensor([2, 4, 3], seed: 7)]) { $0[0].slice(axis: 1, 1..<3) }
        checkGradients("concat", [randomTensor([2, 2, 3], seed: 8), randomTensor([2, 1, 3], seed: 9)]) { concat($0, axis: 1) }
    }

    func testActivations() {
        checkGradients("relu", [randomTensor([3, 7], seed: 1, gap: 0.05)]) { relu($0[0]) }
        checkGradients("leakyRelu", [randomTensor([3, 7], seed: 2, gap: 0.05)]) { leakyRelu($0[0], slope: 0.2) }
        checkGradients("gelu", [randomTensor([3, 7], seed: 3)]) { gelu($0[0]) }
        checkGradients("sigmoid", [randomTensor([3, 7], seed: 4)]) { sigmoid($0[0]) }
        checkGradients("tanh", [randomTensor([3, 7], seed: 5)]) { tanh($0[0]) }
        checkGradients("exp", [randomTensor([3, 7], seed: 6)]) { exp($0[0]) }
        checkGradients("log", [affine(randomTensor([3, 7], seed: 7, scale: 0.3), scale: 1, shift: 2)]) { log($0[0]) }
        checkGradients("softmax", [randomTensor([3, 6], seed: 8)]) { softmax($0[0]) }
        checkGradients("logSoftmax", [randomTensor([3, 6], seed: 9)]) { logSoftmax($0[0]) }
        checkGradients("dropout", [randomTensor([4, 8], seed: 10)]) { $0[0].dropout(p: 0.3, key: 7) }
    }

    func testNorms() {
        checkGradients("layerNorm", [randomTensor([2, 3, 6], seed: 1), randomTensor([6], seed: 2), randomTensor([6], seed: 3)]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2])
        }
        for training in [true, false] {
            let mean = randomTensor([2], seed: 4, scale: 0.1), variance = affine(randomTensor([2], seed: 5, scale: 0.1), scale: 1, shift: 1)
            checkGradients("batchNorm2d training=\(training)",
                           [randomTensor([3, 2, 3, 3], seed: 6), randomTensor([2], seed: 7), randomTensor([2], seed: 8)]) {
                batchNorm2d($0[0], weight: $0[1], bias: $0[2], runningMean: mean, runningVar: variance, training: training)
            }
        }
    }

    func testAttention() {
        // qkv [B 2, T 5, 3·d 24], 2 heads; batch item 0 has its last key masked; band ±2; dropout.
        let mask = Tensor(shape: [2, 5], values: [1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
        checkGradients("attention", [randomTensor([2, 5, 24], seed: 1)]) {
            multiHeadAttention($0[0], heads: 2, keyMask: mask, band: 2, dropout: 0.2, dropoutKey: 5)
        }
        checkGradients("attention plain", [randomTensor([1, 4, 12], seed: 2)]) { multiHeadAttention($0[0], heads: 1) }
    }

    /// A data-parallel rank's share (samples r, r + 2 of a batch of 4) with its `BatchPositions`
    /// gets the dropout masks those samples get in the whole batch, in dropout and attention.
    func testDropoutMasksFollowTheSamplesPlaceInTheGlobalBatch() {
        func rows(_ t: Tensor, _ picked: [Int]) -> Tensor {
            let size = t.count / t.shape[0]
            return Tensor(shape: [picked.count] + t.shape.dropFirst(), values: picked.flatMap { t.values[($0 * size)..<(($0 + 1) * size)] })
        }
        let x = randomTensor([4, 3, 5], seed: 11), qkv = randomTensor([4, 5, 12], seed: 12)
        let whole = x.dropout(p: 0.5, key: 7)
        let attention = multiHeadAttention(qkv, heads: 2, dropout: 0.3, dropoutKey: 5)
        for rank in 0..<2 {
            let share = [rank, rank + 2], positions = BatchPositions(first: rank, stride: 2)
            XCTAssertEqual(rows(x, share).dropout(p: 0.5, key: 7, positions: positions).values, rows(whole, share).values)
            XCTAssertEqual(multiHeadAttention(rows(qkv, share), heads: 2, dropout: 0.3, dropoutKey: 5, dropoutPositions: positions).values,
                           rows(attention, share).values)
        }
        // Without its positions the second share draws the masks of samples 0 and 1.
        XCTAssertNotEqual(rows(x, [1, 3]).dropout(p: 0.5, key: 7).values, rows(whole, [1, 3]).values)
        checkGradients("dropout of a share", [randomTensor([2, 8], seed: 13)]) {
            $0[0].dropout(p: 0.3, key: 7, positions: BatchPositions(first: 1, stride: 2))
        }
        checkGradients("attention of a share", [randomTensor([2, 5, 24], seed: 14)]) {
            multiHeadAttention($0[0], heads: 2, dropout: 0.2, dropoutKey: 5, dropoutPositions: BatchPositions(first: 1, stride: 2))
        }
    }

    func testAttentionQueryWithNoAllowedKeyGivesZero() {
        // band 0: query i may only see key i; keys 1 and 3 are masked, so queries 1 and 3 see nothing.
        let mask = Tensor(shape: [1, 4], values: [1, 0, 1, 0])
        let y = multiHeadAttention(randomTensor([1, 4, 6], seed: 3), heads: 1, keyMask: mask, band: 0,
                                   dropout: 0.5, dropoutKey: 9)
        XCTAssertEqual(Array(y.values[2..<4]), [0, 0])
        XCTAssertEqual(Array(y.values[6..<8]), [0, 0])
        XCTAssertTrue(y.values.allSatisfy { $0.isFinite })
    }

    func testConvolutions() {
        checkGradients("conv2d", [randomTensor([2, 3, 6, 5], seed: 1), randomTensor([4, 3, 3, 3], seed: 2), randomTensor([4], seed: 3)]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
        checkGradients("upsampleConv3x3", [randomTensor([2, 3, 3, 4], seed: 4), randomTensor([5, 3, 3, 3], seed: 5)]) {
            upsampleConv3x3($0[0], weight: $0[1])
        }
    }

    /// Flows with fractional parts in 0.2…0.8 (no finite-difference probe crosses a pixel, where the
    /// bilinear weights have kinks), some large enough to clamp at the border (gradient 0 there).
    func testWarpGradients() {
        var rng = RandomGenerator(seed: 7)
        let flow = Tensor(shape: [2, 2, 4, 5], values: (0..<80).map { i in
            let whole = Float(rng.int(below: 7) - 3) * (i % 9 == 0 ? 3 : 1)
            return whole + 0.2 + 0.6 * rng.uniform()
        })
        checkGradients("warpBilinear", [randomTensor([2, 3, 4, 5], seed: 6), flow]) { warpBilinear($0[0], flow: $0[1]) }
    }

    /// A whole-pixel flow moves the image (sampling clamps at the border); a half-pixel flow averages neighbours.
    func testWarpByWholeAndHalfPixels() {
        let image = Tensor(shape: [1, 1, 2, 3], values: [0, 1, 2, 10, 11, 12])
        let right = Tensor(shape: [1, 2, 2, 3], values: [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])   // sample x + 1
        XCTAssertEqual(warpBilinear(image, flow: right).values, [1, 2, 2, 11, 12, 12])
        let down = Tensor(shape: [1, 2, 2, 3], values: [0, 0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(warpBilinear(image, flow: down).values, [5, 6, 7, 10, 11, 12])
    }

    /// The folded resize-convolution against its definition: upsample by repeating each pixel in a
    /// 2×2 block, then the 3×3 sum with zero padding, in Double; odd and unequal sides, N > 1.
    func testUpsampleConvMatchesNearestUpsamplingThenConvolution() {
        for (h, w) in [(3, 5), (1, 1), (4, 2)] {
            let (n, c, o) = (2, 3, 4)
            let x = randomTensor([n, c, h, w], seed: 1), weight = randomTensor([o, c, 3, 3], seed: 2)
            let y = upsampleConv3x3(x, weight: weight)
            XCTAssertEqual(y.shape, [n, o, 2 * h, 2 * w])
            let (xv, wv, yv) = (x.values, weight.values, y.values)
            var worst: Double = 0
            for b in 0..<n { for oo in 0..<o { for oy in 0..<(2 * h) { for ox in 0..<(2 * w) {
                var sum: Double = 0
                for cc in 0..<c { for ki in 0..<3 { for kj in 0..<3 {
                    let uy = oy - 1 + ki, ux = ox - 1 + kj      // in the upsampled image
                    guard uy >= 0 && uy < 2 * h && ux >= 0 && ux < 2 * w else { continue }
                    sum += Double(xv[((b * c + cc) * h + uy / 2) * w + ux / 2]) * Double(wv[((oo * c + cc) * 3 + ki) * 3 + kj])
                } } }
                worst = max(worst, abs(sum - Double(yv[((b * o + oo) * 2 * h + oy) * 2 * w + ox])))
            } } } }
            XCTAssertLessThan(worst, 1e-5, "upsampleConv3x3 \(h)×\(w)")
        }
    }

    /// conv2d against the defining sum, for geometries where windows hang over every edge
    /// (including kernel columns that never touch the image); the gradient checks use its adjoint.
    func testConv2dMatchesTheDefiningSum() {
        // The last two are large enough for the banded path (col per image > ConvGeometry.bandFloats).
        for (h, w, k, s, p) in [(7, 6, 3, 2, 1), (5, 9, 5, 3, 2), (4, 4, 2, 1, 0), (1, 3, 5, 1, 2), (6, 5, 4, 2, 3),
                                (75, 70, 3, 1, 1), (150, 139, 4, 2, 1)] {
            let x = randomTensor([2, 3, h, w], seed: 1), weight = randomTensor([4, 3, k, k], seed: 2)
            let y = conv2d(x, weight: weight, bias: nil, stride: s, padding: p)
            let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
            XCTAssertEqual(y.shape, [2, 4, ho, wo])
            let (xv, wv, yv) = (x.values, weight.values, y.values)
            var worst: Double = 0
            for n in 0..<2 { for o in 0..<4 { for oy in 0..<ho { for ox in 0..<wo {
                var sum: Double = 0
                for c in 0..<3 { for ki in 0..<k { for kj in 0..<k {
                    let iy = oy * s - p + ki, ix = ox * s - p + kj
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                    sum += Double(xv[((n * 3 + c) * h + iy) * w + ix]) * Double(wv[((o * 3 + c) * k + ki) * k + kj])
                } } }
                worst = max(worst, abs(sum - Double(yv[((n * 4 + o) * ho + oy) * wo + ox])))
            } } } }
            XCTAssertLessThan(worst, 1e-5, "conv2d \(h)×\(w) kernel \(k) stride \(s) padding \(p)")
        }
    }

    /// The banded conv2d's backward on a map too large for finite differences, by linearity: for
    /// L = Σ r ⊙ conv(x, W) + b, ⟨x, ∂L/∂x⟩ = ⟨W, ∂L/∂W⟩ = L − ⟨b, ∂L/∂b⟩ and ∂L/∂b_o = Σ r over channel o.
    /// Checked against the small-map path too: the same conv on a batch of one image each.
    func testBandedConvolutionBackwardIsTheAdjoint() {
        let x = randomTensor([2, 5, 80, 75], seed: 1), weight = randomTensor([6, 5, 3, 3], seed: 2), bias = randomTensor([6], seed: 3)
        for t in [x, weight, bias] { t.requiresGrad = true }
        let r = randomTensor([2, 6, 80, 75], seed: 4)
        let loss = (conv2d(x, weight: weight, bias: bias, padding: 1) * r).sum()
        loss.backward()
        func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        let l = Double(loss.item), biasPart = dot(bias.values, bias.gradValues!)
        XCTAssertEqual(dot(x.values, x.gradValues!), l - biasPart, accuracy: 1e-3 * abs(l))
        XCTAssertEqual(dot(weight.values, weight.gradValues!), l - biasPart, accuracy: 1e-3 * abs(l))
        let rv = r.values
        for o in 0..<6 {
            var sum: Double = 0
            for n in 0..<2 { let start = (n * 6 + o) * 6000; for k in start..<(start + 6000) { sum += Double(rv[k]) } }
            XCTAssertEqual(Double(bias.gradValues![o]), sum, accuracy: 1e-2)
        }
        // One image per call (n = 1, fewer than the engine's 2 threads) takes the batched path: same gradients.
        let single = (0..<2).map { n -> (Tensor, [Float]) in
            let xn = x.slice(axis: 0, n..<(n + 1)).detached(), w = weight.detached()
            xn.requiresGrad = true; w.requiresGrad = true
            (conv2d(xn, weight: w, bias: nil, padding: 1) * r.slice(axis: 0, n..<(n + 1)).detached()).sum().backward()
            return (xn, w.gradValues!)
        }
        let dxSingle = single.flatMap { $0.0.gradValues! }
        XCTAssertLessThan(zip(dxSingle, x.gradValues!).map { abs($0 - $1) }.max()!, 1e-4)
        let dwSingle = zip(single[0].1, single[1].1).map { $0 + $1 }
        XCTAssertLessThan(zip(dwSingle, weight.gradValues!).map { abs($0 - $1) / max(1, abs($1)) }.max()!, 1e-4)
    }

    /// GELU against the erf formula in Double, over the range where its tails and the fast exp's
    /// clamping matter (tolerance: A&S 7.1.26's erf error 1.5e-7 gives |Δy| ≤ 0.75e-7·|x|, plus
    /// float rounding); and sums long enough to take the vector, block and tail paths.
    func testGeluAndLongSumsMatchDoublePrecision() {
        let xs = (0..<4001).map { Float($0 - 2000) / 100 }   // −20 … 20
        let y = gelu(Tensor(shape: [xs.count], values: xs)).values
        for (x, v) in zip(xs, y) {
            let exact = Double(x) * 0.5 * (1 + erf(Double(x) / 2.0.squareRoot()))
            XCTAssertEqual(Double(v), exact, accuracy: 1e-7 * (1 + abs(Double(x))) + 1e-7 * abs(exact), "gelu(\(x))")
        }
        let long = randomTensor([100_003], seed: 5)
        let exactSum = long.values.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(Double(long.sum().item), exactSum, accuracy: 1e-3)
        let exactSquares = long.values.reduce(0.0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(long.withUnsafeBufferPointer(sumOfSquares), exactSquares,
                       accuracy: 1e-6 * exactSquares)
    }

    func testLosses() {
        checkGradients("mse", [randomTensor([3, 4], seed: 1), randomTensor([3, 4], seed: 2)]) { mseLoss($0[0], $0[1]) }
        let a = randomTensor([3, 4], seed: 3), b = a.detached()
        b.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] += i % 2 == 0 ? 0.3 : -0.4 } }   // keep |a − b| away from the kink
        checkGradients("l1", [a, b]) { l1Loss($0[0], $0[1]) }
        let mask = Tensor(shape: [2, 3], values: [1, 0, 1, 1, 1, 0])
        checkGradients("maskedMSE", [randomTensor([2, 3, 4], seed: 4), randomTensor([2, 3, 4], seed: 5)]) {
            maskedMSELoss($0[0], $0[1], mask: mask)
        }
        checkGradients("bceWithLogits", [randomTensor([3, 4], seed: 6), sigmoid(randomTensor([3, 4], seed: 7)).detached()]) {
            bceWithLogitsLoss($0[0], $0[1])
        }
        checkGradients("cosine", [randomTensor([3, 5], seed: 8), randomTensor([3, 5], seed: 9)]) { cosineSimilarity($0[0], $0[1]) }
        checkGradients("crossEntropy", [randomTensor([4, 5], seed: 10)]) { crossEntropyLoss($0[0], labels: [0, 4, 2, 2]) }
    }
}
