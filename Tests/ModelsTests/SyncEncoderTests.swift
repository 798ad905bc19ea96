import Foundation
import ModelTestSupport
import Models
import NN
import Tensor
import TestSupport
import XCTest

/// Central finite difference of `f` against the analytic gradient of `x`, on a few elements.
func checkGradient(_ x: Tensor, indices: [Int], eps: Float = 1e-2, tolerance: Float = 2e-2,
                   file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor) {
    x.zeroGrad()
    f().backward()
    let analytic = x.gradValues ?? [Float](repeating: 0, count: x.count)
    for i in indices {
        let saved = x.values[i]
        x.withUnsafeMutableBufferPointer { $0[i] = saved + eps }
        let up = withoutGrad { f().item }
        x.withUnsafeMutableBufferPointer { $0[i] = saved - eps }
        let down = withoutGrad { f().item }
        x.withUnsafeMutableBufferPointer { $0[i] = saved }
        let numeric = (up - down) / (2 * eps)
        XCTAssertEqual(analytic[i], numeric, accuracy: tolerance * max(1, abs(numeric)),
                       "d/dx[\(i)]", file: file, line: line)
    }
}

final class SyncEncoderTests: XCTestCase {
    func testL2NormalizedGradient() {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor(randomNormal: [3, 7], rng: &rng)
        x.requiresGrad = true
        let w = Tensor(randomNormal: [3, 7], rng: &rng)
        checkGradient(x, indices: Array(0..<21), eps: 1e-3) { (l2Normalized(x) * w).sum() }
        let y = l2Normalized(x).values
        for r in 0..<3 {
            XCTAssertEqual(y[(r * 7)..<((r + 1) * 7)].reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        }
    }

    func testMatchingLossGradient() {
        var rng = RandomGenerator(seed: 4)
        // 2 clips × 3 windows, ±2 offsets, 6-d embeddings (unit rows, as the encoder gives)
        let video = l2Normalized(Tensor(randomNormal: [6, 6], rng: &rng)).detached()
        let audio = l2Normalized(Tensor(randomNormal: [2, 7, 6], rng: &rng)).detached()
        video.requiresGrad = true
        audio.requiresGrad = true
        checkGradient(video, indices: Array(0..<36), eps: 1e-3) {
            syncMatchingLoss(video: video, audio: audio, offsets: 2, temperature: 0.5).loss
        }
        checkGradient(audio, indices: Array(0..<84), eps: 1e-3) {
            syncMatchingLoss(video: video, audio: audio, offsets: 2, temperature: 0.5).loss
        }
        // Matching the true offset exactly gives a lower loss than a shuffled audio track.
        let matched = Tensor(shape: [2, 7, 6], values: (0..<84).map { Float(($0 / 6) % 7 == (($0 % 6) + 2) % 7 ? 1 : 0) })
        let v = matched.slice(axis: 1, 2..<5).reshaped([6, 6])
        let (loss, logits, target) = syncMatchingLoss(video: v, audio: matched, offsets: 2, temperature: 0.1)
        XCTAssertEqual(logits.shape, [6, 5])
        XCTAssertEqual(target, 2)
        XCTAssertLessThan(loss.item, 0.01)
    }

    /// Leaving out offsets ±1 keeps exactly the logit columns of offsets −2, 0, +2 of the full
    /// loss, with the target in the middle; its gradient checks out.
    func testMatchingLossWithoutNearOffsets() {
        var rng = RandomGenerator(seed: 5)
        let video = l2Normalized(Tensor(randomNormal: [6, 6], rng: &rng)).detached()
        let audio = l2Normalized(Tensor(randomNormal: [2, 7, 6], rng: &rng)).detached()
        let full = syncMatchingLoss(video: video, audio: audio, offsets: 2, temperature: 0.5).logits.values
        let (_, logits, target) = syncMatchingLoss(video: video, audio: audio, offsets: 2, temperature: 0.5, excludingNear: 1)
        XCTAssertEqual(logits.shape, [6, 3])
        XCTAssertEqual(target, 1)
        for n in 0..<6 { XCTAssertEqual(Array(logits.values[(3 * n)..<(3 * n + 3)]), [full[5 * n], full[5 * n + 2], full[5 * n + 4]]) }
        video.requiresGrad = true
        audio.requiresGrad = true
        checkGradient(audio, indices: Array(0..<84), eps: 1e-3) {
            syncMatchingLoss(video: video, audio: audio, offsets: 2, temperature: 0.5, excludingNear: 1).loss
        }
    }

    /// Forward (train mode), matching loss, gradients of every parameter and of both inputs, and
    /// the BN running statistics, against the PyTorch reference given the same weights.
    func testEncoderAndLossMatchPyTorch() throws {
        let scratch = ScratchDir("sync-golden")
        var rng = RandomGenerator(seed: 11)
        let config = tinySyncEncoderConfig()
        let model = SyncEncoder(config, rng: &rng)
        let (clips, windows, m) = (2, 2, 1)
        let visual = Tensor(randomUniform: [clips * windows] + SyncEncoder.visualShape, bound: 1, rng: &rng)
        let audio = Tensor(randomNormal: [clips * (windows + 2 * m)] + SyncEncoder.audioShape, std: 2, rng: &rng)
        visual.requiresGrad = true
        audio.requiresGrad = true
        let inPath = scratch.path("in.safetensors"), outPath = scratch.path("out.safetensors")
        try Safetensors.write(model.stateDict + [("input.visual", visual), ("input.audio", audio)], to: inPath)

        let ctx = Context(training: true)
        let v = model.embedVisual(visual, ctx)
        let a = model.embedAudio(audio, ctx)
        let (loss, logits, _) = syncMatchingLoss(video: v, audio: a.reshaped([clips, windows + 2 * m, config.outputDim]),
                                              offsets: m, temperature: 0.1)
        let embeddings = (v.values, a.values)
        loss.backward()

        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try runPython("Tests/ModelsTests/golden/sync_golden.py",
                      [inPath, outPath, "{\"model\": \(json), \"clips\": \(clips), \"maxOffset\": \(m), \"temperature\": 0.1}"])
        let ref = try Safetensors.read(outPath).tensors
        func close(_ ours: [Float], _ name: String, tolerance: Float = 2e-4) {
            guard let theirs = ref[name]?.values else { return XCTFail("reference has no \(name)") }
            XCTAssertEqual(ours.count, theirs.count, name)
            let scale = max(theirs.map(abs).max() ?? 0, 1e-6)
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst / scale, tolerance, "\(name): max difference \(worst) (scale \(scale))")
        }
        close(embeddings.0, "video")
        close(embeddings.1, "audio")
        close(logits.values, "logits")
        close([loss.item], "loss")
        close(visual.gradValues!, "grad.input.visual", tolerance: 1e-3)
        close(audio.gradValues!, "grad.input.audio", tolerance: 1e-3)
        for (name, p) in model.parameters { close(p.gradValues ?? [], "grad.\(name)", tolerance: 1e-3) }
        for (name, b) in model.buffers { close(b.values, "buffer.\(name)") }
    }

    func testWindowInputsRepeatEdgesAndTakeTheLowerHalf() {
        // 3 frames whose pixel (y, x, c) = frame index·50 + (y ≥ 64 ? 10 : 0) + c
        let frameBytes = 128 * 128 * 3
        var frames = [UInt8](repeating: 0, count: 3 * frameBytes)
        for f in 0..<3 { for y in 0..<128 { for x in 0..<128 { for c in 0..<3 {
            frames[f * frameBytes + (y * 128 + x) * 3 + c] = UInt8(f * 50 + (y >= 64 ? 10 : 0) + c)
        } } } }
        let v = frames.withUnsafeBufferPointer { SyncEncoder.visualInput(frames: $0, centres: [0, 2]) }
        XCTAssertEqual(v.shape, [2, 15, 64, 128])
        let plane = 64 * 128
        // window 0 (centre 0): frames 0, 0, 0, 1, 2; window 1 (centre 2): 0, 1, 2, 2, 2
        for (w, expected) in [[0, 0, 0, 1, 2], [0, 1, 2, 2, 2]].enumerated() {
            for (k, f) in expected.enumerated() { for c in 0..<3 {
                XCTAssertEqual(v.values[(w * 15 + 3 * k + c) * plane + 77], Float(f * 50 + 10 + c) / 255, accuracy: 1e-6)
            } }
        }
        let mel = (0..<(4 * 320)).map { Float($0) }   // unit u, bin b, sub j = u·320 + 4b + j
        let a = mel.withUnsafeBufferPointer { SyncEncoder.audioInput(mel: $0, centres: [3]) }
        XCTAssertEqual(a.shape, [1, 1, 80, 20])
        // units 1, 2, 3, 3, 3 side by side: bin 5, column 4k + j
        for (k, u) in [1, 2, 3, 3, 3].enumerated() { for j in 0..<4 {
            XCTAssertEqual(a.values[5 * 20 + 4 * k + j], Float(u * 320 + 4 * 5 + j))
        } }
    }
}
